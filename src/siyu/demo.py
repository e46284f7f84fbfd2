"""The demo brand: a tea-drink chain with HQ, two regions, six stores and staff in every role.

Idempotent: running it again changes nothing. Every account shares one password generated on first run and
kept in the data directory, so no credential is ever shipped. Later capabilities add their demo data here.
"""

import json
import re
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
# username, display name (a plain name: the role and store show beside it), role, store/region code, phone
PEOPLE = [
    ("demo_owner", "林总", Role.OWNER, None, "13800000001"),
    ("demo_hq", "王敏", Role.HQ_ADMIN, None, "13800000002"),
    ("demo_manager_east", "陈刚", Role.STORE_MANAGER, "EAST", "13800000003"),
    ("demo_manager_sz01", "李娜", Role.STORE_MANAGER, "SZ01", "13800000004"),
    ("demo_guide_sh01", "张晓", Role.GUIDE, "SH01", "13900000011"),
    ("demo_guide_sh02", "周婷", Role.GUIDE, "SH02", "13900000012"),
    ("demo_guide_hz01", "吴磊", Role.GUIDE, "HZ01", "13900000013"),
    ("demo_guide_gz01", "郑洁", Role.GUIDE, "GZ01", "13900000014"),
    ("demo_guide_sz01", "孙悦", Role.GUIDE, "SZ01", "13900000015"),
    ("demo_guide_sz02", "赵阳", Role.GUIDE, "SZ02", "13900000016"),
]


@dataclass
class DemoInfo:
    org: Organization
    password: str
    usernames: list[tuple[str, str]]


def image_url(name: str) -> str:
    """A demo picture (``console/static/demo/``, drawn by ``scripts/demo_images.py``) at this server's public URL."""
    return f"{settings.PUBLIC_URL}{settings.STATIC_URL}demo/{name}"


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
    load_customer_demo(org)
    load_store_geo_demo(org)
    load_script_demo(org)
    load_material_demo(org)
    ensure_demo_products(org)
    load_history_demo(org)
    load_tracking_demo(org)
    load_sop_demo(org)
    load_cdp_demo(org)
    load_privacy_demo(org)
    load_conversation_demo(org)
    load_messaging_demo(org)
    move_demo_pictures(org)
    return DemoInfo(org=org, password=password, usernames=[(p[0], p[2].label) for p in PEOPLE])


def load_material_demo(org) -> None:
    from siyu.content.demo import load_material_demo as load

    load(org)


def load_tracking_demo(org) -> None:
    from siyu.tracking.demo import load_tracking_demo as load

    load(org)


def load_script_demo(org) -> None:
    """HQ's script folders with approved scripts, one in review that the checker flags, a guide's personal script
    and some uses. Idempotent: skipped once the brand has scripts."""
    from siyu.content import scripts
    from siyu.content.models import Scope, Script

    if Script.objects.for_org(org).exists():
        return
    members = {m.user.username: m for m in Membership.objects.for_org(org).select_related("user")}
    hq, guide = members["demo_hq"], members["demo_guide_sh01"]
    opening = scripts.create_folder(org, name="开场问候", scope=Scope.HQ, by=hq)
    after_sale = scripts.create_folder(org, name="售后回访", scope=Scope.HQ, by=hq)
    approved = []
    for folder, title, body in [
        (opening, "欢迎语", "{客户称呼}您好，我是{门店}的{导购姓名}，以后有任何问题都可以直接找我～"),
        (opening, "到店邀约", "{客户称呼}，本周末店里上了秋冬新品，方便的话来{门店}试试，我给您留好尺码。"),
        (after_sale, "售后回访", "{客户称呼}您好，上次买的衣服穿着还合适吗？有需要调整的随时告诉我。"),
    ]:
        script = scripts.save_script(org, folder=folder, title=title, body=body, scope=Scope.HQ, by=hq)
        scripts.submit_for_review(script, by=hq)
        approved.append(scripts.approve_script(script, by=hq))
    flagged = scripts.save_script(org, folder=opening, title="新品推荐", scope=Scope.HQ, by=hq,
                                  body="全网最低价！国家级面料，{客户称呼}错过再等一年。")
    scripts.submit_for_review(flagged, by=hq)
    scripts.save_script(org, folder=None, title="我的开场白", scope=Scope.PERSONAL, by=guide,
                        body="{客户称呼}好呀，我是小{导购姓名}，有空来店里喝杯茶～")
    for script in approved[:2] + approved[:1]:
        scripts.record_use(script, by=guide)


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


