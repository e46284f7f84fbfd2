"""Corp tag groups and tags kept in step with WeCom (the simulator over HTTP), WeCom's limits, protected labels,
personal tags, and tags on customers through the console and the simulator."""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from siyu.customers import tags as tag_services
from siyu.customers.models import ProtectedLabel, Relation, RelationTag, Tag, TagGroup, TimelineEvent
from siyu.customers.services import apply_follow_info, upsert_customer
from siyu.orgs.models import AuditEntry, Staff
from siyu.orgs.staff import upsert_staff
from siyu.wecom.client import WeComClient
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import ApiCall, WeComConnection
from siyu.wecom.receiver import forget_cryptor
from siyu.wecom.simulator import SimClock, Simulator, run_in_thread
from tests.factories import client_for

CORP_ID = "ww5c0ffee5c0ffee51"
SECRET = "customers-test-secret"
AGENT_ID = "1000002"
_n = itertools.count(1)


class Corp:
    """An organization connected to a simulator served on a loopback port; callbacks go nowhere (the tests
    mirror what they need), so only what Siyu does through the API reaches Siyu's rows."""

    def __init__(self, org):
        self.org = org
        self.sim = Simulator(CORP_ID, SECRET, AGENT_ID, generate_token(), generate_encoding_aes_key(),
                             clock=SimClock(frozen=True), deliver=lambda url, params, body: 200)
        base, self.stop = run_in_thread(self.sim)
        WeComConnection.objects.create(
            org=org, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, callback_token="tok",
            encoding_aes_key=generate_encoding_aes_key(), api_base=f"{base}/cgi-bin/",
        )
        forget_cryptor(org.slug)

    def staff(self, userid: str, store=None, membership=None) -> Staff:
        staff = upsert_staff(self.org, self.sim.add_staff(userid, f"员工{userid}"))
        staff.store, staff.membership, staff.is_customer_contact = store, membership, True
        staff.save(update_fields=["store", "membership", "is_customer_contact"])
        return staff

    def customer(self, staff: Staff, name: str | None = None):
        """A customer adds ``staff`` in WeCom; Siyu mirrors the relation from WeCom's answer."""
        ext = self.sim.add_customer(staff.userid, name=name or f"客户{next(_n)}")["external_userid"]
        with WeComClient.for_org(self.org) as client:
            page = client.get("externalcontact/get", external_userid=ext)
        customer = upsert_customer(self.org, page["external_contact"])
        for info in page["follow_user"]:
            apply_follow_info(self.org, customer, info, adding=True)
        return customer

    def wecom_tags(self, *, live: bool = True) -> dict[str, str]:
        """WeCom's tag names by id."""
        return {t.id: t.name for t in self.sim.state.tags.values() if not (live and t.deleted)}

    def wecom_groups(self) -> dict[str, str]:
        return {g.group_id: g.group_name for g in self.sim.state.tag_groups.values() if not g.deleted}

    def calls(self, endpoint: str) -> int:
        return ApiCall.objects.for_org(self.org).filter(endpoint=endpoint).count()


@pytest.fixture
def corp(world, settings):
    settings.WECOM_BACKOFF_BASE = 0.001
    settings.WECOM_BACKOFF_MAX = 0.01
    corp = Corp(world.org)
    yield corp
    corp.stop()
    corp.sim.close()


def field_errors(error: ValidationError) -> dict[str, list[str]]:
    return error.message_dict


# -- creating, refused before WeCom -------------------------------------------------------------------------
def test_create_group_goes_to_wecom_and_mirrors_its_answer(corp, world):
    group = tag_services.create_tag_group(world.org, name="会员等级", tags=["金卡", "银卡", "普通"], by=world.admin.user)
    assert group.wecom_id in corp.wecom_groups() and corp.wecom_groups()[group.wecom_id] == "会员等级"
    tags = list(Tag.objects.for_org(world.org).filter(group=group))
    assert [t.name for t in tags] == ["金卡", "银卡", "普通"]  # the order given is the order shown (larger first)
    assert {t.wecom_id: t.name for t in tags} == {k: v for k, v in corp.wecom_tags().items()}
    assert AuditEntry.objects.for_org(world.org).get(action="tags.group_created").details["tags"] == ["金卡", "银卡", "普通"]


