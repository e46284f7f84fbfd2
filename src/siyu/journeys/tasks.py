"""The periodic sweep that lets customers into journeys triggered by a CDP event."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from siyu.journeys import triggers


@db_periodic_task(crontab(minute="*"))
def sweep_event_journeys() -> int:
    """Every minute: a customer's event enters them at most a minute (one sweep) after it is normalized."""
    return triggers.sweep_events()