# -- customers: tag groups, tags and protected labels --------------------------------------------------------
DEMO_TAG_GROUPS = [
    ("会员等级", ["普通会员", "银卡会员", "金卡会员", "黑金会员"]),
    ("口味偏好", ["少糖", "无糖", "喜欢果茶", "喜欢奶茶", "喜欢纯茶"]),
    ("到店频次", ["每周到店", "每月到店", "偶尔到店"]),
    ("客户来源", ["门店海报", "外卖订单", "小红书", "异业合作"]),
    ("购买意向", ["关注新品", "关注优惠", "团购需求"]),
]


def load_customer_demo(org) -> None:
    """The demo brand's tag groups and tags (created in Siyu; pushed to WeCom once the simulator answers, see
    ``_push_customer_demo_tags``) and the default protected labels. Idempotent; customers come from WeCom."""
    from siyu.customers import tags

    tags.seed_protected_labels(org)
    for name, tag_names in reversed(DEMO_TAG_GROUPS):  # the last created is shown first
        tags.ensure_local_group(org, name, tag_names)


def _push_customer_demo_tags(org) -> None:
    from siyu.customers import tags

    tags.pull_corp_tags(org)


WECOM_DEMO_LOADERS.append(_push_customer_demo_tags)


# -- channels: channel codes, welcome messages, a new-customer red packet -------------------------------------
def load_channel_demo(org) -> None:
    """The demo brand's channel codes and default welcome message (they need WeCom: a WECOM_DEMO_LOADER)."""
    from siyu.channels.demo import ensure_channel_demo

    ensure_channel_demo(org)


WECOM_DEMO_LOADERS.append(load_channel_demo)


# -- moments: a published moment and a promotional draft --------------------------------------------------------
def load_moments_demo(org) -> None:
    """The demo brand's moments (they publish through WeCom: a WECOM_DEMO_LOADER)."""
    from siyu.moments.demo import ensure_moments_demo

    ensure_moments_demo(org)


WECOM_DEMO_LOADERS.append(load_moments_demo)


# -- lifecycle: stages, products with consumption cycles, sample auto-tagging rules -------------------------
DEMO_PRODUCTS = [
    # sku, name, category, price, cycle days (seed 001: aromatherapy bought today, a reminder before it runs out)
    ("AR-001", "山茶花香薰", "香薰", "168.00", 90),
    ("TEA-101", "白茶礼盒", "茶叶", "298.00", 60),
    ("TEA-102", "桂花乌龙茶包（30 袋）", "茶叶", "79.00", 30),
    ("CUP-001", "随行杯", "周边", "59.00", None),
]


def ensure_demo_products(org) -> None:
    from decimal import Decimal

    from siyu.cdp.services import save_product

    for sku, name, category, price, cycle in DEMO_PRODUCTS:
        save_product(org, sku=sku, name=name, category=category, price=Decimal(price), cycle_days=cycle)


def load_history_demo(org) -> None:
    """Ninety days of customers, losses, chats, orders and stage moves before the brand's first day (see
    ``siyu.demo_history``); the simulator mirrors those friendships when it starts."""
    from siyu import demo_history

    demo_history.load_history_demo(org)


