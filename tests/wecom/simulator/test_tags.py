"""Corp tags through the API: get/add/edit/del_corp_tag limits, duplicates and group deletion."""

from __future__ import annotations

import pytest

from .support import err, ok, staff


def _add(api, **body):
    return api.post("externalcontact/add_corp_tag", body)


def test_add_corp_tag_shape_and_list(sim, api):
    result = ok(_add(api, group_name="客户等级", order=1, tag=[{"name": "VIP", "order": 2}, {"name": "普通", "order": 1}]))
    group = result["tag_group"]
    assert set(group) == {"group_id", "group_name", "create_time", "order", "tag"}
    assert group["group_id"].startswith("et") and group["group_name"] == "客户等级"
    assert [t["name"] for t in group["tag"]] == ["VIP", "普通"]  # larger order first
    assert set(group["tag"][0]) == {"id", "name", "create_time", "order"}
    listed = ok(api.post("externalcontact/get_corp_tag_list"))["tag_group"]
    assert listed[0]["deleted"] is False and listed[0]["tag"][0]["deleted"] is False
    assert [t["id"] for t in listed[0]["tag"]] == [t["id"] for t in group["tag"]]


def test_add_into_existing_group_by_id_or_name(sim, api):
    group = ok(_add(api, group_name="意向", tag=[{"name": "高"}]))["tag_group"]
    ok(_add(api, group_id=group["group_id"], group_name="ignored", tag=[{"name": "中"}]))
    ok(_add(api, group_name="意向", tag=[{"name": "低"}]))
    (only,) = ok(api.post("externalcontact/get_corp_tag_list"))["tag_group"]
    assert only["group_name"] == "意向" and sorted(t["name"] for t in only["tag"]) == ["中", "低", "高"]


@pytest.mark.parametrize("body, code, detail", [
    ({"group_name": "g", "tag": [{"name": "名" * 31}]}, 40058, "name exceed max length 30"),
    ({"group_name": "组" * 31, "tag": [{"name": "a"}]}, 40058, "group_name exceed max length 30"),
    ({"group_name": "g"}, 40058, "tag missing"),
    ({"tag": [{"name": "a"}]}, 40058, "group_id or group_name missing"),
    ({"group_name": "g", "tag": [{"name": "a"}, {"name": "a"}]}, 40071, "tag name a"),
    ({"group_id": "etNoSuchGroup", "tag": [{"name": "a"}]}, 40068, "group_id"),
    ({"group_name": "g", "tag": [{"name": "a"}], "agentid": 42}, 40056, "agentid"),
])
def test_add_corp_tag_errors_change_nothing(sim, api, body, code, detail):
    assert detail in err(_add(api, **body), code)["errmsg"]
    assert sim.state.tags == {} and sim.state.tag_groups == {}


def test_duplicate_against_existing_tags_is_40071(sim, api):
    ok(_add(api, group_name="g", tag=[{"name": "a"}]))
    err(_add(api, group_name="g", tag=[{"name": "b"}, {"name": "a"}]), 40071)
    assert len(sim.state.tags) == 1


def test_corp_tag_cap(sim, api):
    sim.set_limits(max_corp_tags=3)
    ok(_add(api, group_name="g", tag=[{"name": "a"}, {"name": "b"}]))
    assert "max count 3" in err(_add(api, group_name="g", tag=[{"name": "c"}, {"name": "d"}]), 40126)["errmsg"]
    ok(_add(api, group_name="g", tag=[{"name": "c"}]))


def test_default_cap_is_3000():
    from siyu.wecom.simulator import Limits

    assert Limits().max_corp_tags == 3000


def test_edit_corp_tag(sim, api):
    group = ok(_add(api, group_name="g", tag=[{"name": "a"}, {"name": "b"}]))["tag_group"]
    a, b = (t["id"] for t in group["tag"])
    ok(api.post("externalcontact/edit_corp_tag", {"id": a, "name": "A", "order": 9}))
    ok(api.post("externalcontact/edit_corp_tag", {"id": group["group_id"], "name": "G"}))
    err(api.post("externalcontact/edit_corp_tag", {"id": b, "name": "A"}), 40071)
    err(api.post("externalcontact/edit_corp_tag", {"id": b, "name": "名" * 31}), 40058)
    err(api.post("externalcontact/edit_corp_tag", {"id": "etNope", "name": "x"}), 40068)
    (listed,) = api.post("externalcontact/get_corp_tag_list")["tag_group"]
    assert listed["group_name"] == "G" and [t["name"] for t in listed["tag"]] == ["A", "b"]


