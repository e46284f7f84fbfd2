"""通讯录 reads: department/list, user lists and user/get."""

from __future__ import annotations

from .support import err, ok


def test_departments_and_members(sim, api):
    sim.set_limits(app_created_after_2022_06_20=False)  # an app old enough to still see mobiles
    north = sim.add_department("华北区", parentid=1, order=10)
    beijing = sim.add_department("北京店", parentid=north["id"], order=1)
    sim.add_staff("zhangsan", "张三", [1], position="总监", mobile="13800000000")
    sim.add_staff("lisi", "李四", [beijing["id"]])
    sim.add_staff("wangwu", "王五", [north["id"], beijing["id"]])
    sim.remove_staff("wangwu")

    departments = ok(api.get("department/list"))["department"]
    assert [d["id"] for d in departments] == [1, north["id"], beijing["id"]]
    assert departments[1] == {"id": north["id"], "name": "华北区", "department_leader": [], "parentid": 1, "order": 10}
    assert [d["id"] for d in ok(api.get("department/list", id=north["id"]))["department"]] == [north["id"], beijing["id"]]
    simple = ok(api.get("department/simplelist"))["department_id"]
    assert simple[2] == {"id": beijing["id"], "parentid": north["id"], "order": 1}
    err(api.get("department/list", id=999), 60123)

    assert [u["userid"] for u in ok(api.get("user/simplelist", department_id=1))["userlist"]] == ["zhangsan"]
    everyone = ok(api.get("user/list", department_id=1, fetch_child=1))["userlist"]
    assert [u["userid"] for u in everyone] == ["zhangsan", "lisi"]
    zhang = everyone[0]
    assert (zhang["name"], zhang["department"], zhang["position"], zhang["mobile"], zhang["status"],
            zhang["main_department"]) == ("张三", [1], "总监", "13800000000", 1, 1)

    assert ok(api.get("user/get", userid="lisi"))["department"] == [beijing["id"]]
    err(api.get("user/get", userid="wangwu"), 60111)

    ids = ok(api.post("user/list_id", {"limit": 1}))
    assert ids["dept_user"] == [{"userid": "zhangsan", "department": 1}] and ids["next_cursor"]
    rest = ok(api.post("user/list_id", {"limit": 10, "cursor": ids["next_cursor"]}))
    assert rest["dept_user"] == [{"userid": "lisi", "department": beijing["id"]}] and rest["next_cursor"] == ""
    err(api.post("user/list_id", {"limit": 10001}), 40058)


def test_apps_created_after_2022_06_20_see_no_private_member_fields(sim, api):
    # Notice of 2022-06-20: no mobile, avatar, gender or email for new apps.
    sim.add_staff("zhangsan", "张三", mobile="13800000000", email="z@example.com", gender="1")
    for member in (ok(api.get("user/get", userid="zhangsan")),
                   ok(api.get("user/list", department_id=1))["userlist"][0]):
        assert member["name"] == "张三"
        assert not {"mobile", "avatar", "thumb_avatar", "gender", "email"} & set(member)


def test_fetch_child_on_a_large_corp_is_45029_and_departments_one_by_one_work(sim, api):
    # Doc 90313, 45029: "建议按部门分别拉取，同时不要指定fetch_child=1".
    sim.set_limits(fetch_child_max_users=3)
    shop = sim.add_department("门店")["id"]
    for n in range(4):
        sim.add_staff(f"u{n}", f"员工{n}", [shop if n % 2 else 1])
    err(api.get("user/list", department_id=1, fetch_child=1), 45029)
    one_by_one = [u["userid"] for d in (1, shop) for u in ok(api.get("user/list", department_id=d))["userlist"]]
    assert sorted(one_by_one) == ["u0", "u1", "u2", "u3"]


def test_lists_hold_only_members_inside_the_visible_range(sim, api):
    shop = sim.add_department("门店")["id"]
    hq = sim.add_department("总部")["id"]
    sim.add_staff("guide", "导购", [shop])
    sim.add_staff("boss", "老板", [hq])
    sim.set_visible_range(departments=[shop])
    assert [u["userid"] for u in ok(api.get("user/list", department_id=1, fetch_child=1))["userlist"]] == ["guide"]
    err(api.get("user/get", userid="boss"), 60011)
