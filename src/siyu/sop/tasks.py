"""The periodic SOP sweep of every connected brand."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from siyu.orgs.models import Organization
from siyu.sop import enrollment
from siyu.sop.models import Sop

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*/5"))
def sweep_sops() -> int:
    """Every five minutes (the run keys make repeats harmless): enrol and stop for each brand with an active SOP."""
    started = 0
    org_ids = Sop.objects.filter(is_active=True).values_list("org_id", flat=True).distinct()
    for org in Organization.objects.filter(is_active=True, pk__in=org_ids):
        try:
            started += enrollment.sweep(org)[0]
        except Exception:  # noqa: BLE001 - one brand's bad data must not stop the others
            log.exception("SOP sweep for %s failed", org.slug)
    return started
