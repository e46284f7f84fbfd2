"""The material library's services: each kind refused field by field on bad input, sanitized articles, source and
copyright, review with the checker's audited override, who sees and may send what, and the WeCom attachment."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from siyu.content import materials
from siyu.content.models import Material, Scope
from siyu.orgs.models import AuditEntry
from siyu.wecom import attachments
from tests.content.materials_support import make, mp4, pdf, picture, valid

Kind = Material.Kind


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.PUBLIC_URL = "https://siyu.example.com"


def titles(rows) -> set[str]:
    return set(rows.values_list("title", flat=True))


def refused(world, kind, **changes) -> dict:
    before = Material.objects.count()
    with pytest.raises(ValidationError) as error:
        make(world, kind, **changes)
    assert Material.objects.count() == before
    return error.value.message_dict


@pytest.mark.parametrize("kind", Kind.values)
def test_each_kind_is_saved_with_valid_input(world, kind):
    material = make(world, kind)
    stored = Material.objects.get(pk=material.pk)
    assert (stored.kind, stored.status, stored.tag_list) == (kind, Material.Status.DRAFT, ["秋冬", "新品"])
    if kind in materials.FILE_RULES:
        assert stored.file and stored.file_size > 5 and stored.file_name == valid(kind)["file"].name


BAD = [
    (Kind.ARTICLE, {"body": "<script>alert(1)</script>"}, "body"),
    (Kind.ARTICLE, {"title": ""}, "title"),
    (Kind.ARTICLE, {"cover": pdf("cover.jpg")}, "cover"),
    (Kind.LINK, {"url": "javascript:alert(1)"}, "url"),
    (Kind.LINK, {"url": ""}, "url"),
    (Kind.LINK, {"title": "标" * 43}, "title"),  # 129 bytes: over WeCom's 128 for a link title
    (Kind.LINK, {"summary": "长" * 171}, "summary"),
    (Kind.MINIPROGRAM, {"appid": "wx123"}, "appid"),
    (Kind.MINIPROGRAM, {"page": "pages/index/index"}, "page"),
    (Kind.MINIPROGRAM, {"title": "小" * 22}, "title"),  # 66 bytes: over 64
    (Kind.MINIPROGRAM, {"cover": None}, "cover"),
    (Kind.IMAGE, {"file": None}, "file"),
    (Kind.IMAGE, {"file": pdf("poster.jpg")}, "file"),  # a PDF named .jpg is no image
    (Kind.IMAGE, {"file": picture("poster.gif")}, "file"),
    (Kind.IMAGE, {"file": SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"0" * (2 * 1024 * 1024))}, "file"),
    (Kind.VIDEO, {"file": pdf("clip.mp4")}, "file"),
    (Kind.VIDEO, {"file": mp4("clip.avi")}, "file"),
    (Kind.PDF, {"file": SimpleUploadedFile("guide.pdf", b"not a pdf at all")}, "file"),
    (Kind.FILE, {"file": SimpleUploadedFile("empty.txt", b"abc")}, "file"),
    (Kind.POSTER, {"qr_size": 0}, "qr_size"),
    (Kind.POSTER, {"qr_left": 90, "qr_size": 20}, "qr_left"),
    (Kind.ARTICLE, {"tags": " ".join(f"t{i}" for i in range(11))}, "tags"),
    (Kind.ARTICLE, {"source": "licensed", "source_text": ""}, "source_text"),
    (Kind.IMAGE, {"source": "quoted", "source_text": ""}, "source_text"),
    (Kind.ARTICLE, {"source": "stolen"}, "source"),
]


@pytest.mark.parametrize(("kind", "changes", "field"), BAD, ids=[f"{k}-{f}-{i}" for i, (k, _c, f) in enumerate(BAD)])
def test_bad_input_is_refused_on_its_field_and_nothing_is_saved(world, kind, changes, field):
    assert field in refused(world, kind, **changes)


def test_a_large_video_is_refused_by_wecoms_ten_megabytes(world):
    big = SimpleUploadedFile("big.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (10 * 1024 * 1024))
    assert "10 MB" in refused(world, Kind.VIDEO, file=big)["file"][0]


def test_licensed_and_quoted_materials_keep_their_source(world):
    material = make(world, Kind.ARTICLE, source="quoted", source_text="摘自《服装周刊》2026 年第 3 期")
    assert Material.objects.get(pk=material.pk).source_text == "摘自《服装周刊》2026 年第 3 期"


def test_an_article_body_keeps_formatting_and_loses_scripts_and_handlers(world):
    body = ('<h2>新品</h2><p onclick="steal()">面料<strong>羊毛</strong><script>steal()</script></p>'
            '<a href="javascript:steal()">x</a><img src="https://cdn.example.com/a.jpg" onerror="steal()">'
            '<iframe src="https://evil.example.com"></iframe><style>body{}</style>')
    stored = Material.objects.get(pk=make(world, Kind.ARTICLE, body=body).pk).body
    assert "<h2>新品</h2>" in stored and "<strong>羊毛</strong>" in stored
    assert '<img src="https://cdn.example.com/a.jpg">' in stored
    for bad in ("script", "onclick", "onerror", "javascript:", "iframe", "style"):
        assert bad not in stored, bad


def test_a_material_with_a_blocked_term_needs_an_audited_override(world):
    material = make(world, Kind.ARTICLE, title="国家级面料", body="<p>全网最低价</p>")
    findings = materials.submit_for_review(material, by=world.admin)
    assert {f.term for f in findings if f.blocks} == {"国家级", "全网最低价"}
    with pytest.raises(ValidationError) as error:
        materials.approve_material(material, by=world.admin)
    assert "override_reason" in error.value.message_dict
    assert Material.objects.get(pk=material.pk).status == Material.Status.IN_REVIEW
    assert not materials.sendable_by(world.guide_e1).exists()

    materials.approve_material(material, override_reason="国家级检测报告编号 2026-001", by=world.admin)
    assert Material.objects.get(pk=material.pk).status == Material.Status.APPROVED
    entry = AuditEntry.objects.for_org(world.org).get(action="content.material_overridden")
    assert entry.actor == world.admin.user and entry.details["reason"] == "国家级检测报告编号 2026-001"
    assert set(entry.details["terms"].split("、")) == {"国家级", "全网最低价"}


def test_a_clean_material_is_approved_without_override_and_rejection_needs_a_comment(world):
    material = make(world, Kind.LINK)
    materials.submit_for_review(material, by=world.admin)
    with pytest.raises(ValidationError):
        materials.reject_material(material, comment="", by=world.admin)
    materials.reject_material(material, comment="封面太暗", by=world.admin)
    assert Material.objects.get(pk=material.pk).review_comment == "封面太暗"
    materials.submit_for_review(material, by=world.admin)
    materials.approve_material(material, by=world.admin)
    assert not AuditEntry.objects.filter(action="content.material_overridden").exists()


def test_only_reviewers_approve_and_guides_cannot_write_hq_materials(world):
    material = make(world, Kind.LINK)
    materials.submit_for_review(material, by=world.admin)
    with pytest.raises(PermissionDenied):
        materials.approve_material(material, by=world.guide_e1)
    with pytest.raises(PermissionDenied):
        make(world, Kind.LINK, by=world.guide_e1, scope=Scope.HQ)
    mine = make(world, Kind.LINK, by=world.guide_e1, scope=Scope.PERSONAL)
    with pytest.raises(PermissionDenied):
        materials.save_material(world.org, material=mine, by=world.guide_e2, **valid(Kind.LINK))


def test_a_guide_sees_approved_hq_materials_and_their_own_and_sends_only_approved(world):
    make(world, Kind.LINK, title="总部已通过", approve=True)
    make(world, Kind.LINK, title="总部草稿")
    make(world, Kind.LINK, title="我的草稿", by=world.guide_e1, scope=Scope.PERSONAL)
    make(world, Kind.LINK, title="我的已通过", by=world.guide_e1, scope=Scope.PERSONAL, approve=True)
    make(world, Kind.LINK, title="别人的", by=world.guide_e2, scope=Scope.PERSONAL, approve=True)
    assert titles(materials.library(world.guide_e1)) == {"总部已通过", "我的草稿", "我的已通过"}
    assert titles(materials.sendable_by(world.guide_e1)) == {"总部已通过", "我的已通过"}
    assert titles(materials.sendable_by(world.east_manager)) == {"总部已通过"}
    assert titles(materials.library(world.admin)) == {"总部已通过", "总部草稿"}
    assert titles(materials.library(world.other_admin)) == set()


def test_a_withdrawn_material_is_no_longer_sendable(world):
    material = make(world, Kind.LINK, approve=True)
    materials.withdraw_material(material, by=world.admin)
    assert not materials.sendable_by(world.guide_e1).exists()
    with pytest.raises(ValidationError):
        materials.to_attachment(material)


def test_search_by_pinyin_and_filter_by_tag(world):
    make(world, Kind.LINK, title="秋冬新品", tags="秋冬,大衣")
    make(world, Kind.LINK, title="会员日", tags="会员")
    rows = materials.library(world.admin)
    assert titles(materials.search(rows, "qdxp")) == {"秋冬新品"}
    assert titles(materials.with_tag(rows, "会员")) == {"会员日"}
    assert titles(materials.with_tag(rows, "秋")) == set()  # a tag matches whole, not a part of another


def test_attachments_are_built_per_kind_in_wecoms_shape(world):
    built = {kind: materials.to_attachment(make(world, kind, approve=True)) for kind in Kind.values}
    for kind, attachment in built.items():
        assert attachments.errors(attachments.flatten(attachment)) == {}, kind
    article, link = built["article"]["link"], built["link"]["link"]
    assert article["url"].startswith("https://siyu.example.com/h5/material/") and article["desc"] == "本周到店"
    assert "/cover/" in article["picurl"]
    assert link["url"] == "https://shop.example.com/new" and "picurl" not in link
    mini = built["miniprogram"]["miniprogram"]
    assert mini["appid"] == "wx1234567890abcdef" and mini["page"] == "pages/index/index.html"
    assert mini["pic_media_id"].startswith("https://siyu.example.com/h5/material/") and "/cover/" in mini["pic_media_id"]
    assert built["image"]["image"]["pic_url"].endswith("/file/poster.jpg")
    assert built["poster"]["msgtype"] == "image"
    assert built["pdf"] == {"msgtype": "file", "file": {"media_id": built["pdf"]["file"]["media_id"]}}
    assert built["pdf"]["file"]["media_id"].endswith("/file/guide.pdf")
    assert built["video"]["msgtype"] == "video" and built["video"]["video"]["media_id"].endswith("/file/clip.mp4")
    # a Chinese name percent-encoded still fits WeCom's 128 characters, or gives way to the stored suffix
    assert len(built["file"]["file"]["media_id"]) <= attachments.MEDIA_ID_MAX


def test_an_unapproved_material_gives_no_attachment(world):
    with pytest.raises(ValidationError):
        materials.to_attachment(make(world, Kind.IMAGE))


def test_the_public_token_names_one_approved_material_and_cannot_be_forged(world):
    material = make(world, Kind.ARTICLE, approve=True)
    token = materials.token(material)
    assert materials.public(token) == material
    other = make(world, Kind.ARTICLE, approve=True)
    assert materials.public(f"{other.org_id}-{other.pk}.{token.split('.', 1)[1]}") is None
    assert materials.public(f"{material.org_id}-{material.pk}") is None


def test_changing_an_approved_material_keeps_its_file_and_sends_it_back_to_review(world):
    material = make(world, Kind.IMAGE, approve=True)
    stored_file = Material.objects.get(pk=material.pk).file.name
    materials.save_material(world.org, material=material, by=world.admin, title="会员日海报", source="original")
    changed = Material.objects.get(pk=material.pk)
    assert (changed.title, changed.file.name, changed.status) == ("会员日海报", stored_file, Material.Status.DRAFT)
    assert not materials.sendable_by(world.guide_e1).exists()