@pytest.mark.parametrize("name, message", [
    ("超" * 31, "最多 30 个字"),
    ("", "请输入"),
])
def test_group_name_too_long_or_empty_is_refused_before_wecom(corp, world, name, message):
    with pytest.raises(ValidationError) as caught:
        tag_services.create_tag_group(world.org, name=name, tags=["a"], by=world.admin.user)
    assert message in " ".join(field_errors(caught.value)["name"])
    assert corp.calls("externalcontact/add_corp_tag") == 0 and not TagGroup.objects.for_org(world.org).exists()


def test_tag_name_too_long_is_refused_with_a_clear_error_and_nothing_changes(corp, world):
    long_name = "一二三四五六七八九十" * 3 + "多"
    with pytest.raises(ValidationError) as caught:
        tag_services.create_tag_group(world.org, name="兴趣", tags=["茶", long_name], by=world.admin.user)
    (message,) = field_errors(caught.value)["tags"]
    assert "最多 30 个字（企业微信的限制）" in message and "31 个字" in message
    assert corp.calls("externalcontact/add_corp_tag") == 0 and corp.wecom_tags() == {}
    assert not Tag.objects.for_org(world.org).exists()
    # Exactly 30 characters is fine.
    group = tag_services.create_tag_group(world.org, name="兴趣", tags=[long_name[:30]], by=world.admin.user)
    assert Tag.objects.for_org(world.org).get(group=group).name == long_name[:30]


def test_duplicate_tag_in_the_group_is_refused_before_wecom(corp, world):
    group = tag_services.create_tag_group(world.org, name="口味", tags=["少糖"], by=world.admin.user)
    calls = corp.calls("externalcontact/add_corp_tag")
    with pytest.raises(ValidationError) as caught:
        tag_services.add_tags(group, ["无糖", "少糖"], by=world.admin.user)
    assert field_errors(caught.value)["name"] == ["已有名为“少糖”的标签，请换一个名称。"]
    with pytest.raises(ValidationError) as caught:
        tag_services.add_tags(group, ["无糖", "无糖"], by=world.admin.user)
    assert "重复" in field_errors(caught.value)["name"][0]
    assert corp.calls("externalcontact/add_corp_tag") == calls
    # The same name in another group is fine (WeCom's rule is per group).
    other = tag_services.create_tag_group(world.org, name="甜度", tags=["少糖"], by=world.admin.user)
    assert Tag.objects.for_org(world.org).filter(name="少糖").count() == 2 and other.wecom_id


def test_duplicate_group_name_is_refused(corp, world):
    tag_services.create_tag_group(world.org, name="口味", tags=["少糖"], by=world.admin.user)
    with pytest.raises(ValidationError) as caught:
        tag_services.create_tag_group(world.org, name="口味", tags=["无糖"], by=world.admin.user)
    assert field_errors(caught.value)["name"] == ["已有名为“口味”的标签组，请换一个名称。"]


@pytest.mark.parametrize("name", ["容易被误导", "老人容易 被误导！", "ＶＩＰ好骗客户", "冲动消费型", "疑似老年痴呆"])
def test_protected_labels_are_refused_with_the_explanation(corp, world, name):
    with pytest.raises(ValidationError) as caught:
        tag_services.create_tag_group(world.org, name="画像", tags=[name], by=world.admin.user)
    (message,) = field_errors(caught.value)["tags"]
    assert "受保护词" in message and "不能用作标签" in message and "315" in message
    assert corp.calls("externalcontact/add_corp_tag") == 0
    with pytest.raises(ValidationError):
        tag_services.create_tag_group(world.org, name=name, tags=["普通"], by=world.admin.user)


def test_full_corp_is_refused_before_wecom(corp, world, monkeypatch):
    monkeypatch.setattr(tag_services, "MAX_CORP_TAGS", 4)
    group = tag_services.create_tag_group(world.org, name="等级", tags=["一", "二", "三"], by=world.admin.user)
    calls = corp.calls("externalcontact/add_corp_tag")
    with pytest.raises(ValidationError) as caught:
        tag_services.add_tags(group, ["四", "五"], by=world.admin.user)
    (message,) = field_errors(caught.value)["name"]
    assert "上限" in message and "最多 4 个" in message and "现有 3 个" in message
    assert corp.calls("externalcontact/add_corp_tag") == calls
    tag_services.add_tags(group, ["四"], by=world.admin.user)
    with pytest.raises(ValidationError):
        tag_services.create_tag_group(world.org, name="新组", tags=["x"], by=world.admin.user)


