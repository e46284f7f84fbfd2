"""QR codes (segno) and printable posters (Pillow) for group codes and store codes.

A printed QR points to Siyu's page for the code (``/h5/group/…`` or ``/h5/store/…``), never to WeCom's image:
WeCom's join way changes when a code is paused and resumed, and a store code is not one WeCom code at all. The
page shows WeCom's current QR to long-press, so posters keep working.
"""

from __future__ import annotations

import io

import segno
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont

from siyu.groups.models import GroupCode, StoreCode

POSTER_SIZE = (750, 1200)
BACKGROUND = (16, 62, 54)
ACCENT = (30, 160, 110)
WHITE = (255, 255, 255)
MUTED = (206, 229, 220)


def landing_url(code: GroupCode | StoreCode) -> str:
    name = "groups:group_landing" if isinstance(code, GroupCode) else "groups:store_page"
    return f"{settings.PUBLIC_URL}{reverse(name, kwargs={'slug': code.org.slug, 'public_id': code.public_id})}"


def qr_png(code: GroupCode | StoreCode, *, scale: int = 10, border: int = 2) -> bytes:
    buffer = io.BytesIO()
    segno.make(landing_url(code), error="m", micro=False).save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()


def _font(size: int):
    try:
        from siyu.channels.qr import font_path  # the channels app knows where the machine keeps CJK fonts

        path = font_path()
    except ImportError:  # pragma: no cover
        path = None
    if path:
        try:
            return ImageFont.truetype(path, size), ("CJK" in path or "wqy" in path or "Droid" in path or "PingFang" in path)
        except OSError:
            pass
    return ImageFont.load_default(size), False


def _centered(draw, y: int, text: str, size: int, fill) -> int:
    font, cjk = _font(size)
    if not cjk:  # a font without Chinese glyphs draws boxes: keep what it can draw
        text = "".join(ch for ch in text if ord(ch) < 0x2E80).strip()
    if not text:
        return y
    box = draw.textbbox((0, 0), text, font=font)
    draw.text(((POSTER_SIZE[0] - (box[2] - box[0])) / 2 - box[0], y - box[1]), text, font=font, fill=fill)
    return y + box[3] - box[1]


def poster_png(code: GroupCode | StoreCode) -> bytes:
    """750×1200: brand, the code's name, a call to action and the QR code on a white card."""
    group = isinstance(code, GroupCode)
    image = Image.new("RGB", POSTER_SIZE, BACKGROUND)
    draw = ImageDraw.Draw(image)
    y = _centered(draw, 90, code.org.name, 34, MUTED) + 40
    y = _centered(draw, y, code.name[:18], 52, WHITE) + 28
    tagline = _("扫码加入福利群，新品和优惠第一时间知道") if group else _("扫码找到离你最近的门店")
    y = _centered(draw, y, tagline, 28, MUTED) + 48
    card = 480
    left = (POSTER_SIZE[0] - card) // 2
    draw.rounded_rectangle((left, y, left + card, y + card), radius=24, fill=WHITE)
    qr_image = Image.open(io.BytesIO(qr_png(code, scale=12, border=1))).convert("RGB")
    image.paste(qr_image.resize((card - 60, card - 60), Image.Resampling.NEAREST), (left + 30, y + 30))
    y += card + 40
    draw.rounded_rectangle((POSTER_SIZE[0] // 2 - 150, y, POSTER_SIZE[0] // 2 + 150, y + 64), radius=32, fill=ACCENT)
    _centered(draw, y + 16, _("长按识别二维码"), 28, WHITE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
