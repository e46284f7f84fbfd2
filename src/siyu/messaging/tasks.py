"""The messaging periodic work: releasing recipients held for quiet hours once their window opens, and reading
the results of mass messages being sent."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from siyu.messaging import services
from siyu.orgs.models import Organization

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
def release_held_messages() -> int:
    """Every minute: re-decide held recipients whose quiet hours are over, brand by brand."""
    released = 0
    for org in Organization.objects.filter(is_active=True):
        try:
            released += sum(len(ids) for ids in services.release_held(org).values())
        except Exception:  # noqa: BLE001 - one brand's bad data must not stop the others; logged, retried next minute
            log.exception("releasing held messages failed for organization %s", org.pk)
    return released


@db_periodic_task(crontab(minute="*/10"))
def fetch_mass_results() -> int:
    """Every ten minutes: read WeCom's results of the mass messages still being sent."""
    from siyu.messaging import mass
    from siyu.messaging.models import MassMessage

    fetched = 0
    for message in MassMessage.objects.filter(status=MassMessage.Status.SENDING):
        try:
            mass.fetch_results(message)
            fetched += 1
        except Exception:  # noqa: BLE001 - one message's failure must not stop the others; retried next time
            log.exception("fetching the results of mass message %s failed", message.pk)
    return fetched
