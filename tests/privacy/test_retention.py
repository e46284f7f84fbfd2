"""Exports are deleted after the retention period."""

import os
import time

from django.test import override_settings

from siyu.privacy.retention import delete_expired_exports


@override_settings(EXPORT_RETENTION_DAYS=7)
def test_exports_older_than_the_retention_period_are_deleted(tmp_path):
    with override_settings(DATA_DIR=tmp_path, MEDIA_ROOT=tmp_path / "media"):
        old = tmp_path / "exports" / "org-1" / "customers-1.csv"
        recent = tmp_path / "media" / "exports" / "analytics" / "1" / "stats.csv"
        stale_stats = recent.with_name("old-stats.xlsx")
        for path in (old, recent, stale_stats):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("13800138000")
        eight_days_ago = time.time() - 8 * 86400
        for path in (old, stale_stats):
            os.utime(path, (eight_days_ago, eight_days_ago))
        assert delete_expired_exports() == 2
        assert not old.exists() and not stale_stats.exists() and recent.exists()