def test_wecom_refusals_become_field_errors(corp, world):
    group = tag_services.create_tag_group(world.org, name="等级", tags=["一"], by=world.admin.user)
    # Someone added "二" in WeCom's admin console; its callback has not arrived: WeCom's 40071 says so.
    corp.sim.admin_add_tags(["二"], group_id=group.wecom_id)
    with pytest.raises(ValidationError) as caught:
        tag_services.add_tags(group, ["二"], by=world.admin.user)
    assert "企业微信中已有同名标签" in field_errors(caught.value)["name"][0]
    # WeCom's own count is full (other apps' tags, strategy tags): its 40126 is the limit message.
    corp.sim.set_limits(max_corp_tags=2)
    with pytest.raises(ValidationError) as caught:
        tag_services.add_tags(group, ["三"], by=world.admin.user)
    assert "上限" in field_errors(caught.value)["name"][0]
    assert not Tag.objects.for_org(world.org).filter(name__in=["二", "三"]).exists()


def test_not_connected_is_a_clear_error(world):
    with pytest.raises(ValidationError) as caught:
        tag_services.create_tag_group(world.org, name="等级", tags=["一"], by=world.admin.user)
    assert "尚未连接企业微信" in caught.value.messages[0]


# -- rename, delete, reorder, pull ---------------------------------------------------------------------------
def test_rename_delete_and_reorder_reach_wecom(corp, world):
    group = tag_services.create_tag_group(world.org, name="等级", tags=["一", "二", "三"], by=world.admin.user)
    one, two, three = Tag.objects.for_org(world.org).filter(group=group)
    tag_services.rename_tag(two, "贰", by=world.admin.user)
    assert corp.wecom_tags()[two.wecom_id] == "贰"
    with pytest.raises(ValidationError):
        tag_services.rename_tag(two, "一", by=world.admin.user)  # duplicate
    with pytest.raises(ValidationError):
        tag_services.rename_tag(two, "好骗", by=world.admin.user)  # protected
    tag_services.rename_tag_group(group, "会员等级", by=world.admin.user)
    assert corp.wecom_groups()[group.wecom_id] == "会员等级"

    tag_services.move_tag(three, "up", by=world.admin.user)
    wecom_order = sorted((t for t in corp.sim.state.tags.values() if not t.deleted), key=lambda t: -t.order)
    assert [t.name for t in wecom_order] == ["一", "三", "贰"]
    assert list(Tag.objects.for_org(world.org).filter(group=group).values_list("name", flat=True)) == ["一", "三", "贰"]

    customer = corp.customer(corp.staff("zhang", world.e1, world.guide_e1))
    tag_services.tag_customer_as(world.guide_e1, customer, [one])
    assert tag_services.delete_tag(one, by=world.admin.user) == 1
    assert one.wecom_id not in corp.wecom_tags() and not RelationTag.objects.for_org(world.org).filter(tag=one).exists()
    affected = tag_services.delete_tag_group(group, by=world.admin.user)
    assert affected == 0 and corp.wecom_groups() == {}
    assert not Tag.objects.for_org(world.org).filter(deleted=False).exists()
    assert set(AuditEntry.objects.for_org(world.org).values_list("action", flat=True)) >= {
        "tags.renamed", "tags.group_renamed", "tags.reordered", "tags.deleted", "tags.group_deleted"}


def test_deleting_the_last_tag_deletes_the_group_as_wecom_does(corp, world):
    group = tag_services.create_tag_group(world.org, name="临时", tags=["唯一"], by=world.admin.user)
    tag_services.delete_tag(Tag.objects.for_org(world.org).get(group=group), by=world.admin.user)
    group.refresh_from_db()
    assert group.deleted and corp.wecom_groups() == {}


