"""Exporting channel statistics: CSV (UTF-8 with a BOM, so Excel reads the Chinese right) and .xlsx.

The .xlsx is written by :mod:`siyu.core.spreadsheets` (openpyxl), dates as real dates. Every export is audited.
Small ones are answered inside the request; one over ``INLINE_LIMIT`` friendships is a job with progress, and its file is kept encrypted (:mod:`siyu.privacy.sealed`) under ``MEDIA_ROOT/exports/`` for the person who asked.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from siyu.analytics import queries
from siyu.analytics.queries import ChannelStats, Figures, Row, StatsFilter
from siyu.core import spreadsheets
from siyu.core.jobs import job_handler, register_job_result, start_job
from siyu.core.models import Job
from siyu.orgs import audit
from siyu.orgs.models import Membership
from siyu.privacy import sealed

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": (spreadsheets.CONTENT_TYPE, "xlsx"),
}
JOB_KIND = "analytics.export"
EXPORT_CONTEXT = b"siyu.analytics.export"
# Friendships (adds and deletions in the range) above which the export runs as a job.
INLINE_LIMIT = 20_000


@dataclass(frozen=True)
class Column:
    label: Callable[[], str]
    value: Callable[[Row | Figures], object]
    levels: frozenset[str]  # the groupings that show it


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else round(ratio * 100, 1)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


_ALL = frozenset(queries.GROUPINGS)
_DAY = frozenset({"detail", "day"})
_CHANNEL = frozenset({"detail", "channel"})
_STAFF = frozenset({"detail", "staff"})
COLUMNS = [
    Column(lambda: _("日期"), lambda r: getattr(r, "day", None) or "", _DAY),
    Column(lambda: _("渠道参数"), lambda r: getattr(r, "state", "") or "", _CHANNEL),
    Column(lambda: _("渠道名称"), lambda r: r.channel.name if getattr(r, "channel", None) else "", _CHANNEL),
    Column(lambda: _("合作方"), lambda r: r.channel.partner_name if getattr(r, "channel", None) else "", _CHANNEL),
    Column(lambda: _("员工账号"), lambda r: r.staff.userid if getattr(r, "staff", None) else "", _STAFF),
    Column(lambda: _("员工"), lambda r: r.staff.name if getattr(r, "staff", None) else "", _STAFF),
    Column(lambda: pgettext("singular", "门店"), lambda r: r.staff.store if getattr(r, "staff", None) else "", _STAFF),
    Column(lambda: _("新增客户"), lambda r: r.adds, _ALL),
    Column(lambda: _("客户删除员工"), lambda r: r.deleted_by_customer, _ALL),
    Column(lambda: _("员工删除客户"), lambda r: r.deleted_by_staff, _ALL),
    Column(lambda: _("净增客户"), lambda r: r.net, _ALL),
    Column(lambda: _("满7天的新增"), lambda r: r.eligible_7, _ALL),
    Column(lambda: _("7天后仍为好友"), lambda r: r.retained_7, _ALL),
    Column(lambda: _("7日留存率(%)"), lambda r: _percent(r.retention_7), _ALL),
    Column(lambda: _("满30天的新增"), lambda r: r.eligible_30, _ALL),
    Column(lambda: _("30天后仍为好友"), lambda r: r.retained_30, _ALL),
    Column(lambda: _("30日留存率(%)"), lambda r: _percent(r.retention_30), _ALL),
    Column(lambda: _("发来消息的客户"), lambda r: r.wrote, _ALL),
    Column(lambda: _("已回复"), lambda r: r.replied, _ALL),
    Column(lambda: _("平均首次回复时长(秒)"), lambda r: _seconds(r.avg_reply_seconds), _ALL),
]


def table(stats: ChannelStats, by: str) -> tuple[list[str], list[list]]:
    """The header and rows of one grouping, with the totals as the last row."""
    columns = [c for c in COLUMNS if by in c.levels]
    rows = [[c.value(row) for c in columns] for row in stats.grouped(by)]
    total = [c.value(stats.total) if c.levels == _ALL else "" for c in columns]
    total[0] = _("合计")
    return [c.label() for c in columns], rows + [total]


# -- file formats ---------------------------------------------------------------------------------------------
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value):
    # A cell starting with = + - @ is a formula to Excel: a channel named "=HYPERLINK(…)" must stay text.
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def to_csv(header: list[str], rows: Iterable[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_safe(v) for v in row])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(header: list[str], rows: list[list], sheet: str = "Sheet1") -> bytes:
    buffer = io.BytesIO()
    spreadsheets.write_xlsx(buffer, header, rows, sheet=sheet)
    return buffer.getvalue()


def encode(header: list[str], rows: list[list], fmt: str) -> bytes:
    return to_csv(header, rows) if fmt == "csv" else to_xlsx(header, rows, sheet=_("渠道统计"))


def filename(filters: StatsFilter, fmt: str) -> str:
    return f"channel-stats-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.{FORMATS[fmt][1]}"


# -- the service ----------------------------------------------------------------------------------------------
@dataclass
class Export:
    """Either the file itself (small exports) or the job that is writing it."""

    filename: str
    content_type: str
    content: bytes | None = None
    job: Job | None = None


def export_channel_stats(viewer: Membership, filters: StatsFilter, *, by: str, fmt: str) -> Export:
    """Export what ``viewer`` may see for ``filters`` at grouping ``by``; audited, a job when large."""
    viewer.require("analytics.view")
    if by not in queries.GROUPINGS or fmt not in FORMATS:
        raise ValueError(f"unknown grouping or format: {by!r}, {fmt!r}")
    size = queries.relation_count(viewer, filters)
    details = {"filters": filters.as_params(), "group": by, "format": fmt, "friendships": size}
    name, content_type = filename(filters, fmt), FORMATS[fmt][0]
    if size > INLINE_LIMIT:
        job = start_job(
            org=viewer.org, kind=JOB_KIND, title=_("导出渠道统计 %(name)s") % {"name": name}, by=viewer.user,
            params={"viewer": viewer.pk, "filters": filters.as_params(), "group": by, "format": fmt,
                    "language": translation.get_language()},
        )
        audit.record("analytics.exported", org=viewer.org_id, actor=viewer.user, obj=job, details=details)
        return Export(name, content_type, job=job)
    header, rows = table(queries.channel_stats(viewer, filters), by)
    audit.record("analytics.exported", org=viewer.org_id, actor=viewer.user, details={**details, "rows": len(rows) - 1})
    return Export(name, content_type, content=encode(header, rows, fmt))


def export_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / "analytics"


def export_file(job: Job) -> Path | None:
    """The finished file of an export job, if it is still there (and inside the export folder)."""
    relative = (job.result or {}).get("file")
    if job.kind != JOB_KIND or job.status != Job.Status.SUCCEEDED or not relative:
        return None
    root = export_dir().resolve()
    path = (root / relative).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


@job_handler(JOB_KIND)
def run_export(job: Job, progress) -> dict:
    """Compute the statistics as the member who asked (their visibility, checked again now) and write the file."""
    params = job.params
    viewer = Membership.objects.for_org(job.org_id).select_related("org", "user").get(pk=params["viewer"])
    if not viewer.can("analytics.view"):
        raise PermissionDenied("analytics.view")
    filters = StatsFilter.from_params(params["filters"])
    with translation.override(params.get("language") or settings.LANGUAGE_CODE):
        progress.advance(0, _("正在统计…"))
        stats = queries.channel_stats(viewer, filters)
        header, rows = table(stats, params["group"])
        progress.set_total(len(rows))
        progress.advance(len(rows), _("正在写入文件…"))
        fmt = params["format"]
        content = encode(header, rows, fmt)
    relative = f"{job.org_id}/{job.pk}-{secrets.token_hex(8)}.{FORMATS[fmt][1]}"
    path = export_dir() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    sealed.write(path, content, context=EXPORT_CONTEXT)
    return {"file": relative, "filename": filename(filters, fmt), "rows": len(rows) - 1}


register_job_result(JOB_KIND, lambda job: reverse("analytics:export_download", args=[job.pk]))
