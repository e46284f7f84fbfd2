"""One-tap send from the sidebar: the ``sendChatMessage`` message (DOC 96935) for a script or a material, made
on the server so only content the guide may send leaves it, and the page hands it to WeCom as it is.

A script goes as text with its variables filled for this customer and guide, and counts as one use. A material
goes as what WeCom shows best: an article or a link as a card (``news``) whose address is the customer's own
tracked link (channel "sidebar", :mod:`siyu.tracking.links`), a mini-program as its card, and an image, poster,
file, PDF or video as WeCom media, uploaded once through :mod:`siyu.wecom.media` and again once its
three days are over (``renew``: WeCom refused the remembered one). Uploads are WeCom calls: no transaction here.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from siyu.content import materials, scripts, variables
from siyu.content.models import Material
from siyu.core.inputs import MAX_INT
from siyu.customers.models import Customer
from siyu.customers.tags import staff_of
from siyu.orgs.models import Membership
from siyu.tracking import links
from siyu.tracking.models import TrackedLink
from siyu.wecom import media
from siyu.wecom.client import WeComClient

# material kind -> sendChatMessage msgtype for WeCom media
MEDIA_KINDS = {Material.Kind.IMAGE: "image", Material.Kind.POSTER: "image", Material.Kind.FILE: "file",
               Material.Kind.PDF: "file", Material.Kind.VIDEO: "video"}


def script_message(viewer: Membership, customer: Customer | None, script_id) -> dict:
    """The text message of a script the viewer may use, variables filled; the use is counted."""
    script = scripts.usable_by(viewer).filter(pk=_pk(script_id, "script")).first()
    if script is None:
        raise ValidationError({"script": _("只能发送审核通过的话术或你自己的个人话术。")})
    text = variables.render(script.body, customer=customer, guide=viewer)
    scripts.record_use(script, by=viewer)
    return {"msgtype": "text", "text": {"content": text}}


def material_message(viewer: Membership, customer: Customer, material_id, *, renew: bool = False) -> dict:
    """The message that sends an approved material the viewer may send to ``customer``."""
    material = materials.sendable_by(viewer).filter(pk=_pk(material_id, "material")).first()
    if material is None:
        raise ValidationError({"material": _("只能发送审核通过的素材。")})
    attachment = links.attachment_for(material, customer=customer, staff=staff_of(viewer),
                                      channel=TrackedLink.Channel.SIDEBAR, tracked=False)
    kind = attachment["msgtype"]
    body = attachment[kind]
    if material.kind in MEDIA_KINDS:
        msgtype = MEDIA_KINDS[material.kind]
        source = body.get("pic_url") or body.get("media_id")
        with WeComClient.for_org(viewer.org_id) as client:
            media_id = media.temporary_media_id(client, viewer.org_id, source, msgtype, renew=renew)
        return {"msgtype": msgtype, msgtype: {"mediaid": media_id}}
    if kind == "miniprogram":
        return {"msgtype": "miniprogram", "miniprogram": {
            "appid": body["appid"], "title": body["title"], "imgUrl": materials.file_url(material, "cover"),
            "page": body["page"]}}
    return {"msgtype": "news", "news": {"link": body["url"], "title": body["title"], "desc": body.get("desc", ""),
                                        "imgUrl": body.get("picurl", "")}}


def _pk(value, field: str) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        pk = 0
    if not 0 < pk <= MAX_INT:
        raise ValidationError({field: _("请选择要发送的内容。")})
    return pk
