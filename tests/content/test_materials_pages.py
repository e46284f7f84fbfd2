"""Console pages of the material library as each role, the editor per kind with field errors, review with the
highlighted findings and the audited override, and the public page that shows only approved materials."""

from __future__ import annotations

import pytest

from siyu.content import materials
from siyu.content.models import Material, Scope
from siyu.orgs.models import AuditEntry
from tests.content.materials_support import make, pdf, picture
from tests.factories import client_for

LIBRARY = "/content/materials/"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def public_path(material) -> str:
    return f"/h5/material/{materials.token(material)}/"


@pytest.mark.parametrize("who", ["owner", "admin", "east_manager", "guide_e1"])
def test_the_pages_render_for_every_role(world, who):
    material = make(world, "poster", approve=True)
    client = client_for(getattr(world, who))
    for url in (LIBRARY, LIBRARY + "new/", LIBRARY + "new/article/", LIBRARY + "new/poster/",
                LIBRARY + "?q=qd&kind=poster&tag=秋冬&status=approved", f"{LIBRARY}{material.pk}/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "素材" in response.content.decode()


def test_an_article_is_written_in_the_form_and_shows_the_field_errors_first(world):
    client = client_for(world.admin)
    url = LIBRARY + "new/article/"
    response = client.post(url, {"title": "秋冬新品", "body": "<script>x()</script>", "scope": "hq", "source": "licensed"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "请填写正文" in page and "授权或引用的素材必须写明出处" in page  # a body of only a script is empty
    assert not Material.objects.exists()
    response = client.post(url, {"title": "秋冬新品", "summary": "本周到店", "body": "<p>羊毛大衣</p><script>x()</script>",
                                 "scope": "hq", "source": "original", "tags": "秋冬，大衣",
                                 "cover": picture("cover.png", fmt="PNG")})
    assert response.status_code == 302
    material = Material.objects.get()
    assert (material.kind, material.body, material.tag_list) == ("article", "<p>羊毛大衣</p>", ["秋冬", "大衣"])
    assert material.cover


def test_an_image_upload_of_the_wrong_type_is_a_field_error(world):
    response = client_for(world.admin).post(LIBRARY + "new/image/", {"title": "海报", "scope": "hq", "source": "original",
                                                                    "file": pdf("poster.jpg")})
    assert response.status_code == 400 and "不是有效的 JPG 或 PNG 图片" in response.content.decode()
    assert not Material.objects.exists()


def test_an_unknown_kind_is_not_found(world):
    assert client_for(world.admin).get(LIBRARY + "new/gif/").status_code == 404


def test_review_highlights_blocked_terms_and_approves_only_with_an_audited_override(world):
    material = make(world, "article", title="国家级面料", body="<p>限时特惠</p>")
    client = client_for(world.admin)
    assert client.post(f"{LIBRARY}{material.pk}/submit/").status_code == 302
    review = f"{LIBRARY}{material.pk}/review/"
    page = client.get(review).content.decode()
    assert '<mark class="finding finding-block"' in page and ">国家级</mark>" in page
    response = client.post(review, {"decision": "approve", "comment": "", "override_reason": ""})
    assert response.status_code == 400 and "放行理由" in response.content.decode()
    assert Material.objects.get(pk=material.pk).status == Material.Status.IN_REVIEW
    assert client.get(public_path(material)).status_code == 404
    response = client.post(review, {"decision": "approve", "override_reason": "有国家级认证证书"})
    assert response.status_code == 302
    assert Material.objects.get(pk=material.pk).status == Material.Status.APPROVED
    assert AuditEntry.objects.get(action="content.material_overridden").details["reason"] == "有国家级认证证书"


def test_a_guide_cannot_review_or_open_another_guides_material(world):
    theirs = make(world, "link", title="别人的链接", by=world.guide_e2, scope=Scope.PERSONAL)
    client = client_for(world.guide_e1)
    assert "别人的链接" not in client.get(LIBRARY).content.decode()
    for url in (f"{LIBRARY}{theirs.pk}/", f"{LIBRARY}{theirs.pk}/edit/", f"{LIBRARY}{theirs.pk}/files/file/"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"{LIBRARY}{theirs.pk}/submit/").status_code == 404
    hq = make(world, "link")
    materials.submit_for_review(hq, by=world.admin)
    assert client.get(f"{LIBRARY}{hq.pk}/review/").status_code == 403


def test_the_public_page_shows_an_approved_article_and_hides_every_other_state(world):
    material = make(world, "article", title="秋冬新品", body='<p>羊毛<strong>大衣</strong></p>', source="quoted",
                    source_text="摘自《服装周刊》")
    client = client_for(world.guide_e1)
    anonymous = client.__class__()
    assert anonymous.get(public_path(material)).status_code == 404  # draft
    materials.submit_for_review(material, by=world.admin)
    assert anonymous.get(public_path(material)).status_code == 404  # in review
    materials.approve_material(material, by=world.admin)
    page = anonymous.get(public_path(material))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<strong>大衣</strong>" in html and "摘自《服装周刊》" in html and "<title>秋冬新品</title>" in html
    cover = anonymous.get(f"/h5/material/{materials.token(material)}/cover/cover.png")
    assert cover.status_code == 200 and cover["Content-Type"] == "image/png"
    materials.withdraw_material(material, by=world.admin)
    assert anonymous.get(public_path(material)).status_code == 404
    assert anonymous.get(f"/h5/material/{materials.token(material)}/cover/cover.png").status_code == 404
    assert anonymous.get(f"/h5/material/{material.pk}.forged/").status_code == 404


def test_a_pdf_is_served_from_its_public_address_once_approved(world):
    material = make(world, "pdf", approve=True)
    response = client_for(world.admin).__class__().get(f"/h5/material/{materials.token(material)}/file/guide.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