def move_demo_pictures(org) -> None:
    """Point the demo's pictures (avatars, welcome images) at this run's address: ``make run PORT=8101`` after a
    first run on 8000 must not show broken avatars, and the worker fetches welcome images only from Siyu's own
    public URL (siyu.wecom.media)."""
    from siyu.channels.models import WelcomeMessage
    from siyu.customers.models import Customer

    pictures = re.compile(r"https?://[^/\"\s]+(?=" + re.escape(f"{settings.STATIC_URL}demo/") + ")")
    here = settings.PUBLIC_URL
    for customer in Customer.objects.for_org(org).filter(avatar__contains=f"{settings.STATIC_URL}demo/"):
        moved = pictures.sub(here, customer.avatar)
        if moved != customer.avatar:
            Customer.objects.for_org(org).filter(pk=customer.pk).update(avatar=moved)
    for message in WelcomeMessage.objects.for_org(org):
        text = json.dumps(message.attachments, ensure_ascii=False)
        moved = pictures.sub(here, text)
        if moved != text:
            WelcomeMessage.objects.for_org(org).filter(pk=message.pk).update(attachments=json.loads(moved))


def load_sop_demo(org) -> None:
    """A new-customer SOP under way and a group SOP (``siyu.sop.demo_data``)."""
    from siyu.sop import demo_data

    demo_data.load_sop_demo(org)


def load_cdp_demo(org) -> None:
    """Persons for every customer, remark phones, an imported Youzan export, a merge in review (``siyu.cdp.demo_data``)."""
    from siyu.cdp import demo_data

    demo_data.load_cdp_demo(org)


def load_privacy_demo(org) -> None:
    """A published privacy notice and consent records (``siyu.privacy.demo_data``)."""
    from siyu.privacy import demo_data

    demo_data.load_privacy_demo(org)


def load_conversation_demo(org) -> None:
    """A competitor on the sensitive-word list and a few chats that raised alerts (``siyu.conversations.demo_data``)."""
    from siyu.conversations import demo_data

    demo_data.load_conversation_demo(org)


def load_messaging_demo(org) -> None:
    """A mass-message draft and one sent through the demo worker (``siyu.messaging.demo_data``)."""
    from siyu.messaging import demo_data

    demo_data.load_messaging_demo(org)


def load_lifecycle_demo(org) -> None:
    """Default stages, products with cycles, and (once the corp tags are in WeCom) a keyword rule and a
    purchase rule. Idempotent."""
    from siyu.customers.models import Tag
    from siyu.lifecycle import rules, stages
    from siyu.lifecycle.models import Rule

    pipeline = stages.stages_of(org)
    ensure_demo_products(org)
    synced = {t.name: t for t in Tag.objects.for_org(org).filter(deleted=False).exclude(wecom_id="")}
    have = set(Rule.objects.for_org(org).values_list("name", flat=True))
    if "关注优惠" in synced and "聊天提到优惠" not in have:
        rules.save_rule(org, name="聊天提到优惠", kind="keyword", tags=[synced["关注优惠"]], config={
            "keywords": "最低价\n优惠\n打折\n便宜点\n有券吗\n满减", "exclude": "不在乎价格", "match": "any"})
    if "复购" not in have:
        rules.save_rule(org, name="复购", kind="purchase", stage=next(s for s in pipeline if s.name == "复购"),
                        config={"condition": "order_count", "count": 2})


WECOM_DEMO_LOADERS.append(load_lifecycle_demo)


def load_journey_demo(org) -> None:
    from siyu.journeys.demo import load_journey_demo as load

    load(org)


WECOM_DEMO_LOADERS.append(load_journey_demo)


