"""Materials from the library (素材库) in welcome messages: chosen in the console, stored as a reference, and turned
into their WeCom attachment only when a welcome is sent.

A welcome message's ``attachments`` list holds WeCom attachment objects and, beside them, references
``{"msgtype": "material", "material": {"id": 42}}``. A reference is resolved at send time with
:func:`siyu.tracking.links.attachment_for` (articles and links as tracked cards, media as media), so a message
always sends the material as it is now, and a material withdrawn or rejected after it was chosen is skipped (the
console warns beside that welcome). Welcome messages go
out for many guides, so only HQ's approved materials can be chosen, never one guide's personal material. Their files
go to WeCom through :mod:`siyu.wecom.media` like every other attachment: uploaded once, again after three days.
"""

from __future__ import annotations

import logging

from django.utils.translation import gettext as _

from siyu.content.models import Material, Scope
from siyu.tracking import links
from siyu.wecom import attachments as wecom_attachments

log = logging.getLogger(__name__)

KIND = "material"


def reference(material_id: int) -> dict:
    return {"msgtype": KIND, KIND: {"id": int(material_id)}}


def is_reference(attachment) -> bool:
    return isinstance(attachment, dict) and attachment.get("msgtype") == KIND


def referenced_id(attachment) -> int | None:
    body = attachment.get(KIND) if is_reference(attachment) else None
    value = body.get("id") if isinstance(body, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sendable(rows):
    return rows.filter(scope=Scope.HQ, status=Material.Status.APPROVED).order_by("kind", "title", "pk")


def choosable(viewer):
    """The materials ``viewer`` may put in a welcome message: HQ's approved materials."""
    return _sendable(Material.objects.visible_to(viewer))


def clean_list(org, raws, *, limit: int = wecom_attachments.MAX) -> tuple[list[dict], list[str]]:
    """Attachments and material references in their stored shape, and what is wrong (numbered per attachment).

    A reference must name an approved HQ material of ``org``; the limit counts references like any attachment."""
    if not isinstance(raws, list):
        return [], [_("附件格式不正确。")]
    problems = []
    if len(raws) > limit:
        problems.append(_("最多 %(max)d 个附件，当前 %(n)d 个。") % {"max": limit, "n": len(raws)})
    wanted = {referenced_id(raw) for raw in raws if is_reference(raw)} - {None}
    usable = set()
    if wanted and org is not None:
        usable = set(_sendable(Material.objects.for_org(org)).filter(pk__in=wanted).values_list("pk", flat=True))
    cleaned = []
    for index, raw in enumerate(raws[:limit], 1):
        if is_reference(raw):
            material_id = referenced_id(raw)
            if material_id in usable:
                cleaned.append(reference(material_id))
            else:
                problems.append(_("第 %(n)d 个附件：素材不存在或未通过审核。") % {"n": index})
            continue
        attachment, wrong = wecom_attachments.clean(raw)
        problems += [_("第 %(n)d 个附件：%(message)s") % {"n": index, "message": message} for message in wrong]
        if attachment is not None:
            cleaned.append(attachment)
    return cleaned, problems


def _materials(org_id: int, attachments) -> dict[int, Material]:
    ids = {referenced_id(a) for a in attachments or [] if is_reference(a)} - {None}
    return Material.objects.for_org(org_id).in_bulk(ids) if ids else {}


def resolved(org_id: int, attachments, *, customer=None, staff=None) -> list[dict]:
    """The attachments to send now: references replaced by their material's attachment; a material no longer
    approved (withdrawn, rejected, changed and back in review, deleted) is left out.

    Articles and links go as cards to their tracked address (channel 「欢迎语」, for ``customer`` from ``staff``);
    images, files and videos as WeCom media, so the customer sees them in the chat. A first add is welcomed before
    Siyu knows the customer, so its links are tracked for the guide and the welcome, not for one customer."""
    found = _materials(org_id, attachments)
    out = []
    for attachment in attachments or []:
        if not is_reference(attachment):
            out.append(attachment)
            continue
        material = found.get(referenced_id(attachment))
        if material is None or material.status != Material.Status.APPROVED:
            log.info("welcome material %s skipped: no longer approved", referenced_id(attachment))
            continue
        out.append(links.attachment_for(material, customer=customer, staff=staff, channel=links.Channel.WELCOME,
                                        tracked=False))
    return out


def unusable(org_id: int, attachments) -> list[str]:
    """What the console warns about: the titles of referenced materials that would be skipped if sent now."""
    found = _materials(org_id, attachments)
    titles = []
    for attachment in attachments or []:
        if is_reference(attachment):
            material = found.get(referenced_id(attachment))
            if material is None:
                titles.append(_("（已删除的素材）"))
            elif material.status != Material.Status.APPROVED:
                titles.append(f"{material.title}（{material.get_status_display()}）")
    return titles


def summary(org_id: int, attachments) -> list[tuple[str, str]]:
    """(kind, one line) per attachment, for the code's page: a material by its title."""
    found = _materials(org_id, attachments)
    rows = []
    for attachment in attachments or []:
        if is_reference(attachment):
            material = found.get(referenced_id(attachment))
            rows.append((KIND, material.title if material else _("（已删除的素材）")))
        else:
            rows.append((attachment.get("msgtype", ""), wecom_attachments.summary(attachment)))
    return rows
