"""Posters per guide: the approved poster's background with the guide's personal code in its QR area (the QR
decodes to that code's address), their name when the material asks, drawn once and cached; a guide gets only
their own, a store manager sees their guides'; a guide without a personal code is told so and offered nothing."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from django.core.cache import cache
from PIL import Image

from siyu.channels import qr
from siyu.channels.models import ChannelCode, ChannelStaff
from siyu.content import materials
from siyu.core.published import new_public_id
from siyu.workbench import posters
from tests.content.materials_support import make, picture
from tests.customers.test_list import make_staff
from tests.factories import client_for


def make_code(org, name: str, *staff, owner=None, status=ChannelCode.Status.ACTIVE) -> ChannelCode:
    code = ChannelCode.objects.create(org=org, name=name, state=f"s-{name}", public_id=new_public_id(org, ChannelCode),
                                      owner=owner, status=status, config_id=f"cfg-{name}")
    for position, person in enumerate(staff):
        ChannelStaff.objects.create(org=org, code=code, staff=person, position=position)
    return code


class Shop:
    def __init__(self, world):
        self.zhang = make_staff(world.org, "zhangxiao", world.e1, world.guide_e1)
        self.li = make_staff(world.org, "lisi", world.e2, world.guide_e2)
        make_code(world.org, "门店轮流", self.zhang, self.li)  # shared with a colleague: not personal
        make_code(world.org, "张晓旧码", self.zhang, status=ChannelCode.Status.PAUSED)
        self.personal = make_code(world.org, "张晓个人码", self.zhang)
        self.poster = make(world, "poster", approve=True, file=picture("bg.png", size=(900, 1350), fmt="PNG"),
                           qr_left=60, qr_top=62, qr_size=30, qr_name=True)


@pytest.fixture
def shop(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cache.clear()
    return Shop(world)


def decoded(png: bytes) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_the_guides_poster_carries_their_personal_code_in_the_qr_area(world, shop):
    response = client_for(world.guide_e1).get(f"/w/posters/{shop.poster.pk}.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert decoded(response.content) == [qr.landing_url(shop.personal)]
    image = Image.open(io.BytesIO(response.content)).convert("RGB")
    assert image.size == (900, 1350)
    assert image.getpixel((20, 20)) == (200, 80, 60)  # the background outside the QR area is untouched
    # the code sits in the area (60%, 62%, 30% wide): cropping to it still decodes, the rest has no code
    area = image.crop((540, 837, 810, 1107))
    assert decoded(_png(area)) == [qr.landing_url(shop.personal)]
    assert decoded(_png(image.crop((0, 0, 900, 830)))) == []


def test_the_name_is_printed_only_when_the_material_asks(world, shop):
    with_name = posters.draw(shop.poster, shop.personal, name="张晓")
    without = posters.draw(shop.poster, shop.personal)
    label = (540, 1107 + 3, 810, 1107 + 63)  # right under the code
    named, plain = (Image.open(io.BytesIO(png)).convert("RGB").crop(label) for png in (with_name, without))
    assert plain.getcolors() == [(270 * 60, (200, 80, 60))]  # nothing but background under the code
    colours = dict((c, n) for n, c in named.getcolors(maxcolors=10_000))
    assert colours.get((255, 255, 255), 0) > 1000 and any(sum(c) < 300 for c in colours)  # a white label with text


def test_a_small_background_is_enlarged_until_the_code_scans(world, shop):
    small = make(world, "poster", approve=True, file=picture("small.png", size=(300, 300), fmt="PNG"),
                 qr_left=70, qr_top=70, qr_size=20)
    image = Image.open(io.BytesIO(posters.draw(small, shop.personal))).convert("RGB")
    assert image.size[0] > 300 and image.size[0] == image.size[1]
    side = round(image.size[0] * 0.2)
    area = image.crop((round(image.size[0] * 0.7), round(image.size[1] * 0.7), round(image.size[0] * 0.7) + side,
                       round(image.size[1] * 0.7) + side))
    assert decoded(_png(area.resize((side // 3, side // 3), Image.BILINEAR))) == [qr.landing_url(shop.personal)]


def test_a_poster_is_drawn_once_and_drawn_again_when_the_material_changes(world, shop, monkeypatch):
    drawn = []
    real = posters.draw
    monkeypatch.setattr(posters, "draw", lambda *a, **k: drawn.append(1) or real(*a, **k))
    client = client_for(world.guide_e1)
    first = client.get(f"/w/posters/{shop.poster.pk}.png").content
    assert client.get(f"/w/posters/{shop.poster.pk}.png").content == first and len(drawn) == 1
    materials.save_material(world.org, material=shop.poster, by=world.admin, title="新海报", qr_left=10, qr_top=10,
                            qr_size=30, source="original")
    materials.submit_for_review(shop.poster, by=world.admin)
    materials.approve_material(shop.poster, by=world.admin)
    moved = client.get(f"/w/posters/{shop.poster.pk}.png").content
    assert len(drawn) == 2 and moved != first and decoded(moved) == [qr.landing_url(shop.personal)]


def test_a_guide_gets_only_their_own_poster(world, shop):
    make_code(world.org, "李四个人码", shop.li)
    guide = client_for(world.guide_e1)
    assert guide.get(f"/w/posters/{shop.poster.pk}/{world.guide_e2.pk}.png").status_code == 404
    assert guide.get(f"/w/posters/{shop.poster.pk}/{world.guide_e1.pk}.png").status_code == 200
    assert guide.get("/w/posters/team/").status_code == 404
    page = guide.get("/w/posters/").content.decode()
    assert f"/w/posters/{shop.poster.pk}.png" in page and "张晓个人码" in page and "李四个人码" not in page


def test_a_store_manager_sees_their_guides_posters_and_no_one_elses(world, shop):
    make_code(world.org, "李四个人码", shop.li)
    east = client_for(world.east_manager)
    team = east.get("/w/posters/team/").content.decode()
    assert world.guide_e1.user.name in team and world.guide_e2.user.name in team
    png = east.get(f"/w/posters/{shop.poster.pk}/{world.guide_e2.pk}.png", {"download": "1"})
    assert png.status_code == 200 and "attachment" in png["Content-Disposition"]
    assert decoded(png.content) == [qr.landing_url(ChannelCode.objects.for_org(world.org).get(name="李四个人码"))]
    other_store = client_for(world.s1_manager)
    assert other_store.get(f"/w/posters/{shop.poster.pk}/{world.guide_e1.pk}.png").status_code == 404
    assert world.guide_e1.user.name not in other_store.get("/w/posters/team/").content.decode()


def test_without_a_personal_code_the_page_says_so_and_offers_nothing(world, shop):
    guide = client_for(world.guide_e2)  # 李四 is only on a code shared with 张晓
    page = guide.get("/w/posters/").content.decode()
    assert 'data-testid="no-personal-code"' in page and "个人活码" in page
    assert f"/w/posters/{shop.poster.pk}.png" not in page
    assert guide.get(f"/w/posters/{shop.poster.pk}.png").status_code == 404
    team = client_for(world.east_manager).get("/w/posters/team/").content.decode()
    assert 'data-testid="no-personal-code"' in team


def test_only_approved_posters_are_offered(world, shop):
    draft = make(world, "poster", title="草稿海报")
    withdrawn = materials.withdraw_material(make(world, "poster", approve=True, title="下架海报"), by=world.admin)
    guide = client_for(world.guide_e1)
    page = guide.get("/w/posters/").content.decode()
    assert shop.poster.title in page and "草稿海报" not in page and "下架海报" not in page
    for material in (draft, withdrawn):
        assert guide.get(f"/w/posters/{material.pk}.png").status_code == 404


def test_the_personal_code_prefers_one_the_guide_owns_then_the_oldest(world, shop):
    assert posters.personal_code(world.guide_e1, world.guide_e1) == shop.personal
    owned = make_code(world.org, "张晓负责的码", shop.zhang, owner=world.guide_e1)
    make_code(world.org, "张晓新码", shop.zhang)
    assert posters.personal_code(world.guide_e1, world.guide_e1) == owned
    assert posters.personal_code(world.guide_e2, world.guide_e2) is None


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_the_poster_editor_asks_whether_to_print_the_guides_name(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = client_for(world.admin)
    assert "二维码下方印导购姓名" in client.get("/content/materials/new/poster/").content.decode()
    assert "二维码下方印导购姓名" not in client.get("/content/materials/new/image/").content.decode()
    data = {"title": "秋冬海报", "scope": "hq", "source": "original", "qr_left": "70", "qr_top": "70", "qr_size": "20"}
    assert client.post("/content/materials/new/poster/", {**data, "qr_name": "on", "file": picture()}).status_code == 302
    assert client.post("/content/materials/new/poster/", {**data, "file": picture()}).status_code == 302
    assert [m.qr_name for m in materials.library(world.admin).order_by("pk")] == [True, False]
    edit = client.get(f"/content/materials/{materials.library(world.admin).order_by('pk').first().pk}/edit/")
    assert 'name="qr_name"' in edit.content.decode() and "checked" in edit.content.decode().split('name="qr_name"')[1][:40]
