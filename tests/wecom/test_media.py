"""Attachments' files uploaded to WeCom before a send: an image once through uploadimg (its URL never expires),
temporary media through media/upload and again once WeCom's three days are over (40007)."""

import pytest

from siyu.wecom import media
from siyu.wecom.client import WeComClient
from siyu.wecom.models import ApiCall
from siyu.wecom.simulator import SimClock
from tests.factories import make_org
from tests.wecom.files import serving
from tests.wecom.live import wire

@pytest.fixture
def files():
    with serving() as base:
        yield base


@pytest.fixture
def wired(db, settings):
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    wiring, stop = wire(make_org(), clock=SimClock(frozen=True))
    yield wiring
    stop()


def uploads(org, endpoint: str) -> int:
    return ApiCall.objects.for_org(org).filter(endpoint=endpoint, errcode=0).count()


def test_a_welcome_image_is_uploaded_once_and_temporary_media_again_after_three_days(wired, files):
    sim, org = wired.sim, wired.org
    sim.add_staff("zhangsan", "张三")
    payload = {"text": {"content": "欢迎！"}, "attachments": [
        {"msgtype": "image", "image": {"pic_url": f"{files}/poster.jpg"}},
        {"msgtype": "file", "file": {"media_id": f"{files}/guide.pdf"}},
    ]}

    def welcome() -> dict:
        code = sim.add_customer("zhangsan")["welcome_code"]
        with WeComClient.for_org(org) as client:
            media.post_with_media(client, org.pk, "externalcontact/send_welcome_msg", {**payload, "welcome_code": code})
        return sim.welcomes()[-1]

    first = welcome()
    picture = first["attachments"][0]["image"]["pic_url"]
    assert picture in sim.state.uploaded_images and first["attachments"][1]["file"]["media_id"] in sim.state.media
    welcome()
    assert (uploads(org, "media/uploadimg"), uploads(org, "media/upload")) == (1, 1)  # remembered, not re-uploaded

    sim.advance(3 * 86400)  # WeCom's three days pass; Siyu's own clock has not moved, so WeCom says 40007
    third = welcome()

    assert (uploads(org, "media/uploadimg"), uploads(org, "media/upload")) == (1, 2)
    assert third["attachments"][0]["image"]["pic_url"] == picture
    assert third["attachments"][1]["file"]["media_id"] != first["attachments"][1]["file"]["media_id"]
    assert len(sim.welcomes()) == 3
