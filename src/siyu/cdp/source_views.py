"""Console pages for sources (数据源): the list with counts, a Segment-style debugger per source, and write keys
(a new key is shown once, in the response that made it, and never again)."""

from __future__ import annotations

import json
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from siyu.cdp import sources
from siyu.cdp.models import Event, IngestReject, RawBatch, Source, WriteKey
from siyu.cdp.source_forms import SourceForm
from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.privacy.masking import mask_email, mask_phone, mask_text

# Why requests (or events) were refused, as the debugger names them; the API answers with the codes.
REASON_LABELS = {
    "bad_gzip": _("gzip 压缩数据损坏"),
    "bad_json": _("JSON 格式或字段类型错误"),
    "too_large": _("超出大小限制（单条 32 KB，每批 500 KB）"),
    "empty_batch": _("批次中没有事件"),
    "unknown_type": _("未知的事件类型"),
    "track_without_event": _("行为事件缺少事件名"),
    "no_user_id": _("缺少用户 ID 或匿名 ID"),
    "alias_without_previous_id": _("关联调用缺少原 ID"),
    "group_without_group_id": _("分组调用缺少分组 ID"),
    "revoked_write_key": _("写入密钥已吊销"),
    "source_disabled": _("数据源已停用"),
    "erased_person": _("用户已被删除（个人信息删除请求）"),
    "no_usable_identifier": _("没有可用的用户标识"),
}

# Context and property keys whose values are personal: shown masked in the debugger.
PERSONAL_KEYS = frozenset({"ip", "phone", "mobile", "email", "name", "firstName", "lastName", "address", "birthday"})


def _sources(viewer):
    return Source.objects.visible_to(viewer)


def _day_start(days_ago: int = 0):
    now = timezone.localtime()
    return (now - timedelta(days=days_ago)).replace(hour=0, minute=0, second=0, microsecond=0)


@requires("cdp.sources")
def source_list(request):
    """Every source with its events received today and in the last 7 days."""
    viewer = request.membership
    today, week = _day_start(), _day_start(6)
    rows = list(_sources(viewer).order_by("name", "id"))
    counts = (RawBatch.objects.visible_to(viewer).filter(received_at__gte=week).values("source_id")
              .annotate(week=Sum("events"), today=Sum("events", filter=Q(received_at__gte=today))))
    by_source = {c["source_id"]: c for c in counts}
    keys = dict(WriteKey.objects.visible_to(viewer).filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=timezone.now()))
                .values("source_id").annotate(n=Count("id")).values_list("source_id", "n"))
    for source in rows:
        found = by_source.get(source.pk, {})
        source.today, source.week = found.get("today") or 0, found.get("week") or 0
        source.live_keys = keys.get(source.pk, 0)
    return render(request, "cdp/sources/list.html", {"sources": rows})


@requires("cdp.sources")
def source_create(request):
    form = SourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source = sources.create_source(request.membership.org, by=request.membership, **form.cleaned_data)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            return _detail(request, source, shown_key=sources.create_write_key(source, by=request.membership)[1])
    return render(request, "cdp/sources/form.html", {"form": form}, status=400 if form.errors else 200)


def _mask(key: str, value):
    if isinstance(value, dict):
        return {k: _mask(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(key, v) for v in value]
    if key in PERSONAL_KEYS and value not in (None, ""):
        text = str(value)
        if key in ("phone", "mobile"):
            return mask_phone(text)
        if key == "email":
            return mask_email(text)
        return mask_text(text, 1, 1)
    return value


def _detail(request, source: Source, *, shown_key: str = "", status: int = 200):
    viewer = request.membership
    today, week = _day_start(), _day_start(6)
    batches = RawBatch.objects.visible_to(viewer).filter(source=source, received_at__gte=week)
    counts = batches.aggregate(week=Sum("events"), today=Sum("events", filter=Q(received_at__gte=today)))
    pending = RawBatch.objects.visible_to(viewer).filter(
        source=source, status__in=[RawBatch.Status.PENDING, RawBatch.Status.RUNNING]).aggregate(n=Sum("events"))["n"]
    rejects = (IngestReject.objects.visible_to(viewer).filter(source=source, day__gte=week.date())
               .values("reason").annotate(n=Sum("count")).order_by("-n"))
    events = Event.objects.visible_to(viewer).filter(source=source).order_by("-received_at", "-id")[:50]
    recent = [{"event": e, "json": json.dumps({"properties": _mask("", e.properties), "context": _mask("", e.context)},
                                              ensure_ascii=False, indent=2)} for e in events]
    return render(request, "cdp/sources/detail.html", {
        "source": source, "today": counts["today"] or 0, "week": counts["week"] or 0, "pending": pending or 0,
        "rejects": [{"reason": r["reason"], "n": r["n"], "label": REASON_LABELS.get(r["reason"], r["reason"])}
                    for r in rejects],
        "recent": recent, "keys": WriteKey.objects.visible_to(viewer).filter(source=source),
        "shown_key": shown_key, "now": timezone.now(), "grace_days": sources.ROTATION_GRACE.days,
    }, status=status)


@requires("cdp.sources")
def source_detail(request, pk: int):
    return _detail(request, get_object_or_404(_sources(request.membership), pk=pk))


@requires("cdp.sources")
@require_POST
def key_create(request, pk: int):
    source = get_object_or_404(_sources(request.membership), pk=pk)
    return _detail(request, source, shown_key=sources.create_write_key(source, by=request.membership)[1])


def _key(request, pk: int, key_pk: int) -> WriteKey:
    return get_object_or_404(WriteKey.objects.visible_to(request.membership).select_related("source__org"),
                             pk=key_pk, source_id=pk)


@requires("cdp.sources")
@require_POST
def key_rotate(request, pk: int, key_pk: int):
    key = _key(request, pk, key_pk)
    try:
        _row, shown = sources.rotate_write_key(key, by=request.membership)
    except ValidationError as error:
        return _refused(request, key.source, error)
    return _detail(request, key.source, shown_key=shown)


def _refused(request, source, error: ValidationError):
    from django.contrib import messages

    for message in error.messages:
        messages.error(request, message)
    return _detail(request, source, status=400)


@requires("cdp.sources")
@require_POST
def key_revoke(request, pk: int, key_pk: int):
    key = _key(request, pk, key_pk)
    sources.revoke_write_key(key, by=request.membership)
    return redirect("sources:detail", pk)
