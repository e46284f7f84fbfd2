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


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/poster.jpg",  # loopback
    "http://169.254.169.254/latest/meta-data/",  # a cloud metadata service
    "http://10.0.0.8/poster.jpg",  # a private network
    "http://[::1]/poster.jpg",
    "http://localhost:9/poster.jpg",  # a name that resolves to loopback
])
def test_internal_addresses_are_not_fetched(wired, settings, url):
    settings.MEDIA_FETCH_INTERNAL = False  # production
    sim, org = wired.sim, wired.org
    sim.add_staff("zhangsan", "张三")
    payload = {"text": {"content": "欢迎！"}, "attachments": [{"msgtype": "image", "image": {"pic_url": url}}]}
    with WeComClient.for_org(org) as client:
        with pytest.raises(media.WeComError) as error:
            media.wire_payload(client, org.pk, payload)
    assert "内网" in error.value.hint
    assert uploads(org, "media/uploadimg") == 0


def test_siyus_own_public_url_is_fetched(wired, settings, files):
    settings.MEDIA_FETCH_INTERNAL = False
    settings.PUBLIC_URL = files  # the file server stands in for Siyu's own public URL (demo images live there)
    sim, org = wired.sim, wired.org
    payload = {"text": {"content": "欢迎！"}, "attachments": [
        {"msgtype": "image", "image": {"pic_url": f"{files}/poster.jpg"}}]}
    with WeComClient.for_org(org) as client:
        wired_payload = media.wire_payload(client, org.pk, payload)
    assert wired_payload["attachments"][0]["image"]["pic_url"] in sim.state.uploaded_images


def test_an_allowed_url_may_not_redirect_into_the_internal_network(wired, settings):
    import http.server
    import threading

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.MEDIA_FETCH_INTERNAL = False
        settings.PUBLIC_URL = f"http://127.0.0.1:{server.server_address[1]}"
        payload = {"text": {"content": "欢迎！"}, "attachments": [
            {"msgtype": "image", "image": {"pic_url": f"{settings.PUBLIC_URL}/poster.jpg"}}]}
        with WeComClient.for_org(wired.org) as client:
            with pytest.raises(media.WeComError) as error:
                media.wire_payload(client, wired.org.pk, payload)
        assert "内网" in error.value.hint
    finally:
        server.shutdown()
        server.server_close()
