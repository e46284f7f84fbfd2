"""The demo brand's channel codes load against the simulator, and loading twice changes nothing."""

from siyu.channels.models import ChannelCode, RedPacketRule, WelcomeMessage
from siyu.demo import WECOM_DEMO_LOADERS, load_channel_demo, load_demo
from siyu.wecom.demo import seed_simulator
from tests.channels.conftest import Corp


def test_demo_channel_codes_are_created_once(db, django_capture_on_commit_callbacks, settings, client):
    assert load_channel_demo in WECOM_DEMO_LOADERS
    org = load_demo().org
    corp = Corp(org, capture=django_capture_on_commit_callbacks)
    try:
        seed_simulator(corp.sim, org)
        load_channel_demo(org)
        load_channel_demo(org)
        codes = ChannelCode.objects.for_org(org)
        assert codes.count() == 4 and len(corp.sim.state.contact_ways) == 4
        assert set(codes.values_list("policy", flat=True)) == {"round_robin", "daily_cap", "time_slots"}
        assert RedPacketRule.objects.for_org(org).count() == 1
        assert WelcomeMessage.objects.for_org(org).filter(code=None, staff=None).count() == 1
        attachments = [a for welcome in WelcomeMessage.objects.for_org(org) for a in welcome.attachments]
        assert [a["msgtype"] for a in attachments].count("material") == 1  # the store poster's coupon
        pictures = [body.get("picurl") or body.get("pic_url") for attachment in attachments
                    if attachment["msgtype"] != "material" for body in [attachment[attachment["msgtype"]]]]
        assert len(pictures) == 3  # demo pictures come from Siyu's own static files, never an unreachable host
        for picture in pictures:
            assert picture.startswith(f"{settings.PUBLIC_URL}/static/demo/")
            assert client.get(picture.removeprefix(settings.PUBLIC_URL)).status_code == 200
        code = codes.get(state="sz_stores")
        assert [corp.scan(code)["userid"] for _ in range(2)] == ["demo_guide_sz01", "demo_guide_sz02"]
        assert len(corp.sim.welcomes()) == 2
    finally:
        corp.close()
