"""Group tags: HQ keeps the brand's list, whoever may see a group tags it (audited), the group list filters by tag
and shows each member only their groups, and a group mass message chooses its groups by tag."""

import pytest
from django.core.exceptions import ValidationError

from siyu.groups.models import CustomerGroup, GroupTag, GroupTagging
from siyu.messaging import mass
from siyu.orgs.models import AuditEntry, Staff
from tests.factories import client_for, make_org


@pytest.fixture
def groups(world):
    zhang = Staff.objects.create(org=world.org, userid="zhangxiao", name="张晓", store=world.e1, membership=world.guide_e1)
    li = Staff.objects.create(org=world.org, userid="lisi", name="李四", store=world.s1, membership=world.guide_s1)
    made = {}
    for n, (name, owner) in enumerate([("新品尝鲜群", zhang), ("会员福利群", zhang), ("南山店会员群", li)]):
        made[name] = CustomerGroup.objects.create(org=world.org, chat_id=f"wr{n}", name=name, owner=owner,
                                                  owner_userid=owner.userid, member_count=10 + n)
    return made


def test_hq_keeps_the_tag_list_and_bad_names_change_nothing(world):
    client = client_for(world.admin)
    assert client.post("/groups/tags/", {"name": "会员群"}).status_code == 302
    assert client.post("/groups/tags/", {"name": "会员群"}).status_code == 400  # the same name again
    assert client.post("/groups/tags/", {"name": "  "}).status_code == 400
    assert client.post("/groups/tags/", {"name": "长" * 31}).status_code == 400
    assert list(GroupTag.objects.for_org(world.org).values_list("name", flat=True)) == ["会员群"]
    assert client_for(world.guide_e1).post("/groups/tags/", {"name": "导购建的"}).status_code == 403
    tag = GroupTag.objects.for_org(world.org).get()
    assert client.post(f"/groups/tags/{tag.pk}/delete/").status_code == 302
    assert not GroupTag.objects.for_org(world.org).exists()
    assert [e.action for e in AuditEntry.objects.for_org(world.org).order_by("pk")][-2:] == [
        "groups.tag_created", "groups.tag_deleted"]


def test_a_guide_tags_their_own_groups_only_and_the_list_filters(world, groups):
    vip = GroupTag.objects.create(org=world.org, name="会员群")
    foreign = GroupTag.objects.create(org=make_org("brand-c"), name="别家的")
    guide = client_for(world.guide_e1)
    mine, theirs = groups["会员福利群"], groups["南山店会员群"]

    assert guide.post(f"/groups/{mine.pk}/tags/", {"tags": [vip.pk]}).status_code == 302
    assert guide.post(f"/groups/{theirs.pk}/tags/", {"tags": [vip.pk]}).status_code == 404
    assert guide.post(f"/groups/{mine.pk}/tags/", {"tags": [foreign.pk]}).status_code == 400
    assert list(GroupTagging.objects.for_org(world.org).values_list("group__name", "tag__name")) == [("会员福利群", "会员群")]
    assert AuditEntry.objects.for_org(world.org).filter(action="groups.group_tagged").count() == 1

    listing = guide.get("/groups/").content.decode()
    assert "新品尝鲜群" in listing and "会员福利群" in listing and "南山店会员群" not in listing
    filtered = client_for(world.admin).get("/groups/", {"tag": vip.pk}).content.decode()
    assert "会员福利群" in filtered and "新品尝鲜群" not in filtered and "南山店会员群" not in filtered


def test_a_group_mass_message_chooses_its_groups_by_tag(world, groups):
    vip = GroupTag.objects.create(org=world.org, name="会员群")
    for name in ("会员福利群", "南山店会员群"):
        GroupTagging.objects.create(org=world.org, group=groups[name], tag=vip)
    message = mass.create_message(world.org, by=world.admin, title="会员日", text="周三会员日第二杯半价",
                                  audience={"tag_ids": [vip.pk]}, chat_type="group")
    assert sorted(mass.audience_groups(message)) == sorted([groups["会员福利群"].chat_id, groups["南山店会员群"].chat_id])

    owner_and_tag = mass.create_message(world.org, by=world.admin, title="会员日", text="周三会员日",
                                        audience={"tag_ids": [vip.pk], "owner_ids": [groups["会员福利群"].owner_id]},
                                        chat_type="group")
    assert list(mass.audience_groups(owner_and_tag)) == [groups["会员福利群"].chat_id]

    with pytest.raises(ValidationError) as refused:
        mass.create_message(world.org, by=world.admin, title="x", text="y", audience={"tag_ids": [vip.pk + 999]},
                            chat_type="group")
    assert "group_tags" in refused.value.message_dict
