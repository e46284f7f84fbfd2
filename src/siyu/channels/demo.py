"""The demo brand's channel codes: store posters, a live stream with a daily cap, a cross-brand campaign with
a new-customer red packet and time slots, and the default welcome message. Created through the services, so
the simulator has their contact ways; idempotent (a code whose state exists is left alone)."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError

from siyu.channels import services, welcome_materials
from siyu.channels.models import ChannelState, WelcomeMessage
from siyu.customers.models import Tag
from siyu.orgs.models import Staff

log = logging.getLogger(__name__)

WEEKDAYS, WEEKEND = [0, 1, 2, 3, 4], [5, 6]
DEFAULT_WELCOME = "你好 {customer_nickname}，我是山茶物语的{staff_name}～ 有任何饮品问题都可以问我，回复「菜单」看本周新品。"
CODES = [
    {
        "name": "上海南京路店·门口海报", "state": "sh01_poster", "folder_name": "门店海报", "staff": ["demo_guide_sh01"],
        "tags": ["门店海报"], "remark_template": "{channel}{date}",
        "welcome_text": "欢迎来到南京路店，{customer_nickname}！出示本消息到店立减 3 元。",
    },
    {
        "name": "深圳双店·轮流接待", "state": "sz_stores", "folder_name": "门店海报",
        "staff": ["demo_guide_sz01", "demo_guide_sz02"], "tags": ["门店海报"],
    },
    {
        "name": "小红书笔记引流", "state": "xhs_note", "folder_name": "线上广告", "policy": "daily_cap", "daily_cap": 50,
        "staff": ["demo_guide_sh02", "demo_guide_hz01"], "backup_staff": ["demo_manager_east"], "tags": ["小红书"],
    },
    {
        "name": "柔云纸巾联名·下午茶", "state": "x_tissue_tea", "folder_name": "异业合作", "partner_name": "柔云纸巾",
        "policy": "time_slots", "staff": ["demo_guide_gz01", "demo_guide_sz01"], "backup_staff": ["demo_manager_sz01"],
        "time_slots": [
            {"days": WEEKDAYS, "start": "09:00", "end": "18:00", "staff": ["demo_guide_gz01"]},
            {"days": WEEKEND, "start": "10:00", "end": "22:00", "staff": ["demo_guide_sz01"]},
        ],
        "tags": ["异业合作"], "welcome_text": "感谢参加柔云纸巾 × 山茶物语下午茶活动！新客红包已发放，请注意查收。",
        "red_packet": {"enabled": True, "mode": "fixed", "amount_fen": 100, "budget_fen": 10_000, "wishing": "下午茶快乐"},
    },
]


def _material(org, title: str) -> list[dict]:
    """A reference to the demo library's approved material ``title`` (the material demo is loaded first)."""
    from siyu.content.models import Material

    found = Material.objects.for_org(org).filter(title=title, status=Material.Status.APPROVED).first()
    return [welcome_materials.reference(found.pk)] if found else []


def welcome_attachments(org, state: str) -> list[dict]:
    """The codes' welcome attachments, their pictures served by Siyu itself (``siyu.demo.image_url``): WeCom
    fetches a picture from its URL when the welcome is sent, so it must be one this installation answers. The store
    poster's welcome also sends a material from the library."""
    from siyu.demo import image_url

    return {
        "sh01_poster": [{"msgtype": "link", "link": {"title": "本周新品：桂花乌龙", "url": "https://example.com/menu",
                                                     "desc": "限时第二杯半价", "picurl": image_url("menu-osmanthus-oolong.png")}},
                        *_material(org, "会员日优惠券")],
        "xhs_note": [{"msgtype": "image", "image": {"pic_url": image_url("coupon.png")}}],
        "x_tissue_tea": [{"msgtype": "link", "link": {"title": "柔云纸巾 × 山茶物语下午茶", "url": "https://example.com/tea",
                                                      "desc": "新客红包已发放", "picurl": image_url("afternoon-tea.png")}}],
    }.get(state, [])


def ensure_channel_demo(org) -> None:
    if not WelcomeMessage.objects.for_org(org).filter(code=None, staff=None).exists():
        services.save_welcome_message(org, text=DEFAULT_WELCOME)
    staff = {s.userid: s for s in Staff.objects.for_org(org).filter(status=Staff.Status.ACTIVE)}
    tags = {t.name: t for t in Tag.objects.for_org(org).filter(kind=Tag.Kind.CORP, deleted=False).exclude(wecom_id="")}
    for spec in CODES:
        if ChannelState.objects.for_org(org).filter(state=spec["state"]).exists():
            continue
        people = [staff[u] for u in spec["staff"] if u in staff]
        if not people:
            continue
        data = {**spec, "staff": people, "welcome_attachments": welcome_attachments(org, spec["state"]), "backup_staff": [staff[u] for u in spec.get("backup_staff", []) if u in staff],
                "tags": [tags[name] for name in spec.get("tags", []) if name in tags]}
        by_userid = {s.userid: s.pk for s in people}
        data["time_slots"] = [{**slot, "staff": [by_userid[u] for u in slot["staff"] if u in by_userid]}
                              for slot in spec.get("time_slots", [])]
        try:
            services.create_channel_code(org, **data)
        except ValidationError as error:
            log.warning("demo channel code %s not created: %s", spec["state"], error.messages)
