"""Periodic WeCom work: the nightly reconcile (a full sync of every connected organization) and pulling the
chat archive every minute. Importing this module also registers the ``wecom.full_sync`` job handler."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from siyu.orgs.models import Organization
from siyu.wecom import archive, sync
from siyu.wecom.models import WeComConnection

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai_crontab(**fields):
    """A huey crontab read on Beijing time. huey hands periodic checks naive UTC (``utc=True``, its default)
    or naive local time, so a plain crontab's hours would depend on the server's clock."""
    matches = crontab(**fields)

    def validate(timestamp: datetime) -> bool:
        aware = timestamp.replace(tzinfo=UTC) if HUEY.utc else timestamp.astimezone()
        return matches(aware.astimezone(SHANGHAI).replace(tzinfo=None))

    return validate


def _connections():
    # A periodic task acts for every organization: there is no single org to scope the read to.
    return WeComConnection.objects.filter(is_active=True, org__is_active=True).select_related("org").order_by("org_id")


@db_periodic_task(shanghai_crontab(minute="30", hour="3"))
def nightly_reconcile() -> list[int]:
    """03:30 Beijing time: a full sync of every connected organization, which repairs what callbacks missed.

    An organization whose sync is already running is skipped. Returns the ids of the jobs started.
    """
    started = []
    for conn in _connections():
        try:
            started.append(sync.start_full_sync(conn.org, None, reason="nightly").pk)
        except ValidationError as refused:
            log.info("nightly reconcile of %s skipped: %s", conn.org.slug, "; ".join(refused.messages))
    return started


@db_periodic_task(crontab(minute="*"))
def pull_archives() -> int:
    """Every minute: queue an archive pull for each organization whose archive source is on."""
    queued = 0
    for conn in _connections():
        try:
            enabled = archive.archive_enabled(conn.org, conn)
        except archive.ArchiveError as error:
            log.error("chat archive of %s: %s", conn.org.slug, error)
            continue
        if enabled:
            pull_archive(conn.org_id)
            queued += 1
    return queued


@db_task()
def pull_archive(org_id: int) -> int:
    """Pull one organization's new archived messages (also run when WeCom sends ``msgaudit_notify``)."""
    org = Organization.objects.get(pk=org_id)
    try:
        return archive.fetch_archive(org)
    except archive.ArchiveError as error:
        # The next minute's run starts again from the stored cursor; nothing is lost by giving up now.
        log.warning("chat archive of %s: %s", org.slug, error)
        return 0
