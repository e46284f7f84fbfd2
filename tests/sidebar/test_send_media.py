"""Materials sent from the sidebar: an article as the customer's tracked link card; an image, a file and a video
as WeCom media, uploaded to the simulator once, and again when WeCom has forgotten them after three days."""

from __future__ import annotations

import pytest

from siyu.tracking.models import TrackedLink
from siyu.wecom.models import ApiCall
from siyu.wecom.simulator.errors import SimulatorError
from tests.content.materials_support import make
from tests.factories import client_for
from tests.sidebar.support import Shop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(world, settings, live_server, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    shop = Shop(world, settings, django_capture_on_commit_callbacks, public_url=live_server.url)
    yield shop
    shop.close()


def uploads(org) -> int:
    return ApiCall.objects.for_org(org).filter(endpoint="media/upload", errcode=0).count()


def test_image_file_and_video_go_as_media_uploaded_once_and_again_after_three_days(shop, world):
    client = client_for(world.guide_e1)
    sent = {kind: make(world, kind, approve=True) for kind in ("image", "pdf", "video")}

    def send(material, **extra) -> dict:
        answer = client.post(f"/s/c/{shop.wang}/send/", {"material": material.pk, **extra})
        assert answer.status_code == 200, answer.content
        message = answer.json()["message"]
        return shop.sim.send_chat_message("zhangxiao", message, external_userid=shop.wang)["message"]

    first = {kind: send(material) for kind, material in sent.items()}
    assert {kind: m["msgtype"] for kind, m in first.items()} == {"image": "image", "pdf": "file", "video": "video"}
    assert shop.sim.state.media[first["pdf"]["file"]["mediaid"]].filename == "guide.pdf"
    again = {kind: send(material) for kind, material in sent.items()}
    assert again == {kind: {**m, "sent_at": again[kind]["sent_at"]} for kind, m in first.items()}
    assert uploads(world.org) == 3  # remembered, not uploaded again

    shop.sim.advance(3 * 86400)  # WeCom's three days pass: the client refuses the remembered ids
    stale = client.post(f"/s/c/{shop.wang}/send/", {"material": sent["video"].pk}).json()["message"]
    with pytest.raises(SimulatorError, match="invalid mediaid"):
        shop.sim.send_chat_message("zhangxiao", stale, external_userid=shop.wang)
    renewed = send(sent["video"], renew="1")  # what the page does after that refusal
    assert renewed["video"]["mediaid"] != first["video"]["video"]["mediaid"]
    assert uploads(world.org) == 4


def test_an_article_goes_as_the_customers_tracked_link_card(shop, world):
    article = make(world, "article", approve=True)
    answer = client_for(world.guide_e1).post(f"/s/c/{shop.wang}/send/", {"material": article.pk}).json()
    link = TrackedLink.objects.get(material=article)
    assert (link.customer.external_userid, link.staff.userid, link.channel) == (shop.wang, "zhangxiao", "sidebar")
    assert answer["message"]["msgtype"] == "news"
    assert answer["message"]["news"]["link"] == f"{shop.corp_public_url}/t/{link.token}/"
    assert answer["message"]["news"]["title"] == article.title


def test_an_unapproved_material_cannot_be_sent_and_nothing_is_uploaded(shop, world):
    draft = make(world, "image")
    answer = client_for(world.guide_e1).post(f"/s/c/{shop.wang}/send/", {"material": draft.pk})
    assert answer.status_code == 400 and "material" in answer.json()["errors"]
    assert uploads(world.org) == 0 and not TrackedLink.objects.exists()
