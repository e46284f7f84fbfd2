"""The guide's workbench (导购工作台): a mobile home page opened from the WeCom app menu, where signing in through
WeCom lands. Today's tasks, my customers, my codes and my figures this week; a store manager sees their stores'."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from siyu.console.access import requires
from siyu.console.paging import paginate
from siyu.workbench import queries

SHOWS = ("all", "friends", "new")


@requires("workbench.use")
@require_GET
def home(request):
    viewer = request.membership
    context = {
        "viewer": viewer, "org": viewer.org, "tasks": queries.today_tasks(viewer), "week": queries.this_week(viewer),
        "customers": queries.my_customers(viewer)[:queries.CUSTOMERS_SHOWN], "codes": queries.my_codes(viewer),
    }
    return render(request, "workbench/home.html", context)


@requires("workbench.use")
@require_GET
def customers(request):
    viewer = request.membership
    query = request.GET.get("q", "").strip()[:50]
    show = request.GET.get("show") if request.GET.get("show") in SHOWS else "all"
    page = paginate(request, queries.my_customers(viewer, query=query, show=show))
    return render(request, "workbench/customers.html", {"viewer": viewer, "org": viewer.org, "page": page,
                                                         "query": query, "show": show})
