"""QR codes (segno) and printable posters (Pillow) for channel codes.

The printed QR points to the code's landing page in Siyu (``/c/<org>/<public_id>/``), which shows WeCom's
current 「联系我」 code to long-press. ``public_id`` never changes, so a printed poster keeps working when the
code's state, staff or even its WeCom contact way change.

Posters need a font with Chinese glyphs: ``SIYU_POSTER_FONT`` (a .ttf/.ttc path) if set, else the first
Noto CJK / WenQuanYi / Droid font found on the machine, else DejaVu, else Pillow's built-in font. Without a
CJK font Chinese text cannot be drawn, so the poster then shows only what the font can draw.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache

import segno
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont

from siyu.channels.models import ChannelCode

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
POSTER_SIZE = (750, 1050)
BACKGROUND = (21, 35, 59)
ACCENT = (43, 108, 246)
WHITE = (255, 255, 255)
MUTED = (201, 211, 227)


def landing_url(code: ChannelCode) -> str:
    path = reverse("channels:landing", kwargs={"slug": code.org.slug, "public_id": code.public_id})
    return f"{settings.PUBLIC_URL}{path}"


def _qr(code: ChannelCode):
    return segno.make(landing_url(code), error="m", micro=False)


def qr_png(code: ChannelCode, *, scale: int = 10, border: int = 2) -> bytes:
    buffer = io.BytesIO()
    _qr(code).save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()


def qr_svg(code: ChannelCode, *, scale: int = 10, border: int = 2) -> bytes:
    buffer = io.BytesIO()
    _qr(code).save(buffer, kind="svg", scale=scale, border=border, xmldecl=True, svgns=True)
    return buffer.getvalue()


@lru_cache(maxsize=1)
def font_path() -> str | None:
    configured = os.environ.get("SIYU_POSTER_FONT")
    for path in ([configured] if configured else []) + list(FONT_CANDIDATES):
        if path and os.path.exists(path):
            return path
    return None


def font(size: int):
    path = font_path()
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    return ImageFont.load_default(size)


def drawable(font, text: str) -> str:
    """Drop the characters the font has no glyph for (a font without CJK draws boxes otherwise)."""
    path = font_path() or ""
    if "CJK" in path or "wqy" in path or "Droid" in path or "PingFang" in path:
        return text
    return "".join(ch for ch in text if ord(ch) < 0x2E80).strip()


def _centered(draw: ImageDraw.ImageDraw, y: int, text: str, font, fill) -> int:
    text = drawable(font, text)
    if not text:
        return y
    box = draw.textbbox((0, 0), text, font=font)
    width, height = box[2] - box[0], box[3] - box[1]
    draw.text(((POSTER_SIZE[0] - width) / 2 - box[0], y - box[1]), text, font=font, fill=fill)
    return y + height


def _wrap(text: str, font, width: int, draw) -> list[str]:
    lines, line = [], ""
    for ch in text:
        if draw.textlength(line + ch, font=font) > width and line:
            lines.append(line)
            line = ch
        else:
            line += ch
    if line:
        lines.append(line)
    return lines[:3]


def poster_png(code: ChannelCode, *, headline: str | None = None, tagline: str | None = None) -> bytes:
    """A 750×1050 poster: brand, channel name, a call to action and the QR code on a white card."""
    tagline = tagline if tagline is not None else _("扫码添加专属顾问，领取新人福利")
    image = Image.new("RGB", POSTER_SIZE, BACKGROUND)
    draw = ImageDraw.Draw(image)
    y = _centered(draw, 90, code.org.name, font(34), MUTED) + 36
    title_font = font(52)
    for line in _wrap(headline or code.name, title_font, POSTER_SIZE[0] - 120, draw):
        y = _centered(draw, y, line, title_font, WHITE) + 18
    y = _centered(draw, y + 12, tagline, font(28), MUTED) + 48
    card = 480
    left = (POSTER_SIZE[0] - card) // 2
    draw.rounded_rectangle((left, y, left + card, y + card), radius=24, fill=WHITE)
    symbol = _qr(code)
    modules = symbol.symbol_size(scale=1, border=1)[0]
    scale = (card - 40) // modules  # whole pixels per module: every module the same size, sharp when printed
    buffer = io.BytesIO()
    symbol.save(buffer, kind="png", scale=scale, border=1)
    qr_image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    offset = (card - qr_image.size[0]) // 2
    image.paste(qr_image, (left + offset, y + offset))
    y += card + 40
    draw.rounded_rectangle((POSTER_SIZE[0] // 2 - 150, y, POSTER_SIZE[0] // 2 + 150, y + 64), radius=32, fill=ACCENT)
    _centered(draw, y + 16, _("长按识别二维码"), font(28), WHITE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
