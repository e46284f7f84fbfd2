"""Tracked links: the per-recipient address of a material that a send path puts in a message.

``tracked_url`` gives the same address for the same material, recipient, sender and channel however often it is
asked, so a resent material is one send. ``attachment_for`` is :func:`siyu.content.materials.to_attachment` with
the link card pointing at the tracked address; every kind can go as such a card, since the tracked page shows each
kind (an image, a video, a PDF …). ``tracked=False`` keeps images, files and videos as WeCom media, untracked.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from siyu.content import materials
from siyu.content.models import Material
from siyu.tracking.models import TrackedLink
from siyu.wecom import attachments

# 9 random bytes: 12 URL-safe characters, 2**72 addresses, so nobody finds a link by trying.
TOKEN_BYTES = 9
Channel = TrackedLink.Channel
Kind = Material.Kind


def link_for(material: Material, *, customer, staff, channel: str) -> TrackedLink:
    """The one tracked link of ``material`` sent to ``customer`` by ``staff`` through ``channel`` (made once)."""
    if channel not in Channel.values:
        raise ValidationError({"channel": f"unknown channel {channel!r}"})
    if material.status != Material.Status.APPROVED:
        raise ValidationError(_("只有审核通过的素材可以发送。"))
    target = {"org_id": material.org_id, "material": material, "channel": channel,
              "customer_id": getattr(customer, "pk", customer), "staff_id": getattr(staff, "pk", staff)}
    existing = TrackedLink.objects.for_org(material.org_id).filter(**target).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return TrackedLink.objects.create(token=secrets.token_urlsafe(TOKEN_BYTES), **target)
    except IntegrityError:  # another request made it meanwhile
        return TrackedLink.objects.for_org(material.org_id).get(**target)


def url_of(link: TrackedLink) -> str:
    return settings.PUBLIC_URL.rstrip("/") + reverse("tracking:page", args=[link.token])


def tracked_url(material: Material, *, customer, staff, channel: str) -> str:
    """The tracked address of ``material`` for this recipient, sender and channel; the same one every time."""
    return url_of(link_for(material, customer=customer, staff=staff, channel=channel))


def attachment_for(material: Material, *, customer, staff, channel: str, tracked: bool = True) -> dict:
    """The WeCom attachment that sends ``material`` to ``customer`` as a link card to its tracked page.

    Articles, links and every file kind become a card whose address is the tracked one; a mini-program has no
    web address and goes as it is. With ``tracked=False`` images, files and videos go as WeCom media (the
    customer sees them inside WeCom, and nothing is recorded), articles and links still as tracked cards.
    """
    plain = materials.to_attachment(material)
    if material.kind == Kind.MINIPROGRAM or (not tracked and plain["msgtype"] != "link"):
        return plain
    url = tracked_url(material, customer=customer, staff=staff, channel=channel)
    if plain["msgtype"] == "link":
        return {"msgtype": "link", "link": {**plain["link"], "url": url}}
    flat = dict.fromkeys(attachments.FLAT_FIELDS, "")
    flat.update(kind="link", title=_fit(material.title, attachments.LINK_TITLE_MAX_BYTES),
                desc=_fit(material.summary or str(Kind(material.kind).label), attachments.LINK_DESC_MAX_BYTES),
                url=url, pic_url=materials.file_url(material) if material.kind in (Kind.IMAGE, Kind.POSTER) else "")
    problems = attachments.errors(flat)
    if problems:
        raise ValidationError(problems)
    return attachments.unflatten(flat)


def _fit(text: str, max_bytes: int) -> str:
    """``text`` cut to ``max_bytes`` of UTF-8 (file materials' titles are not held to a card's limit)."""
    while attachments.byte_length(text) > max_bytes:
        text = text[:-1]
    return text
