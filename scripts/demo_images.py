"""Draw the demo brand's images (welcome-message covers, a coupon, customer avatars) into the package's static
files, so the demo never points at a host it cannot reach. Run once after changing a drawing; the PNGs are
committed:

    python scripts/demo_images.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "src" / "siyu" / "console" / "static" / "demo"
TEA = (46, 125, 90)
CREAM = (250, 244, 230)
AVATAR_COLOURS = [(231, 111, 81), (42, 157, 143), (233, 196, 106), (38, 70, 83), (244, 162, 97), (106, 76, 147)]


def cup(draw: ImageDraw.ImageDraw, x: int, y: int, size: int, colour) -> None:
    """A tea cup with steam: the brand's one motif."""
    w, h = size, int(size * 0.8)
    draw.rounded_rectangle([x, y + size // 4, x + w, y + size // 4 + h], radius=size // 6, fill=colour)
    draw.ellipse([x + w - size // 8, y + size // 2 - size // 8, x + w + size // 4, y + size // 2 + size // 4],
                 outline=colour, width=max(size // 14, 2))
    for i in range(3):
        sx = x + w // 4 + i * w // 4
        draw.arc([sx - size // 12, y - size // 10, sx + size // 12, y + size // 6], 200, 340, fill=colour,
                 width=max(size // 20, 2))


def cover(name: str, background, accent) -> None:
    image = Image.new("RGB", (300, 300), background)
    draw = ImageDraw.Draw(image)
    draw.ellipse([40, 40, 260, 260], fill=CREAM)
    cup(draw, 95, 90, 100, accent)
    image.save(OUT / name, optimize=True)


def coupon() -> None:
    image = Image.new("RGB", (600, 300), CREAM)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([20, 20, 580, 280], radius=24, fill=TEA)
    for y in range(40, 270, 24):
        draw.ellipse([404, y, 416, y + 12], fill=CREAM)
    cup(draw, 440, 90, 100, CREAM)
    draw.rectangle([60, 110, 360, 130], fill=CREAM)
    draw.rectangle([60, 160, 300, 176], fill=(200, 230, 210))
    image.save(OUT / "coupon.png", optimize=True)


def avatars() -> None:
    for n, colour in enumerate(AVATAR_COLOURS):
        image = Image.new("RGB", (96, 96), colour)
        draw = ImageDraw.Draw(image)
        draw.ellipse([30, 14, 66, 50], fill=CREAM)
        draw.pieslice([14, 56, 82, 124], 180, 360, fill=CREAM)
        image.save(OUT / f"avatar-{n}.png", optimize=True)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    cover("menu-osmanthus-oolong.png", TEA, (196, 140, 40))
    cover("afternoon-tea.png", (196, 140, 40), TEA)
    coupon()
    avatars()
