"""Files and materials for the material library's tests: real (tiny) JPEG, PNG, PDF and MP4 bytes."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from siyu.content import materials
from siyu.content.models import Scope


def picture(name="poster.jpg", size=(40, 30), fmt="JPEG") -> SimpleUploadedFile:
    data = io.BytesIO()
    Image.new("RGB", size, (200, 80, 60)).save(data, fmt)
    return SimpleUploadedFile(name, data.getvalue(), content_type="image/jpeg")


def pdf(name="guide.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4\n" + b"x" * 200, content_type="application/pdf")


def mp4(name="clip.mp4") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200, content_type="video/mp4")


# A valid material of each kind: the arguments save_material takes beside org, by and scope.
def valid(kind: str) -> dict:
    base = {"kind": kind, "title": f"秋冬新品{kind}", "summary": "本周到店", "tags": "秋冬 新品"}
    extra = {
        "article": {"body": "<p>秋冬新品<strong>到店</strong></p>", "cover": picture("cover.png", fmt="PNG")},
        "image": {"file": picture()},
        "link": {"url": "https://shop.example.com/new"},
        "miniprogram": {"appid": "wx1234567890abcdef", "page": "pages/index/index.html", "cover": picture()},
        "file": {"file": pdf("价目表.xlsx")},
        "video": {"file": mp4()},
        "pdf": {"file": pdf()},
        "poster": {"file": picture(), "qr_left": 70, "qr_top": 75, "qr_size": 20},
    }[kind]
    return {**base, **extra}


def make(world, kind="article", *, by=None, scope=Scope.HQ, approve=False, **changes):
    material = materials.save_material(world.org, by=by or world.admin, scope=scope, **{**valid(kind), **changes})
    if approve:
        materials.submit_for_review(material, by=by or world.admin)
        materials.approve_material(material, by=world.admin)
    return material
