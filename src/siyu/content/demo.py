"""The demo brand's material library: approved HQ materials of several kinds, one in review that the checker
flags, and a guide's own draft. Idempotent: skipped once the brand has materials."""

from __future__ import annotations

from pathlib import Path

from django.core.files.base import ContentFile

from siyu.content import materials
from siyu.content.models import Material, Scope
from siyu.orgs.models import Membership

PICTURES = Path(__file__).resolve().parent.parent / "console" / "static" / "demo"


def _picture(name: str, shown: str) -> ContentFile:
    return ContentFile((PICTURES / name).read_bytes(), name=shown)


def load_material_demo(org) -> None:
    if Material.objects.for_org(org).exists():
        return
    members = {m.user.username: m for m in Membership.objects.for_org(org).select_related("user")}
    hq, guide = members["demo_hq"], members["demo_guide_sh01"]
    season = materials.create_folder(org, name="秋冬上新", scope=Scope.HQ, by=hq)
    members_day = materials.create_folder(org, name="会员活动", scope=Scope.HQ, by=hq)
    approved = [
        dict(kind="article", folder=season, title="秋冬新品｜一杯桂花乌龙的午后", summary="本周到店，新品试饮",
             body="<h2>桂花乌龙上新</h2><p>今年的桂花香气更足，搭配<strong>高山乌龙</strong>，适合秋冬的午后。</p>"
                  "<ul><li>到店试饮</li><li>会员第二杯半价</li></ul>",
             cover=_picture("afternoon-tea.png", "桂花乌龙.png"), tags="秋冬 新品", source="original"),
        dict(kind="image", folder=members_day, title="会员日优惠券", file=_picture("coupon.png", "会员日优惠券.png"), tags="会员 优惠券",
             source="original"),
        dict(kind="poster", folder=season, title="新品菜单海报", file=_picture("menu-osmanthus-oolong.png", "新品菜单.png"),
             qr_left=70, qr_top=70, qr_size=22, qr_name=True, tags="新品 海报", source="original"),
        dict(kind="link", folder=members_day, title="会员权益说明", url="https://example.com/member",
             summary="积分、生日礼和专属活动", tags="会员", source="quoted", source_text="品牌官网会员页"),
    ]
    for data in approved:
        material = materials.save_material(org, scope=Scope.HQ, by=hq, **data)
        materials.submit_for_review(material, by=hq)
        materials.approve_material(material, by=hq)
    flagged = materials.save_material(org, kind="article", scope=Scope.HQ, by=hq, folder=season,
                                      title="国家级茶艺师推荐", summary="全网最低价，错过再等一年",
                                      body="<p>国家级茶艺师亲自拼配，全网最低价。</p>", tags="新品", source="original")
    materials.submit_for_review(flagged, by=hq)
    materials.save_material(org, kind="link", scope=Scope.PERSONAL, by=guide, title="我的门店地图",
                            url="https://example.com/store/sh01", tags="门店", source="original")
