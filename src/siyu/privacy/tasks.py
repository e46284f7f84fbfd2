from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from siyu.privacy.retention import delete_expired_exports


@db_periodic_task(crontab(minute="17", hour="3"))
def delete_expired_exports_daily():
    """Every night: exported files past their retention period are deleted."""
    delete_expired_exports()
