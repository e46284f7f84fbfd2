"""A brand wired to a real simulator over a loopback port, with staff and customers made in bulk on both sides
(the simulator's import of earlier friendships, Siyu's rows by bulk insert) so 20,000 customers take seconds."""

from __future__ import annotations

import datetime as dt
import itertools
from datetime import time

from siyu.customers.models import Customer, Relation
from siyu.orgs.models import Staff
from siyu.orgs.staff import upsert_staff
from siyu.privacy.models import ConsentRecord
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import WeComConnection
from siyu.wecom.receiver import forget_cryptor
from siyu.wecom.simulator import SimClock, Simulator, run_in_thread
from tests.factories import drain
from tests.messaging.helpers import LONG_AGO, set_policy

CORP_ID = "ww3e4f5a6b7c8d9e0f"
SECRET = "mass-test-secret"
AGENT_ID = "1000002"
ADDED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_n = itertools.count(1)


class Corp:
    def __init__(self, org):
        self.org = org
        token, aes_key = generate_token(), generate_encoding_aes_key()
        self.sim = Simulator(CORP_ID, SECRET, AGENT_ID, token, aes_key, f"http://testserver/wecom/callback/{org.slug}/",
                             clock=SimClock(frozen=True), deliver=lambda *a: 200)
        base, self.stop = run_in_thread(self.sim)
        WeComConnection.objects.create(org=org, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET,
                                       callback_token=token, encoding_aes_key=aes_key, api_base=f"{base}/cgi-bin/")
        forget_cryptor(org.slug)
        # No quiet hours: these tests run at any real hour; the guard's own tests cover quiet hours.
        set_policy(org, quiet_start=time(0), quiet_end=time(0))

    def staff(self, count: int, store=None) -> list[Staff]:
        made = []
        for _ in range(count):
            userid = f"mass{next(_n)}"
            staff = upsert_staff(self.org, self.sim.add_staff(userid, f"员工{userid}"))
            staff.store, staff.is_customer_contact = store, True
            staff.save(update_fields=["store", "is_customer_contact"])
            made.append(staff)
        return made

    def customers(self, staff: Staff, count: int, *, consent: bool = True) -> list[Customer]:
        """``count`` customers who have long been ``staff``'s friends, in WeCom and in Siyu."""
        first = next(_n) * 100_000
        made = Customer.objects.bulk_create(
            [Customer(org=self.org, external_userid=f"wm{first + i}", name=f"客户{i}", first_added_at=ADDED)
             for i in range(count)], batch_size=2000)
        self.befriend(staff, made)
        if consent:
            ConsentRecord.objects.bulk_create(
                [ConsentRecord(org=self.org, customer=c, purpose="marketing", granted=True, source="import", at=LONG_AGO)
                 for c in made], batch_size=2000)
        return made

    def befriend(self, staff: Staff, customers: list[Customer], *, at: dt.datetime = ADDED) -> None:
        """``staff`` and ``customers`` became friends at ``at``, on both sides."""
        self.sim.import_contacts([{"external_userid": c.external_userid, "name": c.name, "userid": staff.userid,
                                   "createtime": int(at.timestamp())} for c in customers])
        Relation.objects.bulk_create([Relation(org=self.org, customer=c, staff=staff, added_at=at) for c in customers],
                                     batch_size=2000)

    def recipients(self) -> dict[str, tuple[str, list[str]]]:
        """Every group message in the simulator: ``{msgid: (sender, [external_userid, ...])}``."""
        return {t.msgid: (t.sender, [r.external_userid for r in t.results])
                for t in self.sim.state.msg_templates.values()}

    def run(self) -> int:
        return drain()
