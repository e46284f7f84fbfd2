"""Periodic work (huey): keep group codes listing the rooms WeCom created, should a callback have been missed."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from siyu.groups import codes


@db_periodic_task(crontab(minute="*/10"))
def sync_group_codes() -> int:
    """Every ten minutes: re-read the join way of every active auto-creating group code."""
    return codes.sync_all_codes()
