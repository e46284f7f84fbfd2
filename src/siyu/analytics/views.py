"""The channel statistics page (渠道统计), its export, and the progress of large exports."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from siyu.analytics import exports, queries
from siyu.analytics.forms import ChannelStatsForm, ExportForm
from siyu.analytics.queries import ChannelStats, PartnerRow
from siyu.console.access import requires
from siyu.console.paging import paginate
from siyu.core.models import Job
from siyu.privacy import sealed

TOP_CHANNELS = 5
TABLE_PAGE = 50


GRID = {"left": 48, "right": 16, "top": 40, "bottom": 28, "containLabel": True}


def trend_chart(stats: ChannelStats) -> dict:
    """Adds, deletions and net growth per day, as ECharts options."""
    days = stats.daily()
    names = {"adds": _("新增客户"), "by_customer": _("客户删除员工"), "by_staff": _("员工删除客户"), "net": _("净增客户")}
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": list(names.values())},
        "grid": GRID,
        "xAxis": {"type": "category", "data": [d.day.strftime("%m-%d") for d in days]},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": names["adds"], "type": "bar", "data": [d.adds for d in days]},
            {"name": names["by_customer"], "type": "line", "data": [d.deleted_by_customer for d in days]},
            {"name": names["by_staff"], "type": "line", "data": [d.deleted_by_staff for d in days]},
            {"name": names["net"], "type": "line", "data": [d.net for d in days]},
        ],
    }


def channel_chart(stats: ChannelStats) -> dict | None:
    """Daily adds of the channels that brought the most customers in the range."""
    top = [row for row in stats.grouped("channel") if row.adds][:TOP_CHANNELS]
    if not top:
        return None
    index = {d: i for i, d in enumerate(stats.filters.days)}
    series = {row.state: [0] * len(index) for row in top}
    for row in stats.rows:
        if row.state in series:
            series[row.state][index[row.day]] += row.adds
    labels = {row.state: row.channel.label if row.channel else row.state for row in top}
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": list(labels.values()), "type": "scroll"},
        "grid": GRID,
        "xAxis": {"type": "category", "data": [d.strftime("%m-%d") for d in stats.filters.days]},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [{"name": labels[s], "type": "line", "data": data} for s, data in series.items()],
    }


def share_chart(report: list[PartnerRow]) -> dict | None:
    """Each partner's share of channel adds (the brand's own channels as one slice)."""
    if not any(entry.partner_id is not None for entry in report) or not any(entry.adds for entry in report):
        return None
    return {
        "tooltip": {"trigger": "item", "formatter": "{b}: {c} ({d}%)"},
        "series": [{
            "type": "pie", "radius": ["40%", "70%"],
            "data": [{"name": entry.name or _("自有渠道"), "value": entry.adds} for entry in report],
        }],
    }


@requires("analytics.view")
def channel_stats(request):
    viewer = request.membership
    data = request.GET.copy()
    if not data.get("start") and not data.get("end"):  # show the default range in the date fields
        start, end = queries.default_range()
        data["start"], data["end"] = start.isoformat(), end.isoformat()
    form = ChannelStatsForm(data, viewer=viewer)
    context = {"form": form}
    if not form.is_valid():
        return render(request, "analytics/channel_stats.html", context, status=400)
    filters, by = form.stats_filter(), form.cleaned_data["group"]
    stats = queries.channel_stats(viewer, filters)
    report = queries.partner_report(viewer, filters, stats=stats)
    context.update(
        stats=stats, total=stats.total, by=by, page=paginate(request, stats.grouped(by), per_page=TABLE_PAGE),
        partners=report, partner_filtered=filters.partner_id is not None, channels_installed=queries.channels_installed(),
        trend_chart=trend_chart(stats), channel_chart=channel_chart(stats), share_chart=share_chart(report),
        export_fields=[(k, v) for k, v in data.items() if k in form.fields],
    )
    return render(request, "analytics/channel_stats.html", context)


@require_POST
@requires("analytics.view")
def export(request):
    """Download the table as CSV or Excel; a large one becomes a job and this redirects to its progress."""
    viewer = request.membership
    form = ExportForm(request.POST, viewer=viewer)
    if not form.is_valid():
        return render(request, "analytics/channel_stats.html", {"form": form}, status=400)
    result = exports.export_channel_stats(viewer, form.stats_filter(), by=form.cleaned_data["group"],
                                          fmt=form.cleaned_data["format"])
    if result.job is not None:
        return redirect("analytics:export_status", pk=result.job.pk)
    response = HttpResponse(result.content, content_type=result.content_type)
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    return response


def _export_job(request, pk: int) -> Job:
    """Only the member who asked may follow or fetch an export: its file holds what *they* may see."""
    jobs = Job.objects.visible_to(request.membership).filter(kind=exports.JOB_KIND, created_by=request.user)
    return get_object_or_404(jobs, pk=pk)


@requires("analytics.view")
def export_status(request, pk: int):
    job = _export_job(request, pk)
    template = "analytics/_export_status.html" if request.htmx else "analytics/export_status.html"
    return render(request, template, {"job": job, "ready": exports.export_file(job) is not None})


@requires("analytics.view")
def export_download(request, pk: int):
    job = _export_job(request, pk)
    path = exports.export_file(job)
    if path is None:
        raise Http404("export not ready")
    return sealed.download(path, context=exports.EXPORT_CONTEXT, filename=job.result.get("filename") or path.name,
                           content_type=exports.FORMATS[job.params["format"]][0])
