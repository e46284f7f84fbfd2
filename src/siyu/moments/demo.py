"""The demo brand's moments: one published through every staff member to all their customers, and a promotional
draft for customers who follow offers, waiting for its dry run. Idempotent: nothing is added once the brand has
moments."""

from __future__ import annotations

from pathlib import Path

from siyu.customers.models import Tag
from siyu.moments import services
from siyu.moments.models import Moment

PICTURES = Path(__file__).resolve().parent.parent / "console" / "static" / "demo"


def ensure_moments_demo(org) -> None:
    if Moment.objects.for_org(org).exists():
        return
    followers = Tag.objects.for_org(org).filter(name="关注优惠", deleted=False).exclude(wecom_id="").first()
    tea = services.Upload("afternoon-tea.png", (PICTURES / "afternoon-tea.png").read_bytes())
    oolong = services.Upload("menu-osmanthus-oolong.png", (PICTURES / "menu-osmanthus-oolong.png").read_bytes())
    published = services.create_moment(
        org, by=None, text="桂花乌龙上新啦～秋天的第一杯茶，到店尝尝看。", kind=Moment.Kind.IMAGES, files=[tea, oolong])
    services.schedule_moment(published, by=None)
    coupon = services.Upload("coupon.png", (PICTURES / "coupon.png").read_bytes())
    services.create_moment(org, by=None, text="周三会员日，全场第二杯半价，到店出示会员码即可。", kind=Moment.Kind.IMAGES,
                           files=[coupon], promotional=True, tag_ids=[followers.pk] if followers else [])
