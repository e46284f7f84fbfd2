"""The demo brand: a tea-drink chain with HQ, two regions, six stores and staff in every role.

Idempotent: running it again changes nothing. Every account shares one password generated on first run and
kept in the data directory, so no credential is ever shipped. Later capabilities add their demo data here.
"""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from siyu import config
from siyu.orgs import services
from siyu.orgs.models import Membership, Organization, Staff, Store
from siyu.orgs.roles import Role

DEMO_SLUG = "demo"
DEMO_NAME = "山茶物语（示例品牌）"

REGIONS = [("EAST", "华东区域"), ("SOUTH", "华南区域")]
STORES = [
    ("SH01", "上海南京路店", "EAST", "上海", "上海市黄浦区南京东路 299 号"),
    ("SH02", "上海徐家汇店", "EAST", "上海", "上海市徐汇区虹桥路 1 号"),
    ("HZ01", "杭州湖滨店", "EAST", "杭州", "杭州市上城区湖滨路 28 号"),
    ("GZ01", "广州天河店", "SOUTH", "广州", "广州市天河区天河路 208 号"),
    ("SZ01", "深圳万象城店", "SOUTH", "深圳", "深圳市罗湖区宝安南路 1881 号"),
    ("SZ02", "深圳海岸城店", "SOUTH", "深圳", "深圳市南山区文心五路 33 号"),
]
# username, display name, role, store/region code, phone
PEOPLE = [
    ("demo_owner", "林总", Role.OWNER, None, "13800000001"),
    ("demo_hq", "总部运营·王敏", Role.HQ_ADMIN, None, "13800000002"),
    ("demo_manager_east", "华东区域经理·陈刚", Role.STORE_MANAGER, "EAST", "13800000003"),
    ("demo_manager_sz01", "万象城店长·李娜", Role.STORE_MANAGER, "SZ01", "13800000004"),
    ("demo_guide_sh01", "导购·张晓", Role.GUIDE, "SH01", "13900000011"),
    ("demo_guide_sh02", "导购·周婷", Role.GUIDE, "SH02", "13900000012"),
    ("demo_guide_hz01", "导购·吴磊", Role.GUIDE, "HZ01", "13900000013"),
    ("demo_guide_gz01", "导购·郑洁", Role.GUIDE, "GZ01", "13900000014"),
    ("demo_guide_sz01", "导购·孙悦", Role.GUIDE, "SZ01", "13900000015"),
    ("demo_guide_sz02", "导购·赵阳", Role.GUIDE, "SZ02", "13900000016"),
]


@dataclass
class DemoInfo:
    org: Organization
    password: str
    usernames: list[tuple[str, str]]


def demo_password() -> str:
    path = settings.DATA_DIR / "demo_password"
    if not path.exists():
        config.write_private_file(path, secrets.token_urlsafe(12))
    return path.read_text().strip()


@transaction.atomic
def load_demo() -> DemoInfo:
    password = demo_password()
    org = Organization.objects.filter(slug=DEMO_SLUG).first()
    if org is None:
        org = services.create_organization(slug=DEMO_SLUG, name=DEMO_NAME, by=None)
    stores = {s.code: s for s in Store.objects.for_org(org)}

    def ensure_store(code, name, kind, parent=None, city="", address=""):
        if code not in stores:
            stores[code] = services.create_store(
                org=org, code=code, name=name, kind=kind, parent=parent, city=city, address=address, by=None
            )
        return stores[code]

    hq = ensure_store("HQ", "总部", Store.Kind.HQ)
    for code, name in REGIONS:
        ensure_store(code, name, Store.Kind.REGION, parent=hq)
    for code, name, region, city, address in STORES:
        ensure_store(code, name, Store.Kind.STORE, parent=stores[region], city=city, address=address)

    existing = set(Membership.objects.for_org(org).values_list("user__username", flat=True))
    for username, name, role, store_code, phone in PEOPLE:
        if username not in existing:
            services.add_member(
                org=org, username=username, display_name=name, role=role, phone=phone,
                store=stores[store_code] if store_code else None, password=password, by=None,
            )
    _link_staff(org)
    return DemoInfo(org=org, password=password, usernames=[(p[0], p[2].label) for p in PEOPLE])


def _link_staff(org) -> None:
    """Store staff are WeCom members too: same userid as their console username, linked to their membership."""
    for membership in Membership.objects.for_org(org).select_related("user", "store").filter(role__in=["guide", "store_manager"]):
        staff, _ = Staff.objects.for_org(org).get_or_create(
            org=org, userid=membership.user.username,
            defaults={"name": membership.user.display_name, "mobile": membership.user.phone, "is_customer_contact": True},
        )
        if staff.membership_id != membership.pk or staff.store_id != membership.store_id:
            staff.membership, staff.store = membership, membership.store if membership.store.kind == Store.Kind.STORE else None
            staff.save(update_fields=["membership", "store"])


# Loaders of demo data that lives in WeCom too (channel codes, group codes…): each takes the organization
# and must be idempotent. They run from `siyu simulator demo`, once the simulator answers.
WECOM_DEMO_LOADERS: list = []


def load_wecom_demo(org) -> None:
    for loader in WECOM_DEMO_LOADERS:
        loader(org)