def test_pull_mirrors_wecom_and_pushes_local_only_tags(corp, world):
    corp.sim.admin_add_tags(["高", "中"], group_name="意向")
    gone = tag_services.create_tag_group(world.org, name="旧组", tags=["旧"], by=world.admin.user)
    corp.sim.admin_delete_tags(group_ids=[gone.wecom_id])
    tag_services.ensure_local_group(world.org, "会员等级", ["金卡", "银卡"])  # made before WeCom was connected
    tag_services.ensure_local_group(world.org, "意向", ["低"])  # a group WeCom already has, by name
    result = tag_services.pull_corp_tags(world.org, by=world.admin.user)
    live = Tag.objects.for_org(world.org).filter(deleted=False)
    assert sorted(live.values_list("name", flat=True)) == ["中", "低", "金卡", "银卡", "高"]
    assert not live.filter(wecom_id="").exists()
    assert sorted(corp.wecom_tags().values()) == ["中", "低", "金卡", "银卡", "高"]
    assert TagGroup.objects.for_org(world.org).filter(name="意向", deleted=False).count() == 1
    assert TagGroup.objects.for_org(world.org).get(pk=gone.pk).deleted
    assert result["tags"] == 5
    # Idempotent: a second pull creates nothing.
    calls = corp.calls("externalcontact/add_corp_tag")
    tag_services.pull_corp_tags(world.org)
    assert corp.calls("externalcontact/add_corp_tag") == calls


# -- tags on customers --------------------------------------------------------------------------------------
def test_tagging_a_customer_marks_the_tag_in_wecom_with_source_and_timeline(corp, world):
    guide_staff = corp.staff("zhang", world.e1, world.guide_e1)
    other_staff = corp.staff("li", world.s1)
    customer = corp.customer(guide_staff)
    group = tag_services.create_tag_group(world.org, name="意向", tags=["高", "低"], by=world.admin.user)
    high = Tag.objects.for_org(world.org).get(group=group, name="高")
    assert tag_services.tag_customer_as(world.guide_e1, customer, [high]) == 1
    relation = Relation.objects.for_org(world.org).get(customer=customer, staff=guide_staff)
    assert corp.sim.state.relation("zhang", customer.external_userid).tag_ids == [high.wecom_id]
    link = RelationTag.objects.for_org(world.org).get(relation=relation, tag=high)
    assert link.source == RelationTag.Source.MANUAL
    event = TimelineEvent.objects.for_org(world.org).get(customer=customer, kind="tagged")
    assert event.data["tag"] == "高" and event.actor == world.guide_e1.user
    # A guide cannot tag a customer through someone else's friendship.
    stranger = corp.customer(other_staff)
    with pytest.raises(ValidationError):
        tag_services.tag_customer_as(world.guide_e1, stranger, [high])
    assert tag_services.untag_customer_as(world.guide_e1, customer, [high]) == 1
    assert corp.sim.state.relation("zhang", customer.external_userid).tag_ids == []


def test_personal_tags_belong_to_their_owner(corp, world):
    mine = corp.staff("zhang", world.e1, world.guide_e1)
    theirs = corp.staff("wang", world.e2, world.guide_e2)
    tag = tag_services.create_personal_tag(mine, "周末常来", by=world.guide_e1.user)
    assert tag.kind == Tag.Kind.PERSONAL and tag.owner == mine and not tag.wecom_id
    with pytest.raises(ValidationError):
        tag_services.create_personal_tag(mine, "周末常来", by=world.guide_e1.user)
    with pytest.raises(ValidationError) as caught:
        tag_services.create_personal_tag(mine, "这人好骗", by=world.guide_e1.user)
    assert "受保护词“好骗”" in field_errors(caught.value)["name"][0]
    tag_services.create_personal_tag(theirs, "周末常来", by=world.guide_e2.user)  # another owner: fine
    customer = corp.customer(mine)
    assert tag_services.tag_customer_as(world.guide_e1, customer, [tag]) == 1
    assert corp.calls("externalcontact/mark_tag") == 0  # personal tags stay in Siyu
    assert list(tag_services.usable_tags(world.guide_e2).filter(kind=Tag.Kind.PERSONAL).values_list("owner", flat=True)) == [theirs.pk]


