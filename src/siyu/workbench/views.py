"""The guide's workbench (导购工作台): a mobile home page opened from the WeCom app menu, where signing in through
WeCom lands. Today's tasks, my customers, my codes and posters, and my figures this week; a store manager sees
their stores'."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from siyu.console.access import requires
from siyu.console.paging import paginate
from siyu.workbench import posters, queries

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


@requires("workbench.use")
@require_GET
def my_posters(request):
    """The approved posters with the viewer's own personal code in them, to save (long-press) or download."""
    viewer = request.membership
    code = posters.personal_code(viewer, viewer)
    rows = list(queries.poster_materials(viewer)) if code is not None else []
    return render(request, "workbench/posters.html", {"viewer": viewer, "org": viewer.org, "code": code,
                                                       "posters": rows, "is_manager": not viewer.is_guide})


@requires("workbench.use")
@require_GET
def team_posters(request):
    """A store manager's (or HQ's) view of their guides' posters: who has a personal code, and each poster."""
    viewer = request.membership
    if viewer.is_guide:
        raise Http404
    guides = [(guide, posters.personal_code(viewer, guide)) for guide in queries.guides_of(viewer)]
    return render(request, "workbench/team_posters.html", {
        "viewer": viewer, "org": viewer.org, "guides": guides, "posters": list(queries.poster_materials(viewer))})


@requires("workbench.use")
@require_GET
def poster_png(request, pk: int, member: int | None = None):
    """One poster as a PNG: the viewer's own, or (for a manager) one of their guides'. A guide asking for anyone
    else's gets a 404, as does a poster or a guide the viewer may not see, or a guide without a personal code."""
    viewer = request.membership
    if member is None or member == viewer.pk:
        guide = viewer
    elif viewer.is_guide:
        raise Http404
    else:
        guide = queries.guides_of(viewer).filter(pk=member).first()
    material = queries.poster_materials(viewer).filter(pk=pk).first() if guide is not None else None
    code = posters.personal_code(viewer, guide) if material is not None else None
    if code is None:
        raise Http404
    response = HttpResponse(posters.poster_png(material, code, name=posters.guide_name(guide)),
                            content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="poster-{material.pk}-{guide.pk}.png"'
    return response
