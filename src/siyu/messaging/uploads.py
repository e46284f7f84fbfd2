"""Images an operator uploads for a mass message, kept where :mod:`siyu.wecom.media` can fetch them.

WeCom takes an image attachment only as a ``media/uploadimg`` URL or a ``media_id``; ``media.py`` uploads a source
URL just before the send. An uploaded file therefore gets a public, unguessable URL under Siyu's own
``PUBLIC_URL`` (which ``media.py`` is allowed to fetch). The file is decoded and encoded again as PNG or JPEG: what
is served is only pixels — no EXIF (a phone photo's GPS position and device), no script disguised as an image.
"""

from __future__ import annotations

import io
import re
import secrets
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

# media/uploadimg takes a JPG or PNG of at most 2 MB; re-encoding keeps the file inside that.
MAX_BYTES = 2 * 1024 * 1024
MAX_SIDE = 4096
NAME = re.compile(r"^[A-Za-z0-9_-]{32}\.(png|jpg)$")


def folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "mass"


def store_image(upload) -> str:
    """Decode ``upload``, store it re-encoded and answer its public URL; a file that is not a usable image is a
    ValidationError on ``images`` and nothing is stored."""
    if upload.size > MAX_BYTES * 5:
        raise ValidationError({"images": _("图片“%(name)s”太大，最多 10 MB。") % {"name": upload.name}})
    try:
        image = Image.open(upload)
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ValidationError({"images": _("“%(name)s”不是可用的图片（支持 JPG、PNG）。") % {"name": upload.name}}) from None
    if image.format not in ("JPEG", "PNG"):
        raise ValidationError({"images": _("“%(name)s”不是 JPG 或 PNG 图片。") % {"name": upload.name}})
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    png = image.format == "PNG"
    out = io.BytesIO()
    if png:
        image.save(out, "PNG", optimize=True)
    else:
        image.convert("RGB").save(out, "JPEG", quality=85)
    if out.tell() > MAX_BYTES:
        raise ValidationError({"images": _("图片“%(name)s”压缩后仍超过 2 MB。") % {"name": upload.name}})
    name = f"{secrets.token_urlsafe(24)}.{'png' if png else 'jpg'}"
    folder().mkdir(parents=True, exist_ok=True)
    (folder() / name).write_bytes(out.getvalue())
    return settings.PUBLIC_URL.rstrip("/") + reverse("messaging:mass_image", args=[name])


def path_of(name: str) -> Path | None:
    """The stored file named ``name``, or None for a name Siyu never gives out."""
    if not NAME.match(name):
        return None
    path = folder() / name
    return path if path.is_file() else None
