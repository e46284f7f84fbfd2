"""Set-up shared by the SOP tests: an SOP saved through the service, switched on, and a staff member signed in to
the mobile task page through WeCom OAuth against the simulator."""

from __future__ import annotations

from datetime import time
from urllib.parse import urlsplit

import httpx
from django.test import Client

from siyu.sop import services
from siyu.sop.services import StepInput
from siyu.wecom.models import WeComConnection

WELCOME = StepInput(0, time(20, 0), text="{客户称呼}您好，欢迎礼包已为您准备好")
TIPS = StepInput(3, time(10, 0), text="护肤小技巧：洁面后三分钟内保湿")
COUPON = StepInput(7, time(10, 0), text="送您一张专属优惠券，本周有效")


def make_sop(org, by, *, steps=(WELCOME, TIPS, COUPON), active=True, **fields):
    sop = services.save_sop(org, by=by, name=fields.pop("name", "新客 7 天"), trigger=fields.pop("trigger", "added"),
                            steps=list(steps), **fields)
    if active:
        services.set_active(sop, True, by=by)
    return sop


def sign_in_with_wecom(corp, settings, userid: str, page: str) -> Client:
    """A browser that opens ``page`` (the link of the app message) and signs in inside the WeCom app as ``userid``."""
    connection = WeComConnection.objects.for_org(corp.org).get()
    base = connection.api_base.removesuffix("/cgi-bin/")
    settings.WECOM_LOGIN_BASE = base
    settings.PUBLIC_URL = "http://testserver"
    corp.sim.set_trusted_domains(["testserver"])
    client = Client()
    path = page.removeprefix("http://testserver")
    start = client.get(path)
    assert start.status_code == 302 and start["Location"].startswith("/wecom/oauth/start/")
    to_wecom = client.get(start["Location"])
    assert to_wecom.status_code == 302
    answer = httpx.post(to_wecom["Location"], data={"userid": userid}, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    landed = client.get(f"{back.path}?{back.query}")
    assert landed.status_code == 302 and landed["Location"] == path
    return client
