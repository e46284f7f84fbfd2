"""A material sent in a welcome message: its files are fetched from Siyu's own public address, uploaded to the
WeCom simulator once, and uploaded again once WeCom's three days are over."""

from __future__ import annotations

import pytest

from siyu.content import materials
from siyu.orgs.roles import Role
from siyu.wecom import attachments, media
from siyu.wecom.client import WeComClient
from siyu.wecom.models import ApiCall
from siyu.wecom.simulator import SimClock
from tests.content.materials_support import make
from tests.factories import make_member, make_org
from tests.wecom.live import wire


class Org:
    def __init__(self, org):
        self.org, self.admin = org, make_member(org, Role.HQ_ADMIN)


@pytest.fixture
def wired(transactional_db, settings, live_server, tmp_path):
    settings.MEDIA_ROOT, settings.PUBLIC_URL = tmp_path, live_server.url
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    wiring, stop = wire(make_org(), clock=SimClock(frozen=True))
    yield wiring
    stop()


def uploads(org, endpoint: str) -> int:
    return ApiCall.objects.for_org(org).filter(endpoint=endpoint, errcode=0).count()


def test_image_file_and_video_materials_are_uploaded_once_and_again_after_three_days(wired):
    sim, org = wired.sim, wired.org
    world = Org(org)
    sim.add_staff("zhangsan", "张三")
    sent = [materials.to_attachment(make(world, kind, approve=True)) for kind in ("image", "pdf", "video", "article")]
    payload = attachments.content("欢迎光临！", sent)

    def welcome() -> dict:
        code = sim.add_customer("zhangsan")["welcome_code"]
        with WeComClient.for_org(org) as client:
            media.post_with_media(client, org.pk, "externalcontact/send_welcome_msg", {**payload, "welcome_code": code})
        return sim.welcomes()[-1]

    first = welcome()
    image, pdf_file, video, article = first["attachments"]
    assert image["image"]["pic_url"] in sim.state.uploaded_images
    assert sim.state.media[pdf_file["file"]["media_id"]].filename == "guide.pdf"
    assert sim.state.media[video["video"]["media_id"]].filename == "clip.mp4"
    assert article["link"]["url"] == sent[3]["link"]["url"]  # the article is a link to its public page
    welcome()
    assert (uploads(org, "media/uploadimg"), uploads(org, "media/upload")) == (1, 2)

    sim.advance(3 * 86400)  # WeCom's three days pass: the media ids are refused (40007) and uploaded again
    third = welcome()
    assert (uploads(org, "media/uploadimg"), uploads(org, "media/upload")) == (1, 4)
    assert third["attachments"][1]["file"]["media_id"] != pdf_file["file"]["media_id"]
    assert len(sim.welcomes()) == 3
