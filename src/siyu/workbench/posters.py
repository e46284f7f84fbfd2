"""Posters per guide (我的海报): an approved poster material's background with the guide's personal code drawn in
its QR area, and their name under it when the material asks for it.

A guide's **personal code** is an active channel code whose only staff member — primary and backup — is them: the
WeCom 「联系我」 of one person, so every customer who scans their poster adds them and no colleague. When they have
several, the one they are responsible for (owner) comes first, then the oldest, so a printed poster stays the same.
A guide without one gets no poster (the page says so): a code shared with colleagues would hand their customers
to someone else. The QR is the code's Siyu landing address (:func:`siyu.channels.qr.landing_url`), which never
changes while the code lives.

A poster is drawn once per (material version, code, guide name, drawing version) and kept in the cache, so a page
of posters or many downloads do not redraw it.
"""

from __future__ import annotations

import hashlib
import io

import segno
from django.core.cache import cache
from django.db.models import Case, IntegerField, Value, When
from PIL import Image, ImageDraw, ImageOps

from siyu.channels import qr
from siyu.channels.models import ChannelCode, ChannelStaff
from siyu.content.models import Material
from siyu.orgs.models import Membership, Staff

DRAWING_VERSION = 2  # bump when the drawing changes, so cached posters are drawn again
CACHED_FOR = 7 * 86400
MAX_SIDE = 1600  # a phone saves and forwards the poster; larger backgrounds are scaled down first
MIN_MODULE_PIXELS = 6
NAME_GAP = 0.04  # the name label's gap and height, as parts of the QR's width
NAME_HEIGHT = 0.22


def personal_code(viewer: Membership, guide: Membership) -> ChannelCode | None:
    """``guide``'s personal code as ``viewer`` may see it (see the module's docstring), or None."""
    staff = Staff.objects.for_org(guide.org_id).filter(membership=guide, status=Staff.Status.ACTIVE).first()
    if staff is None:
        return None
    links = ChannelStaff.objects.for_org(guide.org_id)
    return (ChannelCode.objects.visible_to(viewer)
            .filter(status=ChannelCode.Status.ACTIVE, pk__in=links.filter(staff=staff).values("code_id"))
            .exclude(pk__in=links.exclude(staff=staff).values("code_id"))
            .annotate(theirs=Case(When(owner=guide, then=Value(0)), default=Value(1), output_field=IntegerField()))
            .order_by("theirs", "created_at", "pk").select_related("org").first())


def guide_name(guide: Membership) -> str:
    staff = getattr(guide, "staff", None)
    return (staff.name if staff is not None and staff.name else "") or guide.user.name


def _key(material: Material, code: ChannelCode, name: str) -> str:
    version = f"{DRAWING_VERSION}|{material.pk}|{material.updated_at.isoformat()}|{material.file.name}|" \
              f"{material.qr_left},{material.qr_top},{material.qr_size},{material.qr_name}|{qr.landing_url(code)}|" \
              f"{name if material.qr_name else ''}|{qr.font_path()}"
    return f"workbench-poster:{material.org_id}:{hashlib.sha256(version.encode()).hexdigest()}"


def poster_png(material: Material, code: ChannelCode, *, name: str) -> bytes:
    """The PNG of ``material`` with ``code`` in its QR area (and ``name`` if it asks), from the cache or drawn now."""
    key = _key(material, code, name)
    png = cache.get(key)
    if png is None:
        png = draw(material, code, name=name if material.qr_name else "")
        cache.set(key, png, timeout=CACHED_FOR)
    return png


def draw(material: Material, code: ChannelCode, *, name: str = "") -> bytes:
    with material.file.open("rb") as stored:
        background = ImageOps.exif_transpose(Image.open(stored)).convert("RGB")
    symbol = segno.make(qr.landing_url(code), error="m", micro=False)
    modules = symbol.symbol_size(scale=1, border=2)[0]
    # A small background is enlarged until the QR area holds MIN_MODULE_PIXELS per module (phones must scan it
    # from a screen); a large one is reduced to MAX_SIDE.
    wanted = modules * MIN_MODULE_PIXELS * 100 / max(material.qr_size, 1) / background.size[0]
    factor = min(max(wanted, 1.0), MAX_SIDE / max(background.size))
    if factor != 1.0:
        background = background.resize((round(background.size[0] * factor), round(background.size[1] * factor)),
                                       Image.LANCZOS)
    width, height = background.size
    side = max(round(width * material.qr_size / 100), 1)
    left = min(round(width * material.qr_left / 100), width - side)
    top = min(round(height * material.qr_top / 100), height - side)
    buffer = io.BytesIO()
    # Whole pixels per module keep every module the same size (sharp when printed); the white quiet zone keeps it
    # scannable on any background, and the area's remainder is white too.
    symbol.save(buffer, kind="png", scale=max(side // modules, 1), border=2)
    code_image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    background.paste(qr.WHITE, (left, top, left + side, top + side))
    offset = (side - code_image.size[0]) // 2
    background.paste(code_image, (left + max(offset, 0), top + max(offset, 0)))
    if name:
        _label(background, name, left=left, top=top, side=side)
    out = io.BytesIO()
    background.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _label(image: Image.Image, name: str, *, left: int, top: int, side: int) -> None:
    """The guide's name on a white label right under the code (above it when there is no room below)."""
    gap, height = max(round(side * NAME_GAP), 2), max(round(side * NAME_HEIGHT), 14)
    y = top + side + gap if top + side + gap + height <= image.size[1] else max(top - gap - height, 0)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((left, y, left + side, y + height), radius=height // 3, fill=qr.WHITE)
    size = round(height * 0.62)
    font = qr.font(size)
    text = qr.drawable(font, name)
    while text and draw.textlength(text, font=font) > side * 0.92 and size > 8:
        size -= 2
        font = qr.font(size)
    box = draw.textbbox((0, 0), text, font=font)
    draw.text((left + (side - (box[2] - box[0])) / 2 - box[0], y + (height - (box[3] - box[1])) / 2 - box[1]), text,
              font=font, fill=(33, 37, 41))
