"""A brand connected to a simulator served on a loopback port, for sign-in with WeCom and JS-SDK tests."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from siyu.orgs.staff import upsert_staff
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.simulator import SimClock, Simulator, run_in_thread
from tests.wecom.helpers import connect

CORP_ID = "ww51671c0de51671c0"
SECRET = "signin-test-secret"


class SignInCorp:
    """``world.org`` connected to a running simulator whose trusted domain is Siyu's public address."""

    def __init__(self, org, settings, public_url: str = "http://testserver"):
        self.org = org
        self.sim = Simulator(CORP_ID, SECRET, "1000002", generate_token(), generate_encoding_aes_key(),
                             clock=SimClock(frozen=True), deliver=lambda url, params, body: 200)
        self.base, self._stop = run_in_thread(self.sim)
        settings.WECOM_LOGIN_BASE = self.base
        settings.PUBLIC_URL = public_url
        self.sim.set_trusted_domains([urlsplit(public_url).netloc])
        self.connection = connect(org, corp_id=CORP_ID, api_base=f"{self.base}/cgi-bin/", secret=SECRET)
        self.http = httpx.Client(timeout=10)

    def staff(self, userid: str, name: str, membership=None):
        """A WeCom member, synced into Siyu, linked to ``membership`` (a console account) when given."""
        staff = upsert_staff(self.org, self.sim.add_staff(userid, name))
        staff.membership = membership
        staff.save(update_fields=["membership"])
        return staff

    def choose(self, authorize_url: str, **form) -> str:
        """Pick a visitor on the simulator's sign-in page; the URL WeCom sends the browser back to."""
        response = self.http.post(authorize_url, data=form)
        assert response.status_code == 302, response.text
        return response.headers["location"]

    def close(self) -> None:
        self.http.close()
        self._stop()
        self.sim.close()