# -- store codes and group codes: where the stores are, when they open, a group code per seeded group ---------
# WGS-84 (what phones report), and opening hours in Beijing time; an end before the start runs past midnight.
_TEA_HOURS = {day: [["10:00", "22:00"]] for day in ("mon", "tue", "wed", "thu", "sun")}
DEMO_STORE_GEO = {
    "SH01": (31.2359, 121.4790, {**_TEA_HOURS, "fri": [["10:00", "23:30"]], "sat": [["10:00", "23:30"]]}),
    "SH02": (31.1947, 121.4363, {**_TEA_HOURS, "fri": [["10:00", "22:00"]], "sat": [["10:00", "22:00"]]}),
    "HZ01": (30.2580, 120.1625, {**_TEA_HOURS, "fri": [["10:00", "22:00"]], "sat": [["09:30", "22:30"]]}),
    "GZ01": (23.1325, 113.3226, {**_TEA_HOURS, "fri": [["10:00", "02:00"]], "sat": [["10:00", "02:00"]]}),
    "SZ01": (22.5400, 114.1100, {**_TEA_HOURS, "fri": [["10:00", "01:00"]], "sat": [["10:00", "01:00"]]}),
    "SZ02": (22.5170, 113.9360, {**_TEA_HOURS, "fri": [["10:00", "22:00"]], "sat": [["10:00", "22:00"]]}),
}


def load_store_geo_demo(org) -> None:
    """Coordinates and opening hours for the demo stores that have none yet (an operator's edits are kept)."""
    from decimal import Decimal

    for store in Store.objects.for_org(org).filter(code__in=list(DEMO_STORE_GEO), latitude=None):
        lat, lng, hours = DEMO_STORE_GEO[store.code]
        store.latitude, store.longitude, store.opening_hours = Decimal(str(lat)), Decimal(str(lng)), hours
        store.save(update_fields=["latitude", "longitude", "opening_hours"])


def load_group_code_demo(org) -> None:
    """A group code (auto-creating rooms) for each group the simulator was seeded with, tied to its owner's store,
    and one store code for all stores with the first of them as fallback. Idempotent."""
    import logging

    from django.core.exceptions import ValidationError

    from siyu.groups import codes, storecodes
    from siyu.groups import services as group_services
    from siyu.groups.models import CustomerGroup, GroupCode, StoreCode
    from siyu.wecom import endpoints
    from siyu.wecom.client import WeComClient

    log = logging.getLogger(__name__)
    with WeComClient.for_org(org) as client:
        for chat_id in endpoints.group_chat_ids(client, limit=100)[:2]:
            group = CustomerGroup.objects.for_org(org).filter(chat_id=chat_id).first()
            group = group or group_services.refresh_group(org, chat_id, client)
            store = group.owner.store if group.owner_id and group.owner.store_id else None
            state = f"g_demo_{store.code.lower() if store else group.pk}"
            if GroupCode.objects.for_org(org).filter(state=state).exists():
                continue
            try:
                codes.create_group_code(
                    org, client=client, name=f"{store.name if store else '山茶物语'}·福利群", groups=[group], store=store,
                    state=state, room_base_name=f"{store.name if store else '山茶物语'}福利群", room_base_id=2,
                    welcome_text="欢迎{customer_nickname}加入山茶物语福利群！每周三会员日，群内专享第二杯半价。",
                )
            except ValidationError as error:
                log.warning("demo group code %s not created: %s", state, error.messages)
    first = GroupCode.objects.for_org(org).filter(state__startswith="g_demo_").order_by("id").first()
    if not StoreCode.objects.for_org(org).exists():
        storecodes.create_store_code(org, name="全国门店区域码", radius_km="10", fallback_code=first,
                                     intro="扫码加入离你最近的山茶物语门店福利群，新品和优惠第一时间知道。")


WECOM_DEMO_LOADERS.append(load_group_code_demo)


def load_group_tag_demo(org) -> None:
    """The brand's group tags, with 会员群 on every synced group (run after the group codes, which sync groups)."""
    from siyu.groups.models import CustomerGroup, GroupTag, GroupTagging

    tags = {name: GroupTag.objects.for_org(org).get_or_create(org=org, name=name)[0]
            for name in ("会员群", "新品尝鲜群", "门店福利群")}
    for group in CustomerGroup.objects.for_org(org).filter(status=CustomerGroup.Status.ACTIVE):
        GroupTagging.objects.for_org(org).get_or_create(org=org, group=group, tag=tags["会员群"])


WECOM_DEMO_LOADERS.append(load_group_tag_demo)
