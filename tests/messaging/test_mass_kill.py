"""`kill -9` of a real `siyu worker` in the middle of a 20,000-customer mass message, while WeCom has made a task
whose answer the worker never received: a second worker finishes the send with every customer in exactly one
WeCom task and none missing."""

from __future__ import annotations

from collections import Counter

import pytest

from siyu.messaging import mass
from siyu.messaging.models import MassMessage, MassTask
# ``workers``: the fixture of the dispatcher's own kill tests (real `siyu worker` processes, killed at the end).
from tests.core.test_dispatch_kill import TAKEOVER_TIMEOUT, sigkill, wait_for, workers  # noqa: F401
from tests.messaging.mass_helpers import Corp

pytestmark = pytest.mark.django_db(transaction=True)
START_TIMEOUT = 120


def test_kill_9_mid_send_then_a_restart_leaves_every_customer_in_exactly_one_task(workers):
    from tests.factories import World

    world = World()
    corp = Corp(world.org)
    try:
        staff = corp.staff(40)
        customers = corp.customers(staff[0], 10_500)
        for index, member in enumerate(staff[1:], 1):
            customers += corp.customers(member, 243 + (index <= 23))
        assert len(customers) == 20_000
        message = mass.create_message(world.org, by=world.admin, title="春季上新", text="春季新品到店", audience={})
        # The first task's call is performed by WeCom, and its answer is held: the worker dies waiting for it.
        stall = corp.sim.stall_next("externalcontact/add_msg_template")
        mass.schedule(message, by=world.admin)

        first = workers.start()
        wait_for(lambda: stall.reached.is_set(), timeout=START_TIMEOUT, what="worker 1 to call add_msg_template",
                 workers=workers, alive=[first])
        sigkill(first)
        stall.release.set()
        calling = MassTask.objects.for_org(world.org).filter(call_state=MassTask.CallState.CALLING)
        assert calling.filter(msgid="").exists()  # the answer never reached Siyu
        created_before = set(corp.recipients())
        assert created_before

        second = workers.start()
        wait_for(lambda: not MassTask.objects.for_org(world.org).exclude(status=MassTask.Status.DONE).exists(),
                 timeout=TAKEOVER_TIMEOUT + START_TIMEOUT, what="worker 2 to make the remaining tasks",
                 workers=workers, alive=[second])
        sigkill(second)

        sent = corp.recipients()
        tasks = list(MassTask.objects.for_org(world.org).filter(message=message))
        assert len(sent) == len(tasks) == 41
        assert {t.msgid for t in tasks} == set(sent)
        assert created_before <= set(sent)  # the task made before the kill was adopted, not made again
        everyone = Counter(ext for _sender, ids in sent.values() for ext in ids)
        assert set(everyone) == {c.external_userid for c in customers}
        assert set(everyone.values()) == {1}
        assert MassMessage.objects.for_org(world.org).get(pk=message.pk).status == MassMessage.Status.SENDING
    finally:
        corp.stop()
