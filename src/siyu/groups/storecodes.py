"""Store codes (区域码, 千店千群): one poster for every store; the customer's H5 page sends them to the nearest
open store and shows that store's code.

Routing is the pure function :func:`route`: the nearest store within the radius (great-circle distance,
haversine) that is active and open at that moment by its opening hours (Asia/Shanghai; ranges may run past
midnight). Closed and inactive stores are skipped; equal distances (to the metre) go to the lower store code.
Without a location the customer picks a store by city.

A store's codes (:func:`targets_for`): its staff channel code (``channels.queries.code_for_store``) and its own
group code (``GroupCode.store``), else the store code's fallback group code. When no store is a destination
(none within the radius, or none open, whether located or picked) the page offers the fallback group code.

Privacy: the page asks before it reads the location and says why; the coordinate is used for this one
decision and never stored. :class:`~siyu.groups.models.StoreRouting` keeps only the store chosen, a distance
bucket and whether a location was shared.

Coordinates are WGS-84, what phones and the browser's geolocation report. Chinese map services (Amap/高德,
Tencent/腾讯) show GCJ-02; :func:`gcj02_to_wgs84` converts what an operator copies from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.channels import queries as channel_queries
from siyu.core import published
from siyu.groups.models import GroupCode, StoreCode, StoreRouting
from siyu.orgs import audit
from siyu.orgs.models import Membership, Store

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
RADIUS_MIN_KM, RADIUS_MAX_KM = Decimal("0.1"), Decimal("500")
NAME_MAX, INTRO_MAX = 50, 200
# (upper bound in km, label): the distance a routing decision records instead of any coordinate.
DISTANCE_BUCKETS = ((1, "<1km"), (3, "1-3km"), (5, "3-5km"), (10, "5-10km"), (20, "10-20km"), (50, "20-50km"))
FAR_BUCKET = ">50km"
COORDINATE_SYSTEMS = ("wgs84", "gcj02")


# -- geometry -----------------------------------------------------------------------------------------------
def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in kilometres between two WGS-84 points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = math.radians(lat2 - lat1), math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def distance_bucket(km: float | None) -> str:
    if km is None:
        return ""
    for bound, label in DISTANCE_BUCKETS:
        if km < bound:
            return label
    return FAR_BUCKET


def valid_coordinate(latitude, longitude) -> tuple[float, float] | None:
    """``(lat, lng)`` as floats when they are a real coordinate, else None."""
    try:
        lat, lng = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    return lat, lng


# GCJ-02 ("Mars coordinates") is WGS-84 plus a published, deterministic offset (Krasovsky 1940 ellipsoid).
_GCJ_A, _GCJ_EE = 6378245.0, 0.00669342162296594323


def _gcj_offset(lat: float, lng: float) -> tuple[float, float]:
    x, y = lng - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    common = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat += common + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlng += common + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlng += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * math.pi
    magic = 1 - _GCJ_EE * math.sin(rad) ** 2
    dlat = dlat * 180.0 / ((_GCJ_A * (1 - _GCJ_EE)) / (magic * math.sqrt(magic)) * math.pi)
    dlng = dlng * 180.0 / (_GCJ_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return dlat, dlng


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    dlat, dlng = _gcj_offset(lat, lng)
    return lat + dlat, lng + dlng


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """Invert the offset by fixed-point iteration (converges below a millimetre in a few rounds)."""
    wlat, wlng = lat, lng
    for _ in range(6):
        glat, glng = wgs84_to_gcj02(wlat, wlng)
        wlat, wlng = wlat - (glat - lat), wlng - (glng - lng)
    return wlat, wlng


# -- routing (pure) -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """Where a customer goes: ``store`` (None when no store qualifies) and why (a StoreRouting outcome)."""

    outcome: str
    store: object | None = None
    distance_km: float | None = None
    # Within the radius but closed now: the nearest such store, so the page can say so.
    nearest_closed: object | None = None
    nearest_closed_km: float | None = None


def route(stores: Iterable, latitude: float, longitude: float, *, at: datetime, radius_km: float) -> Route:
    """The nearest open store within ``radius_km`` of (``latitude``, ``longitude``) at ``at``.

    ``stores`` are objects with ``latitude``, ``longitude``, ``is_active``, ``code``, ``pk`` and
    ``is_open_at(at)`` (Store rows). Stores without coordinates and inactive stores are ignored; closed ones
    are skipped. Distances are compared to the metre, and a tie goes to the lower ``code`` (then ``pk``), so
    the same customer always lands in the same store.
    """
    reachable = []
    for store in stores:
        if not store.is_active or store.latitude is None or store.longitude is None:
            continue
        km = haversine_km(latitude, longitude, float(store.latitude), float(store.longitude))
        if km <= radius_km:
            reachable.append((round(km * 1000), str(store.code), store.pk or 0, km, store))
    reachable.sort(key=lambda item: item[:3])
    closed = None
    for _metres, _code, _pk, km, store in reachable:
        if store.is_open_at(at):
            return Route(StoreRouting.Outcome.ROUTED, store, km, closed[0] if closed else None, closed[1] if closed else None)
        closed = closed or (store, km)
    if closed:
        return Route(StoreRouting.Outcome.ALL_CLOSED, nearest_closed=closed[0], nearest_closed_km=closed[1])
    return Route(StoreRouting.Outcome.OUT_OF_RANGE)


# -- what the page shows for a store ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    kind: str  # "staff" (a channel live code: add a guide) or "group" (a group live code: join the group)
    title: str
    qr_image: str  # WeCom's QR image URL ("" when WeCom gave none)
    landing_url: str  # Siyu's page for the code (what a printed QR points to)


def _fallback_group_code(code: StoreCode) -> GroupCode | None:
    if not code.fallback_code_id:
        return None
    fallback = GroupCode.objects.for_org(code.org_id).filter(pk=code.fallback_code_id, status=GroupCode.Status.ACTIVE).first()
    return fallback if fallback is not None and fallback.config_id else None


def group_code_for(store) -> GroupCode | None:
    return (GroupCode.objects.for_org(store.org_id).filter(store=store, status=GroupCode.Status.ACTIVE)
            .exclude(config_id="").order_by("-created_at", "-id").first())


def _group_target(group_code: GroupCode) -> Target:
    from siyu.groups.qr import landing_url

    return Target("group", _("加入门店福利群"), group_code.qr_code, landing_url(group_code))


def targets_for(code: StoreCode, store) -> list[Target]:
    """What the page offers for a chosen store: its guides (the store's staff channel code) and its group (its
    own group code, else the store code's fallback group code)."""
    from django.urls import reverse

    targets = []
    staff_code = channel_queries.code_for_store(store)
    if staff_code is not None:
        url = reverse("channels:landing", kwargs={"slug": store.org.slug, "public_id": staff_code.public_id})
        targets.append(Target("staff", _("添加门店顾问"), staff_code.qr_code, url))
    group_code = group_code_for(store) or _fallback_group_code(code)
    if group_code is not None:
        targets.append(_group_target(group_code))
    return targets


def fallback_targets(code: StoreCode) -> list[Target]:
    """What the page offers when no store is a destination (none near, or none open): the fallback group code."""
    fallback = _fallback_group_code(code)
    return [_group_target(fallback)] if fallback is not None else []


# -- the page's two paths ---------------------------------------------------------------------------------------
def candidate_stores(org):
    """Stores a store code can send people to: active stores (not HQ or regions)."""
    return Store.objects.for_org(org).filter(kind=Store.Kind.STORE, is_active=True).order_by("city", "code")


def stores_by_city(org, *, at: datetime | None = None) -> dict[str, list]:
    """Cities in name order (stores without a city last, under “其他”), each with its active stores."""
    at = at or timezone.now()
    cities: dict[str, list] = {}
    stores = sorted(candidate_stores(org), key=lambda s: (not s.city, s.city, s.code))
    for store in stores:
        store.open_now = store.is_open_at(at)
        cities.setdefault(store.city or _("其他"), []).append(store)
    return cities


@transaction.atomic
def route_by_location(code: StoreCode, latitude, longitude, *, at: datetime | None = None) -> Route:
    """Route a customer who shared their location, and record the decision (without the coordinate)."""
    point = valid_coordinate(latitude, longitude)
    if point is None:
        raise ValidationError({"location": [_("位置信息无效。")]})
    result = route(candidate_stores(code.org), point[0], point[1], at=at or timezone.now(), radius_km=float(code.radius_km))
    StoreRouting.objects.create(
        org_id=code.org_id, code=code, store=result.store, method=StoreRouting.Method.LOCATION, outcome=result.outcome,
        distance_bucket=distance_bucket(result.distance_km if result.store else result.nearest_closed_km),
    )
    return result


@transaction.atomic
def route_by_choice(code: StoreCode, store_id, *, at: datetime | None = None) -> Route:
    """A customer without a location picked a store from the list; record it.

    The rule is the one :func:`route` applies to a location: a store that is closed now is not a destination,
    so both paths give the same answer (and the same fallback) when the stores are closed."""
    store = candidate_stores(code.org).filter(pk=store_id).first() if str(store_id).isdigit() else None
    if store is None:
        raise ValidationError({"store": [_("请选择一家门店。")]})
    if store.is_open_at(at or timezone.now()):
        result = Route(StoreRouting.Outcome.ROUTED, store)
    else:
        result = Route(StoreRouting.Outcome.ALL_CLOSED, nearest_closed=store)
    StoreRouting.objects.create(org_id=code.org_id, code=code, store=result.store, method=StoreRouting.Method.PICKER,
                                outcome=result.outcome)
    return result


def routing_summary(code: StoreCode, *, viewer: Membership) -> dict:
    """Where the code sent people, counted over the stores ``viewer`` may see."""
    rows = StoreRouting.objects.visible_to(viewer).filter(code=code)
    return {
        "total": rows.count(),
        "unmatched": rows.exclude(outcome=StoreRouting.Outcome.ROUTED).count(),
        "by_method": dict(rows.values_list("method").annotate(n=Count("id"))),
        "by_outcome": dict(rows.values_list("outcome").annotate(n=Count("id"))),
        "by_bucket": dict(rows.exclude(distance_bucket="").values_list("distance_bucket").annotate(n=Count("id"))),
        "by_store": list(rows.exclude(store=None).values("store__name", "store__city").annotate(n=Count("id")).order_by("-n")[:20]),
    }


# -- store codes: every state change ----------------------------------------------------------------------------
def _actor(by):
    return by.user if isinstance(by, Membership) else by


def clean_store_code(org, data: dict) -> dict:
    errors: dict[str, list[str]] = {}
    name = (data.get("name") or "").strip()
    if not name:
        errors.setdefault("name", []).append(_("请填写名称。"))
    elif len(name) > NAME_MAX:
        errors.setdefault("name", []).append(_("名称最多 %(n)d 个字。") % {"n": NAME_MAX})
    try:
        radius = Decimal(str(data.get("radius_km") if data.get("radius_km") not in (None, "") else "10"))
        if not radius.is_finite() or not RADIUS_MIN_KM <= radius <= RADIUS_MAX_KM:
            raise ValueError
        radius = radius.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    except (ValueError, ArithmeticError):
        errors.setdefault("radius_km", []).append(_("匹配半径必须在 0.1 到 500 公里之间。"))
        radius = Decimal("10")
    fallback = data.get("fallback_code")
    if fallback is not None:
        key = fallback.pk if isinstance(fallback, GroupCode) else fallback
        fallback = GroupCode.objects.for_org(org).filter(pk=key).exclude(status=GroupCode.Status.DELETED).first() if str(key).isdigit() else None
        if fallback is None:
            errors.setdefault("fallback_code", []).append(_("群活码不存在或已删除。"))
    intro = (data.get("intro") or "").strip()
    if len(intro) > INTRO_MAX:
        errors.setdefault("intro", []).append(_("页面说明最多 %(n)d 个字。") % {"n": INTRO_MAX})
    if errors:
        raise ValidationError(errors)
    return {"name": name, "radius_km": radius, "fallback_code": fallback, "intro": intro}


def create_store_code(org, *, by=None, **data) -> StoreCode:
    """A store code: ``name``, ``radius_km`` (0.1–500), ``fallback_code`` (a GroupCode shown for stores without
    a code of their own), ``intro`` (a line on the page)."""
    cleaned = clean_store_code(org, data)
    with transaction.atomic():
        code = StoreCode.objects.create(org=org, public_id=published.new_public_id(org, StoreCode), created_by=_actor(by),
                                        **cleaned)
        audit.record("storecode.created", org=org, actor=_actor(by), obj=code,
                     details={"name": code.name, "radius_km": str(code.radius_km), "fallback_code": code.fallback_code_id})
    return code


def update_store_code(code: StoreCode, *, by=None, **data) -> StoreCode:
    if code.status == StoreCode.Status.DELETED:
        raise ValidationError({NON_FIELD_ERRORS: [_("已删除的区域码不能修改。")]})
    cleaned = clean_store_code(code.org, data)
    with transaction.atomic():
        for key, value in cleaned.items():
            setattr(code, key, value)
        code.save()
        audit.record("storecode.updated", org=code.org_id, actor=_actor(by), obj=code,
                     details={"name": code.name, "radius_km": str(code.radius_km), "fallback_code": code.fallback_code_id})
    return code


_TRANSITIONS = {
    "pause": (StoreCode.Status.ACTIVE, StoreCode.Status.PAUSED),
    "resume": (StoreCode.Status.PAUSED, StoreCode.Status.ACTIVE),
    "delete": (None, StoreCode.Status.DELETED),
}


def set_store_code_status(code: StoreCode, action: str, *, by=None) -> StoreCode:
    """``pause`` (the page says so), ``resume``, ``delete`` (the page is gone; decisions stay for statistics)."""
    required, target = _TRANSITIONS[action]
    if code.status == StoreCode.Status.DELETED or (required is not None and code.status != required):
        raise ValidationError({NON_FIELD_ERRORS: [_("当前状态下不能执行该操作。")]})
    with transaction.atomic():
        code.status = target
        code.save(update_fields=["status", "updated_at"])
        audit.record(f"storecode.{action}d" if action != "pause" else "storecode.paused", org=code.org_id,
                     actor=_actor(by), obj=code)
    return code


# -- store coordinates and opening hours --------------------------------------------------------------------
def parse_day_hours(text: str) -> list[list[str]]:
    """``"09:00-14:00, 17:00-02:00"`` → ``[["09:00", "14:00"], ["17:00", "02:00"]]``; ValueError if malformed.

    "休息" / "closed" / "-" → no ranges (closed that day)."""
    text = (text or "").strip().replace("：", ":").replace("，", ",").replace("、", ",").replace("～", "-").replace("~", "-").replace("—", "-")
    if text in ("", "休息", "closed", "-"):
        return []
    ranges = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        start, sep, end = part.partition("-")
        start, end = start.strip(), end.strip()
        if not sep:
            raise ValueError(part)
        start_min, end_min = Store.minutes_of(start), Store.minutes_of(end)
        if start_min >= 24 * 60:
            raise ValueError(part)
        if start_min == end_min and end_min != 0:
            raise ValueError(part)
        ranges.append([f"{start_min // 60:02d}:{start_min % 60:02d}", end if end == "24:00" else f"{end_min // 60:02d}:{end_min % 60:02d}"])
    return ranges


def format_day_hours(ranges) -> str:
    return ", ".join(f"{start}-{end}" for start, end in ranges or [])


WEEKDAY_LABELS = dict(zip(Store.WEEKDAYS, [gettext_lazy("周一"), gettext_lazy("周二"), gettext_lazy("周三"), gettext_lazy("周四"),
                                          gettext_lazy("周五"), gettext_lazy("周六"), gettext_lazy("周日")]))


def hours_words(opening_hours: dict | None) -> str:
    """A week of opening hours as people write it on a door: Monday first, runs of equal days joined
    (``周一至周五 10:00-22:00；周六、周日 休息``); empty when the hours were never set."""
    if not opening_hours:
        return ""
    runs: list[tuple[list[str], str]] = []
    for day in Store.WEEKDAYS:
        text = format_day_hours(opening_hours.get(day)) or _("休息")
        if runs and runs[-1][1] == text:
            runs[-1][0].append(day)
        else:
            runs.append(([day], text))
    parts = []
    for days, text in runs:
        first, last = str(WEEKDAY_LABELS[days[0]]), str(WEEKDAY_LABELS[days[-1]])
        label = first if len(days) == 1 else f"{first}、{last}" if len(days) == 2 else _("%(first)s至%(last)s") % {"first": first, "last": last}
        parts.append(f"{label} {text}")
    return "；".join(parts)


def set_store_location(store: Store, *, latitude=None, longitude=None, coordinate_system: str = "wgs84",
                       hours: dict[str, str] | None = None, by=None) -> Store:
    """Place a store on the map and set its opening hours.

    ``latitude``/``longitude``: both or neither (neither takes the store off the map); ``coordinate_system``
    ``gcj02`` converts from Amap/Tencent coordinates. ``hours``: weekday (``mon``…``sun``) → text such as
    ``"09:00-22:00"`` or ``"10:00-14:00, 17:00-02:00"``; every day blank means the hours are unknown (the
    store counts as open), a blank day among others is a closed day."""
    errors: dict[str, list[str]] = {}
    lat_given = latitude not in (None, "")
    lng_given = longitude not in (None, "")
    lat = lng = None
    if lat_given != lng_given:
        errors.setdefault("latitude", []).append(_("请同时填写纬度和经度，或都留空。"))
    elif lat_given:
        point = valid_coordinate(latitude, longitude)
        if point is None:
            errors.setdefault("latitude", []).append(_("纬度应在 -90 到 90 之间，经度应在 -180 到 180 之间。"))
        else:
            if coordinate_system not in COORDINATE_SYSTEMS:
                errors.setdefault("coordinate_system", []).append(_("请选择坐标系。"))
            elif coordinate_system == "gcj02":
                point = gcj02_to_wgs84(*point)
            lat, lng = (Decimal(f"{v:.6f}") for v in point)
    opening: dict[str, list] = {}
    raw = hours or {}
    for day in Store.WEEKDAYS:
        try:
            opening[day] = parse_day_hours(raw.get(day, ""))
        except ValueError:
            errors.setdefault(f"hours_{day}", []).append(_("请按“09:00-22:00”填写，多段用逗号分隔；跨零点如“18:00-02:00”。"))
    if errors:
        raise ValidationError(errors)
    if not any(opening.values()):
        opening = {}
    else:
        opening = {day: ranges for day, ranges in opening.items() if ranges}
    with transaction.atomic():
        store.latitude, store.longitude, store.opening_hours = lat, lng, opening
        store.save(update_fields=["latitude", "longitude", "opening_hours"])
        audit.record("store.location_set", org=store.org_id, actor=_actor(by), obj=store,
                     details={"located": lat is not None, "opening_hours": opening})
    return store
