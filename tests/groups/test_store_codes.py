"""Store codes (区域码): the routing function (nearest open store within the radius; ties, radius, closed and
inactive stores, hours across midnight), store hours, the recorded decisions (no coordinates), and the H5 page."""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from siyu.groups import storecodes
from siyu.groups.models import GroupCode, StoreCode, StoreRouting
from siyu.groups.storecodes import distance_bucket, gcj02_to_wgs84, haversine_km, parse_day_hours, route, wgs84_to_gcj02
from siyu.orgs.models import AuditEntry, Store
from tests.factories import client_for, make_store

SH = ZoneInfo("Asia/Shanghai")
EVERY_DAY = {day: [["09:00", "22:00"]] for day in Store.WEEKDAYS}
# The customer stands at People's Square, Shanghai.
HERE = (31.2304, 121.4737)


def at(text: str) -> datetime:
    """A Shanghai wall-clock time; 2024-06-03 is a Monday."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SH)


def east_of(km: float, lat: float = HERE[0], lng: float = HERE[1]) -> tuple[float, float]:
    """A point ``km`` east (negative: west) of ``lat``/``lng`` on the same latitude."""
    import math

    return lat, lng + math.degrees(km / (storecodes.EARTH_RADIUS_KM * math.cos(math.radians(lat))))


def store(code: str, km: float, hours=None, active=True, pk=None) -> Store:
    lat, lng = east_of(km)
    return Store(pk=pk, code=code, name=f"门店{code}", latitude=Decimal(f"{lat:.6f}"), longitude=Decimal(f"{lng:.6f}"),
                 opening_hours=EVERY_DAY if hours is None else hours, is_active=active)


MONDAY_NOON = at("2024-06-03 12:00")


# -- geometry --------------------------------------------------------------------------------------------------
def test_haversine_matches_known_distances():
    assert haversine_km(*HERE, *HERE) == 0
    assert haversine_km(31.2304, 121.4737, 39.9042, 116.4074) == pytest.approx(1067.3, abs=1)  # Shanghai–Beijing
    assert haversine_km(*HERE, *east_of(5)) == pytest.approx(5, abs=0.001)
    assert haversine_km(0, 179.9, 0, -179.9) == pytest.approx(22.24, abs=0.01)  # across the antimeridian


def test_gcj02_round_trip_and_offset():
    gcj = wgs84_to_gcj02(*HERE)
    assert 300 < haversine_km(*HERE, *gcj) * 1000 < 700  # the famous few hundred metres
    back = gcj02_to_wgs84(*gcj)
    assert haversine_km(*HERE, *back) * 1000 < 0.01


@pytest.mark.parametrize("km, bucket", [(None, ""), (0, "<1km"), (0.99, "<1km"), (1, "1-3km"), (4.2, "3-5km"),
                                        (9.9, "5-10km"), (10, "10-20km"), (49, "20-50km"), (50, ">50km")])
def test_distance_buckets(km, bucket):
    assert distance_bucket(km) == bucket


# -- routing ---------------------------------------------------------------------------------------------------
def test_the_nearest_open_store_wins():
    stores = [store("C", 3.0), store("A", 1.2), store("B", 2.0)]
    result = route(stores, *HERE, at=MONDAY_NOON, radius_km=10)
    assert result.outcome == "routed" and result.store.code == "A"
    assert result.distance_km == pytest.approx(1.2, abs=0.01) and result.nearest_closed is None


def test_a_closed_store_is_skipped():
    closed = store("A", 0.5, hours={day: [["18:00", "23:00"]] for day in Store.WEEKDAYS})
    result = route([closed, store("B", 2.5), store("C", 4)], *HERE, at=MONDAY_NOON, radius_km=10)
    assert result.store.code == "B"
    assert result.nearest_closed is closed and result.nearest_closed_km == pytest.approx(0.5, abs=0.01)
    assert route([closed, store("B", 2.5)], *HERE, at=at("2024-06-03 19:00"), radius_km=10).store.code == "A"


def test_inactive_and_unplaced_stores_are_ignored():
    gone = store("A", 0.1, active=False)
    unplaced = Store(code="B", name="未定位", latitude=None, longitude=None, opening_hours={}, is_active=True)
    result = route([gone, unplaced, store("C", 3)], *HERE, at=MONDAY_NOON, radius_km=10)
    assert result.store.code == "C"
    assert route([gone, unplaced], *HERE, at=MONDAY_NOON, radius_km=10).outcome == "out_of_range"


def test_the_radius_is_a_hard_limit():
    near_edge, beyond = store("A", 4.99), store("B", 5.01)
    assert route([beyond, near_edge], *HERE, at=MONDAY_NOON, radius_km=5).store.code == "A"
    result = route([beyond], *HERE, at=MONDAY_NOON, radius_km=5)
    assert (result.outcome, result.store, result.nearest_closed) == ("out_of_range", None, None)


def test_when_every_store_in_range_is_closed_the_nearest_closed_is_named():
    night = at("2024-06-03 23:30")
    result = route([store("B", 3), store("A", 1), store("Z", 30)], *HERE, at=night, radius_km=10)
    assert result.outcome == "all_closed" and result.store is None and result.nearest_closed.code == "A"


def test_ties_go_to_the_lower_store_code_whatever_the_order():
    west, east = store("SH02", -2.0, pk=7), store("SH01", 2.0, pk=9)  # mirror images: equally far
    assert haversine_km(*HERE, float(west.latitude), float(west.longitude)) == pytest.approx(
        haversine_km(*HERE, float(east.latitude), float(east.longitude)), abs=0.0005)
    for _ in range(5):
        stores = [west, east, store("SH03", 2.5)]
        random.shuffle(stores)
        assert route(stores, *HERE, at=MONDAY_NOON, radius_km=10).store.code == "SH01"
    closed_east = store("SH01", 2.0, hours={})
    closed_east.opening_hours = {"sun": [["09:00", "10:00"]]}  # only Sunday mornings
    assert route([closed_east, west], *HERE, at=MONDAY_NOON, radius_km=10).store.code == "SH02"


# -- opening hours ---------------------------------------------------------------------------------------------
LATE = {"fri": [["18:00", "02:00"]], "sat": [["10:00", "14:00"], ["17:00", "24:00"]], "sun": [["00:00", "00:00"]]}


@pytest.mark.parametrize("moment, open_", [
    ("2024-06-07 17:59", False),  # Friday before opening
    ("2024-06-07 18:00", True),
    ("2024-06-07 23:59", True),
    ("2024-06-08 01:59", True),  # Saturday small hours: Friday's range runs past midnight
    ("2024-06-08 02:00", False),
    ("2024-06-08 09:59", False),
    ("2024-06-08 12:00", True),
    ("2024-06-08 15:00", False),  # the lunch-to-dinner gap
    ("2024-06-08 23:59", True),  # "24:00" is midnight
    ("2024-06-09 03:00", True),  # Sunday open around the clock ("00:00"–"00:00")
    ("2024-06-09 23:59", True),
    ("2024-06-10 00:00", False),  # …for 24 hours: it ends at midnight
    ("2024-06-10 12:00", False),  # Monday: not listed, so closed
    ("2024-06-06 20:00", False),  # Thursday: closed
])
def test_hours_across_midnight(moment, open_):
    assert Store(opening_hours=LATE, is_active=True).is_open_at(at(moment)) is open_


def test_hours_are_read_in_shanghai_time_and_unknown_hours_count_as_open():
    shop = Store(opening_hours={"mon": [["09:00", "18:00"]]}, is_active=True)
    utc = ZoneInfo("UTC")
    assert shop.is_open_at(datetime(2024, 6, 3, 1, 0, tzinfo=utc))  # 09:00 in Shanghai
    assert not shop.is_open_at(datetime(2024, 6, 3, 10, 0, tzinfo=utc))  # 18:00 in Shanghai
    assert Store(opening_hours={}, is_active=True).is_open_at(MONDAY_NOON)
    assert not Store(opening_hours={}, is_active=False).is_open_at(MONDAY_NOON)
    assert not Store(opening_hours={"mon": [["nine", "five"], ["12"]]}, is_active=True).is_open_at(MONDAY_NOON)


@pytest.mark.parametrize("text, ranges", [
    ("09:00-22:00", [["09:00", "22:00"]]),
    ("9:00 - 14:00，17:00～02:00", [["09:00", "14:00"], ["17:00", "02:00"]]),
    ("00:00-24:00", [["00:00", "24:00"]]),
    ("", []), ("休息", []),
])
def test_parse_day_hours(text, ranges):
    assert parse_day_hours(text) == ranges


@pytest.mark.parametrize("text", ["9-22", "25:00-26:00", "09:00", "10:00-10:00", "09:60-10:00", "24:00-02:00"])
def test_parse_day_hours_refuses_nonsense(text):
    with pytest.raises(ValueError):
        parse_day_hours(text)


# -- stores, decisions, pages (database) ------------------------------------------------------------------------
@pytest.fixture
def shops(world):
    """Three Shanghai stores east of the customer: A (0.8 km, closes at 10:00), B (2 km), C (3 km); one Hangzhou store."""
    def place(store_obj, km, hours, city="上海"):
        lat, lng = east_of(km)
        store_obj.latitude, store_obj.longitude = Decimal(f"{lat:.6f}"), Decimal(f"{lng:.6f}")
        store_obj.opening_hours, store_obj.city, store_obj.address = hours, city, f"{city}某路 {int(km * 10)} 号"
        store_obj.save()
        return store_obj

    a = place(make_store(world.org, "A1", parent=world.east, name="人民广场店"), 0.8, {d: [["06:00", "10:00"]] for d in Store.WEEKDAYS})
    b = place(make_store(world.org, "B1", parent=world.east, name="外滩店"), 2, EVERY_DAY)
    c = place(make_store(world.org, "C1", parent=world.east, name="陆家嘴店"), 3, EVERY_DAY)
    hz = make_store(world.org, "HZ1", parent=world.east, name="西湖店")
    hz.latitude, hz.longitude, hz.city = Decimal("30.2741"), Decimal("120.1551"), "杭州"
    hz.save()
    return a, b, c, hz


@pytest.fixture
def code(world):
    return storecodes.create_store_code(world.org, by=world.admin, name="全国门店区域码", radius_km="10", intro="扫码找到最近的门店")


def test_route_by_location_records_the_decision_without_coordinates(world, shops, code):
    a, b, c, hz = shops
    result = storecodes.route_by_location(code, *HERE, at=at("2024-06-03 12:00"))
    assert result.store == b  # A is closed at noon
    row = StoreRouting.objects.for_org(world.org).get()
    assert (row.store, row.method, row.outcome, row.distance_bucket) == (b, "location", "routed", "1-3km")
    assert {f.name for f in StoreRouting._meta.get_fields()} == {
        "id", "org", "code", "store", "method", "outcome", "distance_bucket", "created_at"}
    morning = storecodes.route_by_location(code, *HERE, at=at("2024-06-03 08:00"))
    assert morning.store == a
    far = storecodes.route_by_location(code, 39.9042, 116.4074, at=at("2024-06-03 12:00"))
    assert far.outcome == "out_of_range"
    night = storecodes.route_by_location(code, *HERE, at=at("2024-06-03 23:30"))
    assert night.outcome == "all_closed" and night.nearest_closed == a
    rows = StoreRouting.objects.for_org(world.org).order_by("id")
    assert [(r.outcome, r.distance_bucket) for r in rows] == [
        ("routed", "1-3km"), ("routed", "<1km"), ("out_of_range", ""), ("all_closed", "<1km")]
    for bad in ((91, 0), ("abc", 1), (float("nan"), 1), (None, None)):
        with pytest.raises(ValidationError):
            storecodes.route_by_location(code, *bad)
    assert rows.count() == 4


def test_targets_prefer_the_stores_own_codes(world, shops, code):
    a, b, c, hz = shops
    assert storecodes.targets_for(code, b) == []
    own = GroupCode.objects.create(org=world.org, public_id="gcB", name="外滩店福利群", store=b, state="g_b",
                                   config_id="cfg-b", qr_code="https://wework.qpic.cn/wwpic/b/0")
    fallback = GroupCode.objects.create(org=world.org, public_id="gcAll", name="总群", state="g_all",
                                        config_id="cfg-all", qr_code="https://wework.qpic.cn/wwpic/all/0")
    storecodes.update_store_code(code, name=code.name, radius_km=10, fallback_code=fallback)
    [target] = storecodes.targets_for(code, b)
    assert (target.kind, target.qr_image) == ("group", own.qr_code) and target.landing_url.endswith(f"/{own.public_id}/")
    [target] = storecodes.targets_for(code, c)
    assert target.qr_image == fallback.qr_code

    staff_code = store_staff_code(world, b, "chanB")
    kinds = [(t.kind, t.qr_image) for t in storecodes.targets_for(code, b)]
    assert kinds == [("staff", staff_code.qr_code), ("group", own.qr_code)]
    assert storecodes.targets_for(code, b)[0].landing_url.endswith(f"/{staff_code.public_id}/")
    assert [t.kind for t in storecodes.targets_for(code, c)] == ["group"]  # b's guides are not c's


def store_staff_code(world, store, public_id, *, also=None):
    """A live channel code listing ``store``'s guide (and ``also``'s, when given)."""
    from siyu.channels.models import ChannelCode, ChannelStaff
    from siyu.orgs.models import Staff

    channel = ChannelCode.objects.create(org=world.org, public_id=public_id, name=f"{store.name}顾问", state=f"c_{public_id}",
                                         config_id=f"cfg-{public_id}", qr_code=f"https://wework.qpic.cn/wwpic/{public_id}/0")
    for n, where in enumerate([store] + ([also] if also else [])):
        guide = Staff.objects.create(org=world.org, userid=f"{public_id}-{n}", name=f"导购{n}", store=where)
        ChannelStaff.objects.create(org=world.org, code=channel, staff=guide, position=n)
    return channel


def test_a_store_code_routes_to_the_nearest_stores_guide_and_its_group(world, shops, code, monkeypatch):
    a, b, c, hz = shops
    mixed = store_staff_code(world, b, "mixed", also=c)  # a regional code: not b's own
    assert storecodes.targets_for(code, b) == []
    own = store_staff_code(world, b, "chanB")
    GroupCode.objects.create(org=world.org, public_id="gcB", name="外滩店福利群", store=b, state="g_b",
                             config_id="cfg-b", qr_code="https://wework.qpic.cn/wwpic/b/0")
    monkeypatch.setattr(storecodes.timezone, "now", lambda: at("2024-06-03 12:00"))
    body = Client().post(page_url(code), {"latitude": HERE[0], "longitude": HERE[1]}).content.decode()
    assert "外滩店" in body and 'data-testid="target-staff"' in body and 'data-testid="target-group"' in body
    assert own.qr_code in body and "https://wework.qpic.cn/wwpic/b/0" in body and mixed.qr_code not in body


def test_both_paths_give_the_fallback_group_code_when_every_store_is_closed(world, shops, code, monkeypatch):
    a, b, c, hz = shops
    fallback = GroupCode.objects.create(org=world.org, public_id="gcAll", name="总群", state="g_all",
                                        config_id="cfg-all", qr_code="https://wework.qpic.cn/wwpic/all/0")
    GroupCode.objects.create(org=world.org, public_id="gcB", name="外滩店福利群", store=b, state="g_b",
                             config_id="cfg-b", qr_code="https://wework.qpic.cn/wwpic/b/0")
    storecodes.update_store_code(code, name=code.name, radius_km=10, fallback_code=fallback)
    monkeypatch.setattr(storecodes.timezone, "now", lambda: at("2024-06-03 23:30"))
    browser = Client()
    located = browser.post(page_url(code), {"latitude": HERE[0], "longitude": HERE[1]}).content.decode()
    picked = browser.post(page_url(code), {"store": b.pk}).content.decode()
    for body in (located, picked):
        assert fallback.qr_code in body and "https://wework.qpic.cn/wwpic/b/0" not in body
        assert 'data-testid="all-closed"' in body
    rows = StoreRouting.objects.for_org(world.org).order_by("id")
    assert [(r.method, r.outcome, r.store) for r in rows] == [("location", "all_closed", None), ("picker", "all_closed", None)]
    far = browser.post(page_url(code), {"latitude": 39.9042, "longitude": 116.4074}).content.decode()
    assert fallback.qr_code in far and 'data-testid="out-of-range"' in far


def test_set_store_location(world, shops):
    a = shops[0]
    gcj = wgs84_to_gcj02(31.2397, 121.4998)
    storecodes.set_store_location(a, latitude=f"{gcj[0]:.6f}", longitude=f"{gcj[1]:.6f}", coordinate_system="gcj02",
                                  hours={"mon": "09:00-21:00", "fri": "09:00-14:00, 18:00-02:00"}, by=world.admin)
    a.refresh_from_db()
    assert haversine_km(float(a.latitude), float(a.longitude), 31.2397, 121.4998) < 0.001
    assert a.opening_hours == {"mon": [["09:00", "21:00"]], "fri": [["09:00", "14:00"], ["18:00", "02:00"]]}
    assert AuditEntry.objects.for_org(world.org).filter(action="store.location_set", object_id=str(a.pk)).exists()
    storecodes.set_store_location(a, hours={}, by=world.admin)
    a.refresh_from_db()
    assert (a.latitude, a.longitude, a.opening_hours) == (None, None, {})
    for kwargs, field in (({"latitude": "31.2"}, "latitude"), ({"latitude": "95", "longitude": "121"}, "latitude"),
                          ({"hours": {"tue": "9点到10点"}}, "hours_tue")):
        with pytest.raises(ValidationError) as error:
            storecodes.set_store_location(a, **kwargs)
        assert field in error.value.message_dict
    a.refresh_from_db()
    assert a.opening_hours == {}


def test_store_code_validation(world):
    with pytest.raises(ValidationError) as error:
        storecodes.create_store_code(world.org, name="", radius_km="0", fallback_code=123456)
    assert set(error.value.message_dict) == {"name", "radius_km", "fallback_code"}
    assert not StoreCode.objects.for_org(world.org).exists()


# -- the H5 page ------------------------------------------------------------------------------------------------
def page_url(code):
    return reverse("groups:store_page", args=[code.org.slug, code.public_id])


def test_the_page_asks_with_consent_and_routes_a_posted_location(world, shops, code, monkeypatch):
    b = shops[1]
    GroupCode.objects.create(org=world.org, public_id="gcB", name="外滩店福利群", store=b, state="g_b",
                             config_id="cfg-b", qr_code="https://wework.qpic.cn/wwpic/b/0")
    monkeypatch.setattr(storecodes.timezone, "now", lambda: at("2024-06-03 12:00"))
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(page_url(code))
    html = page.content.decode()
    assert page.status_code == 200 and "为什么需要你的位置" in html and "不会保存" in html and "手动选择门店" in html
    assert "<script>" not in html and "storecode.js" in html and "script-src 'self'" in page["Content-Security-Policy"]
    token = page.cookies["siyu_csrftoken"].value
    assert browser.post(page_url(code), {"latitude": HERE[0], "longitude": HERE[1]}).status_code == 403  # no token
    import re

    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    result = browser.post(page_url(code), {"latitude": HERE[0], "longitude": HERE[1], "csrfmiddlewaretoken": form_token})
    assert token and result.status_code == 200
    body = result.content.decode()
    assert "外滩店" in body and "距你约 2.0 公里" in body and "https://wework.qpic.cn/wwpic/b/0" in body
    assert "https://wework.qpic.cn" in result["Content-Security-Policy"]
    assert StoreRouting.objects.for_org(world.org).get().store == b


def test_without_location_the_customer_picks_a_city_then_a_store(world, shops, code):
    hz = shops[3]
    browser = Client()
    pick = reverse("groups:store_pick", args=[world.org.slug, code.public_id])
    page = browser.get(pick, {"reason": "denied"})
    html = page.content.decode()
    assert "你没有允许使用位置信息" in html and "上海" in html and "杭州" in html and "西湖店" not in html
    page = browser.get(pick, {"city": "杭州"}).content.decode()
    assert "西湖店" in page and "外滩店" not in page
    result = browser.post(page_url(code), {"store": hz.pk})
    assert result.status_code == 200 and "西湖店" in result.content.decode()
    assert "这家门店暂未开通线上服务" in result.content.decode()
    row = StoreRouting.objects.for_org(world.org).get()
    assert (row.store, row.method, row.distance_bucket) == (hz, "picker", "")
    assert browser.post(page_url(code), {"store": world.east.pk}).status_code == 302  # a region is not a store
    assert browser.post(page_url(code), {"latitude": "north", "longitude": "1"})["Location"].endswith("?reason=invalid")


def test_nothing_in_range_offers_the_picker_and_a_paused_code_says_so(world, shops, code):
    browser = Client()
    far = browser.post(page_url(code), {"latitude": 39.9042, "longitude": 116.4074})
    assert "10 公里内没有我们的门店" in far.content.decode()
    storecodes.set_store_code_status(code, "pause", by=world.admin)
    assert "活动已暂停" in browser.get(page_url(code)).content.decode()
    storecodes.set_store_code_status(code, "delete", by=world.admin)
    assert browser.get(page_url(code)).status_code == 404
    assert browser.get(reverse("groups:store_page", args=["no-such-brand", "x"])).status_code == 404


def test_console_pages(world, shops, code):
    admin = client_for(world.admin)
    assert admin.get(reverse("groups:store_codes")).status_code == 200
    detail = admin.get(reverse("groups:store_code_detail", args=[code.pk]))
    assert detail.status_code == 200 and "人民广场店" in detail.content.decode()
    assert admin.get(reverse("groups:store_code_qr", args=[code.pk])).content.startswith(b"\x89PNG")
    assert admin.get(reverse("groups:store_code_poster", args=[code.pk])).content.startswith(b"\x89PNG")
    edit = reverse("groups:store_location_edit", args=[shops[0].pk])
    assert admin.get(edit).status_code == 200
    bad = admin.post(edit, {"latitude": "31.2", "longitude": "", "coordinate_system": "wgs84", "hours_mon": "9点"})
    assert bad.status_code == 400 and bad.context["form"].errors["latitude"] and bad.context["form"].errors["hours_mon"]
    ok = admin.post(edit, {"latitude": "31.2", "longitude": "121.5", "coordinate_system": "wgs84", "hours_mon": "09:00-18:00"})
    assert ok.status_code == 302
    shops[0].refresh_from_db()
    assert shops[0].opening_hours == {"mon": [["09:00", "18:00"]]} and shops[0].latitude == Decimal("31.200000")
    assert admin.get(reverse("groups:store_locations")).status_code == 200
    new = admin.post(reverse("groups:store_code_new"), {"name": "", "radius_km": "1000"})
    assert new.status_code == 400 and new.context["form"].errors["name"]
    assert client_for(world.guide_e1).get(reverse("groups:store_codes")).status_code == 403
    assert client_for(world.east_manager).get(reverse("groups:store_code_detail", args=[code.pk])).status_code == 200
    assert client_for(world.east_manager).get(reverse("groups:store_locations")).status_code == 403


def test_the_store_code_page_counts_the_viewers_stores_only(world):
    from siyu.orgs.models import Store

    Store.objects.for_org(world.org).filter(pk__in=[world.e1.pk, world.s1.pk]).update(latitude=31, longitude=121)
    manager = client_for(world.east_manager).get(reverse("groups:store_codes")).context
    assert (manager["stores_total"], manager["stores_located"]) == (2, 1)  # E1 and E2, not the south's
    admin = client_for(world.admin).get(reverse("groups:store_codes")).context
    assert (admin["stores_total"], admin["stores_located"]) == (4, 2)


def test_a_regional_managers_store_code_page_shows_and_counts_their_stores_only(world, shops, code, monkeypatch):
    monkeypatch.setattr(storecodes.timezone, "now", lambda: at("2024-06-03 12:00"))
    storecodes.route_by_location(code, *HERE)  # 外滩店, in the east region
    south = client_for(world.s1_manager).get(reverse("groups:store_code_detail", args=[code.pk])).content.decode()
    east = client_for(world.east_manager).get(reverse("groups:store_code_detail", args=[code.pk])).content.decode()
    assert "外滩店" in east and "人民广场店" in east
    assert "外滩店" not in south and "人民广场店" not in south
    assert storecodes.routing_summary(code, viewer=world.east_manager)["total"] == 1
    assert storecodes.routing_summary(code, viewer=world.s1_manager)["total"] == 0
