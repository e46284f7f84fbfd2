"""Figures for the landing dashboard, computed from the organization's own rows."""

from datetime import datetime, time, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from siyu.core.models import Job
from siyu.customers.models import Relation
from siyu.orgs.models import AuditEntry, Membership, Store
from siyu.orgs.roles import Role


def figures(viewer) -> list[dict]:
    stores = Store.objects.visible_to(viewer).filter(kind=Store.Kind.STORE)
    members = Membership.objects.visible_to(viewer).filter(is_active=True)
    by_role = dict(members.values_list("role").annotate(n=Count("id")))
    jobs = Job.objects.visible_to(viewer)
    return [
        {"label": _("门店"), "value": stores.count(), "hint": _("营业中 %(n)s 家") % {"n": stores.filter(is_active=True).count()}},
        {"label": _("成员"), "value": members.count(),
         "hint": _("导购 %(g)s · 店长 %(m)s") % {"g": by_role.get(Role.GUIDE, 0), "m": by_role.get(Role.STORE_MANAGER, 0)}},
        {"label": _("进行中的任务"), "value": jobs.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).count(),
         "hint": _("近 7 天失败 %(n)s 个") % {"n": jobs.filter(status=Job.Status.FAILED, created_at__gte=timezone.now() - timedelta(days=7)).count()}},
    ]


def activity_chart(viewer, days: int = 14) -> dict | None:
    """Daily sign-ins and other console actions over the last ``days`` days, as ECharts options."""
    if not viewer.can("audit.view"):
        return None
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    rows = (
        AuditEntry.objects.visible_to(viewer)
        .filter(created_at__date__gte=start)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "action")
        .annotate(n=Count("id"))
    )
    logins, actions = {}, {}
    for row in rows:
        bucket = logins if row["action"] in ("login.succeeded", "login.wecom_succeeded") else actions
        bucket[row["day"]] = bucket.get(row["day"], 0) + row["n"]
    dates = [start + timedelta(days=i) for i in range(days)]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [pgettext("chart series", "登录"), _("操作")]},
        "grid": {"left": 40, "right": 16, "top": 36, "bottom": 28},
        "xAxis": {"type": "category", "data": [d.strftime("%m-%d") for d in dates]},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": pgettext("chart series", "登录"), "type": "bar", "data": [logins.get(d, 0) for d in dates]},
            {"name": _("操作"), "type": "line", "smooth": True, "data": [actions.get(d, 0) for d in dates]},
        ],
    }


def customer_chart(viewer, days: int = 90) -> dict | None:
    """Daily friendships added and lost (by either side) over the last ``days`` days, of the customers the viewer
    may see, as ECharts options; transfers between staff are neither."""
    if not viewer.can("customers.view"):
        return None
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(start, time.min))
    relations = Relation.objects.visible_to(viewer)
    local = timezone.get_current_timezone()
    added = dict(relations.filter(added_at__gte=since).annotate(day=TruncDate("added_at", tzinfo=local))
                 .values_list("day").annotate(n=Count("id")))
    lost = dict(relations.filter(deleted_at__gte=since, status__in=[Relation.Status.DELETED_BY_CUSTOMER,
                                                                     Relation.Status.DELETED_BY_STAFF])
                .annotate(day=TruncDate("deleted_at", tzinfo=local)).values_list("day").annotate(n=Count("id")))
    dates = [start + timedelta(days=i) for i in range(days)]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [_("新增客户"), _("流失")]},
        "grid": {"left": 40, "right": 16, "top": 36, "bottom": 28},
        "xAxis": {"type": "category", "data": [d.strftime("%m-%d") for d in dates]},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": _("新增客户"), "type": "line", "smooth": True, "areaStyle": {}, "data": [added.get(d, 0) for d in dates]},
            {"name": _("流失"), "type": "line", "smooth": True, "data": [lost.get(d, 0) for d in dates]},
        ],
    }