# -- protected labels ---------------------------------------------------------------------------------------
def test_default_protected_labels_are_seeded_once_and_can_be_managed(world):
    org = world.org
    assert tag_services.protected_match(org, "容易被误导的老人").word == "容易被误导"
    words = set(ProtectedLabel.objects.for_org(org).values_list("word", flat=True))
    assert {"容易被误导", "好骗", "冲动消费", "老年痴呆"} <= words
    assert tag_services.protected_match(org, "喜欢果茶") is None
    label = ProtectedLabel.objects.for_org(org).get(word="好骗")
    tag_services.remove_protected_label(label, by=world.admin.user)
    assert tag_services.protected_match(org, "好骗") is None  # stays removed: defaults are seeded once
    tag_services.add_protected_label(org, "薅羊毛专业户", reason="贬损客户", by=world.admin.user)
    assert tag_services.protected_match(org, "疑似薅羊毛专业户").reason == "贬损客户"
    with pytest.raises(ValidationError):
        tag_services.add_protected_label(org, "薅羊毛专业户", by=world.admin.user)
    actions = list(AuditEntry.objects.for_org(org).filter(action__startswith="protected_labels.").values_list("action", flat=True))
    assert sorted(actions) == ["protected_labels.added", "protected_labels.removed", "protected_labels.seeded"]
    assert tag_services.restore_default_labels(org, by=world.admin.user) == 1


def test_protected_labels_page_is_for_hq_and_lists_conflicts(world):
    Tag.objects.create(org=world.org, name="容易被误导", wecom_id="etmadeinwecom")  # made in WeCom's console
    page = client_for(world.admin).get(reverse("customers:protected_labels"))
    assert page.status_code == 200 and "容易被误导" in page.content.decode()
    assert "含有受保护词的现有标签" in page.content.decode()
    response = client_for(world.admin).post(reverse("customers:protected_labels"), {"op": "add", "word": "", "reason": ""})
    assert response.status_code == 400
    response = client_for(world.admin).post(reverse("customers:protected_labels"), {"op": "add", "word": "人傻钱多型", "reason": "贬损"})
    assert response.status_code == 302 and ProtectedLabel.objects.for_org(world.org).filter(word="人傻钱多型").exists()
    assert client_for(world.guide_e1).get(reverse("customers:protected_labels")).status_code == 403
    assert client_for(world.east_manager).get(reverse("customers:tags")).status_code == 403


# -- the console pages --------------------------------------------------------------------------------------
def test_tags_page_creates_and_shows_clear_errors(corp, world):
    client = client_for(world.admin)
    response = client.post(reverse("customers:tag_group_create"), {"name": "画像", "tags": "喜欢果茶\n容易被误导"})
    assert response.status_code == 400
    assert "“容易被误导”含有受保护词“容易被误导”" in response.content.decode()
    response = client.post(reverse("customers:tag_group_create"), {"name": "画像", "tags": "喜欢果茶，喜欢奶茶"})
    assert response.status_code == 302
    group = TagGroup.objects.for_org(world.org).get(name="画像")
    response = client.post(reverse("customers:tag_group_action", args=[group.pk]), {"op": "add", "name": "长" * 31})
    assert response.status_code == 400 and "最多 30 个字" in response.content.decode()
    tag = Tag.objects.for_org(world.org).get(name="喜欢果茶")
    response = client.post(reverse("customers:tag_action", args=[tag.pk]), {"op": "rename", "name": "喜欢奶茶"})
    assert response.status_code == 400 and "已有名为“喜欢奶茶”的标签" in response.content.decode()
    response = client.post(reverse("customers:tag_action", args=[tag.pk]), {"op": "down"})
    assert response.status_code == 302
    page = client.get(reverse("customers:tags"))
    assert page.status_code == 200 and "已用 2 / 3000 个" in page.content.decode()
    response = client.post(reverse("customers:tags_sync"))
    assert response.status_code == 302


def test_personal_tags_page(corp, world):
    corp.staff("zhang", world.e1, world.guide_e1)
    corp.staff("wang", world.e2, world.guide_e2)
    client = client_for(world.guide_e1)
    assert client.post(reverse("customers:personal_tags"), {"op": "create", "name": "爱喝冰的"}).status_code == 302
    response = client.post(reverse("customers:personal_tags"), {"op": "create", "name": "容易冲动的人"})
    assert response.status_code == 400 and "受保护词" in response.content.decode()
    tag = Tag.objects.for_org(world.org).get(name="爱喝冰的")
    assert client.post(reverse("customers:personal_tags"), {"op": "rename", "tag": tag.pk, "name": "爱喝热饮"}).status_code == 302
    # Someone else's personal tag is not found.
    assert client_for(world.guide_e2).post(reverse("customers:personal_tags"), {"op": "delete", "tag": tag.pk}).status_code == 404
    assert client.post(reverse("customers:personal_tags"), {"op": "delete", "tag": tag.pk}).status_code == 302
    assert Tag.objects.for_org(world.org).get(pk=tag.pk).deleted


