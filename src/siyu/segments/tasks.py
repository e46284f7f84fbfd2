"""Periodic work (huey): refresh saved segments on their schedule."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from siyu.segments import services


@db_periodic_task(crontab(minute="7"))
def refresh_segments() -> int:
    """Every hour: refresh the hourly segments, and the daily ones a day after their last refresh."""
    return services.refresh_due()
