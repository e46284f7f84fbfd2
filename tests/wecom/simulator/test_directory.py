"""通讯录 reads: department/list, user lists and user/get."""

from __future__ import annotations

from .support import err, ok


def test_departments_and_members(sim, api):
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
