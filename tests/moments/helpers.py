"""A brand wired to the simulator for moments: staff, customers and a corp tag on both sides, and small files."""

from __future__ import annotations

import io

from PIL import Image

from siyu.customers.models import Relation, RelationTag, Tag, TagGroup
from siyu.moments.services import Upload


def png(color=(200, 40, 40), name: str = "poster.png") -> Upload:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return Upload(name, buffer.getvalue())


def mp4(name: str = "clip.mp4") -> Upload:
    # The first box of an MP4 file: its size, "ftyp", a brand; enough for both Siyu's and the simulator's checks.
    return Upload(name, b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64)


def corp_tag(corp, name: str) -> Tag:
    """A tag made in WeCom's admin console and synced into Siyu (same wecom_id on both sides)."""
    made = corp.sim.admin_add_tags([name], group_name=f"{name}组")
    group, _ = TagGroup.objects.get_or_create(org=corp.org, wecom_id=made["group_id"], defaults={"name": f"{name}组"})
    return Tag.objects.create(org=corp.org, group=group, wecom_id=made["tags"][0]["id"], name=name)


def tag(corp, tag: Tag, staff, customers) -> None:
    """``staff`` put ``tag`` on ``customers``, in WeCom and in Siyu."""
    for customer in customers:
        corp.sim.state.relation(staff.userid, customer.external_userid).tag_ids.append(tag.wecom_id)
        relation = Relation.objects.for_org(corp.org).get(staff=staff, customer=customer)
        RelationTag.objects.create(org=corp.org, relation=relation, tag=tag)
