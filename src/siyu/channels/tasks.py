"""Periodic work (huey): keep time-slot and daily-cap codes listing the right staff as the clock moves."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from siyu.channels import rotation


@db_periodic_task(crontab(minute="*"))
def refresh_channel_rotations() -> int:
    """Every minute: slot boundaries and midnight (caps reset) change who receives the next customer."""
    return rotation.refresh_rotations()
