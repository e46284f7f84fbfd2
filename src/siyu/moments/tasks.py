"""Periodic work of moments: reading the results of the moments being published or recently published."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from siyu.moments import results

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*/10"))
def fetch_moment_results() -> int:
    """Every ten minutes: publishing status, audiences, likes and comments of the moments still followed."""
    fetched = 0
    for moment in results.followed():
        try:
            results.fetch_results(moment)
            fetched += 1
        except Exception:  # noqa: BLE001 - one moment's failure must not stop the others; retried next time
            log.exception("fetching the results of moment %s failed", moment.pk)
    return fetched
