"""The guard's periodic work: releasing recipients held for quiet hours once their window opens."""

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
