"""A brand wired to a real simulator: Siyu's client reaches it over a loopback port, and its callbacks reach
Siyu's callback URL through the test client, as WeCom's reach a deployed Siyu."""

from __future__ import annotations

import itertools
import urllib.parse

import pytest
from django.test import Client

from siyu.core.dispatch import dispatch_once
from siyu.customers.models import Tag
from siyu.orgs.models import Staff
from siyu.orgs.staff import upsert_staff
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import ApiCall, WeComConnection
from siyu.wecom.receiver import forget_cryptor
from siyu.wecom.simulator import Simulator, run_in_thread

CORP_ID = "ww5c0d1e2f3a4b5c6d"
SECRET = "channels-test-secret"
AGENT_ID = "1000002"
_n = itertools.count(1)


class Corp:
    """The organization, its simulator (``sim``) and helpers to act in WeCom and let Siyu catch up."""

    def __init__(self, org, *, clock=None, capture=None):
        self.org = org
        self._capture = capture
        token, aes_key = generate_token(), generate_encoding_aes_key()
        self.sim = Simulator(
            CORP_ID, SECRET, AGENT_ID, token, aes_key, f"http://testserver/wecom/callback/{org.slug}/",
            clock=clock, deliver=self._deliver,
        )
        base, self.stop = run_in_thread(self.sim)
        self.connection = WeComConnection.objects.create(
            org=org, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, callback_token=token,
            encoding_aes_key=aes_key, api_base=f"{base}/cgi-bin/",
        )
        forget_cryptor(org.slug)
        self.http = Client()

    def _deliver(self, url: str, params: dict, body: bytes) -> int:
        path = urllib.parse.urlsplit(url).path
        return self.http.post(f"{path}?{urllib.parse.urlencode(params)}", body, content_type="text/xml").status_code

    def staff(self, userid: str | None = None, name: str | None = None, store=None) -> Staff:
        userid = userid or f"staff{next(_n)}"
        info = self.sim.add_staff(userid, name or f"员工{userid}")
        staff = upsert_staff(self.org, info)
        staff.store, staff.is_customer_contact = store, True
        staff.save(update_fields=["store", "is_customer_contact"])
        return staff

    def tags(self, *names: str, group: str = "渠道") -> list[Tag]:
        """Corp tags created in WeCom's admin console; Siyu learns them from the callback."""
        self.sim.admin_add_tags(list(names), group_name=group)
        self.run()
        return [Tag.objects.for_org(self.org).get(name=name, deleted=False) for name in names]

    def run(self, passes: int = 20) -> int:
        """Dispatcher passes until nothing is due (on-commit work included, as after a real commit)."""
        total = 0
        for _ in range(passes):
            if self._capture is not None:
                with self._capture(execute=True):
                    performed = dispatch_once()
            else:
                performed = dispatch_once()
            total += performed
            if not performed:
                break
        return total

    def scan(self, code, **kwargs) -> dict:
        """A customer scans ``code``; Siyu processes the callback and everything it sets off."""
        result = self.sim.scan(config_id=code.config_id, **kwargs)
        self.run()
        return result

    def calls(self, endpoint: str, **filters) -> int:
        return ApiCall.objects.for_org(self.org).filter(endpoint=endpoint, **filters).count()

    def way(self, code) -> dict:
        return vars(self.sim.state.contact_ways[code.config_id]).copy()

    def close(self) -> None:
        self.stop()
        self.sim.close()


@pytest.fixture
def corp(world, django_capture_on_commit_callbacks, settings):
    settings.WECOM_BACKOFF_BASE = 0.001
    settings.WECOM_BACKOFF_MAX = 0.01
    corp = Corp(world.org, capture=django_capture_on_commit_callbacks)
    yield corp
    corp.close()


@pytest.fixture
def live_corp(transactional_db, settings):
    """For tests that need real commits (threads, concurrency): a fresh organization and its simulator."""
    from tests.factories import make_member, make_org

    settings.WECOM_BACKOFF_BASE = 0.001
    settings.WECOM_BACKOFF_MAX = 0.01
    org = make_org()
    corp = Corp(org)
    corp.admin = make_member(org)
    yield corp
    corp.close()
