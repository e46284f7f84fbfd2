"""The moments console: who may open it, form errors as 400 with nothing written, tenancy, and the media view."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from siyu.moments import services
from siyu.moments.models import Moment, MomentSettings
from tests.factories import client_for
from tests.moments.helpers import png

pytestmark = pytest.mark.django_db


def test_only_hq_opens_moments(world):
    assert client_for(world.guide_e1).get(reverse("moments:list")).status_code == 403
    assert client_for(world.east_manager).get(reverse("moments:new")).status_code == 403
    page = client_for(world.admin).get(reverse("moments:list"))
    assert page.status_code == 200 and "客户朋友圈" in page.content.decode()


def test_a_bad_form_answers_400_with_the_field_error_and_writes_nothing(world):
    client = client_for(world.admin)
    answer = client.post(reverse("moments:new"), {"text": "春季上新", "kind": "images"})
    assert answer.status_code == 400
    assert "图片朋友圈需要 1 到 9 张图片。" in answer.content.decode()
    assert not Moment.objects.for_org(world.org).exists()
    answer = client.post(reverse("moments:settings"), {"promotional_per_day": "0"})
    assert answer.status_code == 400
    assert not MomentSettings.objects.for_org(world.org).exists()
    assert client.post(reverse("moments:settings"), {"promotional_per_day": "2"}).status_code == 302
    assert MomentSettings.objects.for_org(world.org).get().promotional_per_day == 2


def test_a_draft_with_a_blocked_word_cannot_be_published_from_the_console(world):
    client = client_for(world.admin)
    image = png()
    upload = SimpleUploadedFile(image.filename, image.data, content_type="image/png")
    answer = client.post(reverse("moments:new"), {"text": "国家级好茶", "kind": "images", "files": [upload]})
    moment = Moment.objects.for_org(world.org).get()
    assert answer.status_code == 302 and answer.url == reverse("moments:detail", args=[moment.pk])
    detail = client.get(answer.url).content.decode()
    assert "finding-block" in detail and "内容违规，不能发布" in detail
    refused = client.post(reverse("moments:schedule", args=[moment.pk]))
    assert refused.status_code == 400 and "内容含禁用词：国家级" in refused.content.decode()
    moment.refresh_from_db()
    assert moment.status == Moment.Status.DRAFT
    media = client.get(reverse("moments:media", args=[moment.pk, moment.media.get().pk]))
    assert media.status_code == 200 and media.content == image.data


def test_another_brand_cannot_see_or_cancel_a_moment(world):
    moment = services.create_moment(world.org, by=world.admin, text="春季上新", kind="images", files=[png()])
    other = client_for(world.other_admin)
    assert other.get(reverse("moments:detail", args=[moment.pk])).status_code == 404
    assert other.get(reverse("moments:media", args=[moment.pk, moment.media.get().pk])).status_code == 404
    assert other.post(reverse("moments:cancel", args=[moment.pk])).status_code == 404
    moment.refresh_from_db()
    assert moment.status == Moment.Status.DRAFT