def test_del_corp_tag_and_group_rules(sim, api):
    staff(sim, "zhangsan")
    ext = sim.add_customer("zhangsan")["external_userid"]
    group = ok(_add(api, group_name="g", tag=[{"name": "a"}, {"name": "b"}]))["tag_group"]
    a, b = (t["id"] for t in group["tag"])
    ok(api.post("externalcontact/mark_tag", {"userid": "zhangsan", "external_userid": ext, "add_tag": [a, b]}))
    err(api.post("externalcontact/del_corp_tag", {}), 40058)
    err(api.post("externalcontact/del_corp_tag", {"tag_id": [a, "etNope"]}), 40068)
    assert not sim.state.tags[a].deleted

    ok(api.post("externalcontact/del_corp_tag", {"tag_id": [a]}))
    assert sim.state.relation("zhangsan", ext).tag_ids == [b]  # deleted tags leave customers too
    ok(api.post("externalcontact/del_corp_tag", {"tag_id": [b]}))  # the last tag: the group goes too
    assert api.post("externalcontact/get_corp_tag_list")["tag_group"] == []
    by_id = ok(api.post("externalcontact/get_corp_tag_list", {"group_id": [group["group_id"]]}))["tag_group"]
    assert by_id[0]["deleted"] is True and all(t["deleted"] for t in by_id[0]["tag"])
    by_tag = ok(api.post("externalcontact/get_corp_tag_list", {"tag_id": [a]}))["tag_group"]
    assert [t["id"] for t in by_tag[0]["tag"]] == [a] and by_tag[0]["tag"][0]["deleted"] is True


def test_get_corp_tag_list_filters(sim, api):
    one = ok(_add(api, group_name="一", tag=[{"name": "a"}, {"name": "b"}]))["tag_group"]
    two = ok(_add(api, group_name="二", tag=[{"name": "c"}]))["tag_group"]
    by_tag = ok(api.post("externalcontact/get_corp_tag_list", {"tag_id": [one["tag"][1]["id"]]}))["tag_group"]
    assert [(g["group_id"], [t["name"] for t in g["tag"]]) for g in by_tag] == [(one["group_id"], ["b"])]
    by_group = ok(api.post("externalcontact/get_corp_tag_list", {"tag_id": [one["tag"][0]["id"]],
                                                                 "group_id": [two["group_id"]]}))["tag_group"]
    assert [g["group_id"] for g in by_group] == [two["group_id"]]  # group_id wins over tag_id


def test_the_app_edits_and_deletes_only_the_tags_it_created(sim, api):
    # Doc 92117: "自建/第三方应用仅能编辑和删除本应用创建的标签".
    admin = sim.admin_add_tags(["金卡"], group_name="会员")
    admin_tag = admin["tags"][0]["id"]
    mine = ok(_add(api, group_id=admin["group_id"], tag=[{"name": "银卡"}]))["tag_group"]["tag"][0]["id"]
    for body in ({"id": admin_tag, "name": "黑卡"}, {"id": admin_tag, "order": 9}, {"id": admin["group_id"], "name": "VIP"}):
        err(api.post("externalcontact/edit_corp_tag", body), 81011)
    err(api.post("externalcontact/del_corp_tag", {"tag_id": [admin_tag]}), 81011)
    err(api.post("externalcontact/del_corp_tag", {"group_id": [admin["group_id"]]}), 81011)
    assert sim.state.tags[admin_tag].name == "金卡" and not sim.state.tags[admin_tag].deleted
    ok(api.post("externalcontact/edit_corp_tag", {"id": mine, "name": "铂金卡"}))
    ok(api.post("externalcontact/del_corp_tag", {"tag_id": [mine]}))


def test_a_follow_user_without_tags_has_no_tags_key(sim, api):
    # Appendix A get.response: the second follow_user has no "tags" key.
    staff(sim, "zhangsan")
    ext = sim.add_customer("zhangsan")["external_userid"]
    tag = ok(_add(api, group_name="g", tag=[{"name": "t"}]))["tag_group"]["tag"][0]["id"]
    sim.staff_edits_customer("zhangsan", ext, add_tags=[tag])
    assert [t["tag_id"] for t in ok(api.get("externalcontact/get", external_userid=ext))["follow_user"][0]["tags"]] == [tag]
    sim.staff_edits_customer("zhangsan", ext, remove_tags=[tag])
    assert "tags" not in ok(api.get("externalcontact/get", external_userid=ext))["follow_user"][0]