def test_bulk_tagging_marks_every_customer_in_wecom(corp, world, django_capture_on_commit_callbacks):
    from siyu.core.models import Job

    zhang = corp.staff("zhang", world.e1, world.guide_e1)
    li = corp.staff("li", world.s1)
    customers = [corp.customer(zhang), corp.customer(zhang), corp.customer(li)]
    tag_services.create_tag_group(world.org, name="活动", tags=["中秋礼盒"], by=world.admin.user)
    tag = Tag.objects.for_org(world.org).get(name="中秋礼盒")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.east_manager).post(
            reverse("customers:bulk") + "?status=friend", {"action": "add_tags", "scope": "filter", "bulk_tags": [tag.pk]})
    assert response.status_code == 302
    job = Job.objects.for_org(world.org).get()
    assert job.status == Job.Status.SUCCEEDED and job.result["changed_customers"] == 2, (job.error, job.result)
    # The east manager's stores hold zhang, not li: only zhang's two customers were tagged, in WeCom too.
    for customer, userid, expected in [(customers[0], "zhang", [tag.wecom_id]), (customers[1], "zhang", [tag.wecom_id]),
                                       (customers[2], "li", [])]:
        assert corp.sim.state.relation(userid, customer.external_userid).tag_ids == expected
    assert corp.calls("externalcontact/mark_tag") == 2


# -- tags made in WeCom's admin console are read-only (doc 92117) ----------------------------------------------------
def test_renaming_an_admin_created_tag_is_refused_in_the_console_and_changes_nothing(corp, world):
    admin = corp.sim.admin_add_tags(["金卡"], group_name="会员")
    tag_services.pull_corp_tags(world.org)
    tag = Tag.objects.for_org(world.org).get(wecom_id=admin["tags"][0]["id"])
    page = client_for(world.admin).get(reverse("customers:tags")).content.decode()
    assert "企业微信管理员在管理后台创建" in page and f'value="{tag.name}"' not in page  # shown read-only, with why

    response = client_for(world.admin).post(reverse("customers:tag_action", args=[tag.pk]), {"op": "rename", "name": "黑卡"})

    assert response.status_code == 400
    assert "企业微信只允许创建标签的应用修改" in response.content.decode()
    tag.refresh_from_db()
    assert tag.name == "金卡" and corp.wecom_tags()[tag.wecom_id] == "金卡"
    assert corp.calls("externalcontact/edit_corp_tag") == 0  # refused before any WeCom call
    for change in (lambda: tag_services.delete_tag(tag), lambda: tag_services.move_tag(tag, "down"),
                   lambda: tag_services.rename_tag_group(tag.group, "VIP")):
        with pytest.raises(ValidationError):
            change()
    assert corp.calls("externalcontact/edit_corp_tag") == corp.calls("externalcontact/del_corp_tag") == 0


def test_tags_siyu_created_stay_editable_and_wecoms_81011_marks_a_tag_read_only(corp, world):
    group = tag_services.create_tag_group(world.org, name="口味", tags=["少糖"], by=world.admin.user)
    tag = Tag.objects.for_org(world.org).get(group=group)
    assert tag_services.read_only_reason(tag) is None
    tag_services.rename_tag(tag, "无糖")
    assert corp.wecom_tags()[tag.wecom_id] == "无糖"
    corp.sim.state.tags[tag.wecom_id].agentid = 0  # e.g. created by an earlier install's app
    with pytest.raises(ValidationError, match="企业微信只允许创建标签的应用修改"):
        tag_services.rename_tag(tag, "半糖")
    tag.refresh_from_db()
    assert (tag.name, tag.made_by_app) == ("无糖", False)


def test_a_failed_write_after_wecom_accepted_the_rename_is_undone_in_wecom(corp, world, monkeypatch):
    group = tag_services.create_tag_group(world.org, name="口味", tags=["少糖"], by=world.admin.user)
    tag = Tag.objects.for_org(world.org).get(group=group)

    def broken_record(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(tag_services.audit, "record", broken_record)  # the local write fails after WeCom's answer
    with pytest.raises(RuntimeError):
        tag_services.rename_tag(tag, "无糖")
    tag.refresh_from_db()
    assert tag.name == "少糖" and corp.wecom_tags()[tag.wecom_id] == "少糖"
