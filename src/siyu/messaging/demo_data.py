"""The demo brand's mass messages: a draft waiting for its dry run, and one sent now through the demo worker and
simulator, so the 客户群发 pages have something to show."""

from __future__ import annotations

from siyu.messaging import mass
from siyu.messaging.models import MassMessage
from siyu.orgs.models import Membership


def load_messaging_demo(org) -> None:
    """Idempotent: skipped once the brand has a mass message."""
    if MassMessage.objects.for_org(org).exists():
        return
    hq = Membership.objects.for_org(org).get(user__username="demo_hq")
    mass.create_message(org, by=hq, title="周末会员日", audience={},
                        text="本周六会员日，全场满 500 减 80，欢迎到店。")
    sent = mass.create_message(org, by=hq, title="秋冬新品到店", audience={},
                               text="秋冬新品已到店，欢迎周末来试穿，我给您留好尺码。",
                               attachments=[{"msgtype": "link", "link": {"title": "秋冬新品一览",
                                                                          "url": "https://example.com/new"}}])
    mass.schedule(sent, by=hq)
