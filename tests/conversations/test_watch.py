"""The chat-archive watch: a guide's message with a brand sensitive word raises one alert, told once to the
guide's store manager over WeCom; complaints from customers are alerts too; ordinary chat raises nothing; and
re-delivered events or re-fetched archives never raise a second alert."""

from siyu.content import compliance, services as content_services
from siyu.content.models import SensitiveWord
from siyu.conversations import watch
from siyu.conversations.models import ChatAlert
from siyu.wecom.archive import fetch_archive
from siyu.wecom.models import ArchiveCursor
from tests.factories import drain


def archive_and_react(watched) -> None:
    with watched.capture(execute=True):
        fetch_archive(watched.org)
    drain()


def alerts(org):
    return list(ChatAlert.objects.for_org(org).select_related("message").order_by("pk"))


def test_a_guide_using_a_brand_sensitive_word_raises_one_alert_to_their_store_manager(world, watched):
    content_services.add_word(world.org, word="某某家", category=SensitiveWord.Category.COMPETITOR,
                              severity="block", note="", by=world.admin)
    watched.sim.chat(watched.first, "别去某某家买，他们的货不好", userid="zhangsan", from_staff=True)
    watched.sim.chat(watched.first, "好的，谢谢", userid="zhangsan")

    archive_and_react(watched)

    [alert] = alerts(world.org)
    assert (alert.kind, alert.staff, alert.store, alert.customer.external_userid) == (
        ChatAlert.Kind.STAFF, watched.guide, world.e1, watched.first)
    assert alert.rules == [compliance.SENSITIVE_WORD]
    [finding] = alert.findings
    assert alert.message.text[finding["start"]:finding["end"]] == "某某家"
    told = watched.sim.messages("wangdian")
    assert len(told) == 1 and alert.notified == ["wangdian"]
    assert "某某家" in str(told[0]) and "张三" in str(told[0])
    assert watched.sim.messages("zhangsan") == []  # the guide is not told about themselves

    # The same messages again (a replayed archive, re-run reactions): still one alert, one notification.
    ArchiveCursor.objects.for_org(world.org).update(seq=0)
    archive_and_react(watched)
    assert watch.raise_alert(alert.message) == alert
    drain()
    assert len(alerts(world.org)) == 1 and len(watched.sim.messages("wangdian")) == 1


def test_a_customer_complaint_and_a_guide_asking_for_an_id_number_are_alerts(world, watched):
    watched.sim.chat(watched.first, "东西坏了没人管，我要打12315投诉", userid="zhangsan")
    watched.sim.chat(watched.first, "您好，麻烦发一下身份证号码，我帮您登记", userid="zhangsan", from_staff=True)
    watched.sim.chat(watched.first, "最近新到的香薰很好闻，第一次买可以试试小样", userid="zhangsan", from_staff=True)

    archive_and_react(watched)

    complaint, ask = alerts(world.org)
    assert (complaint.kind, complaint.rules) == (ChatAlert.Kind.COMPLAINT, [compliance.COMPLAINT])
    assert {complaint.message.text[f["start"]:f["end"]] for f in complaint.findings} == {"12315", "投诉"}
    assert (ask.kind, ask.rules) == (ChatAlert.Kind.STAFF, [compliance.PRIVACY_ASK])
    assert len(watched.sim.messages("wangdian")) == 2


def test_no_store_manager_in_wecom_leaves_the_alert_in_the_console(world, watched):
    watched.manager.delete()
    watched.sim.chat(watched.first, "这个理财产品保本保收益", userid="zhangsan", from_staff=True)

    archive_and_react(watched)

    [alert] = alerts(world.org)
    assert alert.rules == [compliance.FINANCIAL_CLAIM] and alert.notified == []
    assert alert.status == ChatAlert.Status.DONE and watched.sim.messages() == []
