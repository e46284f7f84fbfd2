"""Unsubscribing by chat: a customer replying 退订 (or TD, 不要再发 …) to a guide, as the archive feed delivers it,
withdraws marketing consent once; a longer message about something else, a staff message and a group message do
not."""

from __future__ import annotations

import datetime as dt

import pytest

from siyu.core.events import EventDelivery
from siyu.customers.models import Customer
from siyu.privacy.consent import consenting, grant_consent
from siyu.privacy.models import ConsentRecord
from siyu.privacy.stopwords import is_stop_word
from siyu.wecom.archive import fetch_archive
from siyu.wecom.models import ChatMessage
from tests.factories import drain
from tests.wecom.test_archive import chats  # noqa: F401  (an organization chatting through a simulator)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("text", ["退订", "TD", "td", "Ｔｄ", " 退订。", "退订！！", "不要再发了", "请不要再发了，谢谢",
                                  "取消订阅", "T", "退订谢谢", "别再发了🙏"])
def test_stop_words_alone_or_with_courtesy(text):
    assert is_stop_word(text)


@pytest.mark.parametrize("text", ["退订的那件衣服什么时候退款？", "TD 是什么意思", "我想问下怎么退订会员卡里的自动续费",
                                  "好的", "谢谢", "不需要了", "", "。。。", "tdd", "不要再发这个颜色了，换个蓝色的"])
def test_a_message_that_mentions_a_stop_word_is_not_one(text):
    assert not is_stop_word(text)


def feed(chats, capture) -> None:
    """The archive is fetched as the periodic task does, then its message.archived reactions run."""
    with capture(execute=True):
        fetch_archive(chats.org)
    drain()


def test_replying_tuiding_to_a_guide_removes_the_customer_from_marketing(chats, django_capture_on_commit_callbacks):
    org, sim = chats.org, chats.sim
    first = Customer.objects.for_org(org).get(external_userid=chats.first)
    second = Customer.objects.for_org(org).get(external_userid=chats.second)
    # Consent given before the chat, on the simulator's clock (the archive dates messages by it).
    before = dt.datetime.fromtimestamp(sim.clock.now() - 60, dt.UTC)
    for customer in (first, second):
        grant_consent(customer, "marketing", by=None, source="h5", at=before)
        grant_consent(customer, "profiling", by=None, source="h5", at=before)
    both = [first.pk, second.pk]
    assert consenting(org, both, "marketing") == {first.pk, second.pk}

    sim.advance(5)
    sim.chat(chats.second, "退订的那件衣服什么时候退款？", userid="zhangsan")  # a question, not a withdrawal
    sim.chat(chats.second, "退订", chat_id=chats.group)  # said in a group: not addressed to the guide
    sim.chat(chats.first, "退订", userid="zhangsan", from_staff=True)  # the guide typing it means nothing
    feed(chats, django_capture_on_commit_callbacks)
    assert consenting(org, both, "marketing") == {first.pk, second.pk}

    sim.advance(5)
    said = sim.chat(chats.first, "退订！", userid="zhangsan")
    feed(chats, django_capture_on_commit_callbacks)
    assert consenting(org, both, "marketing") == {second.pk}
    assert consenting(org, both, "profiling") == {first.pk, second.pk}  # only marketing is withdrawn
    record = ConsentRecord.objects.for_org(org).get(source="chat_stopword")
    assert (record.customer, record.purpose, record.granted) == (first, "marketing", False)
    assert record.evidence["message_id"] == said["msgid"]
    assert record.at == ChatMessage.objects.for_org(org).get(msgid=said["msgid"]).sent_at


def test_a_redelivered_event_withdraws_once(chats, django_capture_on_commit_callbacks):
    org, sim = chats.org, chats.sim
    sim.chat(chats.first, "TD", userid="zhangsan")
    feed(chats, django_capture_on_commit_callbacks)
    assert ConsentRecord.objects.for_org(org).filter(source="chat_stopword").count() == 1
    # The dispatcher runs a delivery at least once: run this one again, as a retry after a crash would.
    delivery = EventDelivery.objects.get(subscriber="privacy.chat_stop_words")
    delivery.perform()
    assert ConsentRecord.objects.for_org(org).filter(source="chat_stopword").count() == 1
