"""Retention: exported files (customer lists with phone numbers, statistics) are deleted after a while.

The export folders are ``DATA_DIR/exports`` and ``MEDIA_ROOT/exports``; a file older than
``EXPORT_RETENTION_DAYS`` is removed by the daily task in ``siyu.privacy.tasks``. Job rows keep their
result, and a download of a removed file answers 404.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)


def export_roots() -> list[Path]:
    return [Path(settings.DATA_DIR) / "exports", Path(settings.MEDIA_ROOT) / "exports"]


def delete_expired_exports(*, now: float | None = None) -> int:
    """Delete export files older than the retention period; the number deleted."""
    cutoff = (time.time() if now is None else now) - settings.EXPORT_RETENTION_DAYS * 86400
    deleted = 0
    for root in export_roots():
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                deleted += 1
    if deleted:
        log.info("deleted %d export file(s) past the %d-day retention", deleted, settings.EXPORT_RETENTION_DAYS)
    return deleted
