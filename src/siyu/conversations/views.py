"""Console pages of the chat archive (会话存档): conversations, one customer's or one guide's messages with search,
and the watch's alerts for review. Every page that shows message text leaves an audit entry."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from siyu.console.access import requires
from siyu.console.paging import paginate
from siyu.conversations import browse, services
from siyu.conversations.forms import AlertFilter, ArchiveFilter, ReviewForm
from siyu.conversations.models import ChatAlert
from siyu.customers.models import Customer
from siyu.orgs.models import Staff

THREAD_PAGE = 50
SEARCH_SHOWN = 100


def _filter(request):
    viewer = request.membership
    staff = Staff.objects.visible_to(viewer).order_by("name", "userid")
    return ArchiveFilter(request.GET or None, staff_choices=[(s.pk, s.name or s.userid) for s in staff])


def _rendered(viewer, rows, query: str = "") -> list[dict]:
    may_see = viewer.can("pii.view")
    return [{"message": m, "html": browse.shown(m.text, query=query, may_see_personal=may_see) if m.text else None}
            for m in rows]


@requires("conversations.archive")
@require_GET
def archive(request):
    """Conversations newest first; with a search term, the matching messages instead."""
    viewer = request.membership
    form = _filter(request)
    if form.is_bound and not form.is_valid():
        return render(request, "conversations/archive.html", {"form": form, "page": None}, status=400)
    data = form.cleaned_data if form.is_bound else {}
    start, end = form.span() if form.is_bound else (None, None)
    staff_id, query = data.get("staff"), (data.get("q") or "").strip()
    context = {"form": form, "query": query}
    if query:
        result = browse.search(browse.messages_for(viewer, staff_id=staff_id, start=start, end=end), query)
        staff = Staff.objects.visible_to(viewer).filter(pk=staff_id).first() if staff_id else None
        services.record_view(viewer, staff=staff, searched=True)
        context.update(hits=_rendered(viewer, result.hits[:SEARCH_SHOWN], query), result=result, shown=SEARCH_SHOWN)
    else:
        context["page"] = paginate(request, browse.conversations(viewer, staff_id=staff_id, start=start, end=end))
    return render(request, "conversations/archive.html", context)


def _thread(request, *, customer=None, staff=None):
    viewer = request.membership
    form = _filter(request)
    if form.is_bound and not form.is_valid():
        return render(request, "conversations/thread.html", {"form": form, "customer": customer, "staff": staff},
                      status=400)
    data = form.cleaned_data if form.is_bound else {}
    start, end = form.span() if form.is_bound else (None, None)
    query = (data.get("q") or "").strip()
    staff_id = staff.pk if staff is not None else data.get("staff")
    rows = browse.messages_for(viewer, customer_id=customer.pk if customer else None, staff_id=staff_id,
                               start=start, end=end)
    context = {"form": form, "customer": customer, "staff": staff, "query": query}
    if query:
        result = browse.search(rows, query)
        context.update(result=result, items=_rendered(viewer, result.hits[:SEARCH_SHOWN], query), shown=SEARCH_SHOWN)
        page_number = 1
    else:
        page = paginate(request, rows, per_page=THREAD_PAGE)
        # Newest page first, but each page reads top to bottom like a chat.
        context.update(page=page, items=_rendered(viewer, reversed(list(page.object_list))))
        page_number = page.number
    services.record_view(viewer, customer=customer, staff=staff, searched=bool(query), page=page_number)
    return render(request, "conversations/thread.html", context)


@requires("conversations.archive")
@require_GET
def customer_thread(request, pk: int):
    customer = get_object_or_404(Customer.objects.visible_to(request.membership), pk=pk)
    return _thread(request, customer=customer)


@requires("conversations.archive")
@require_GET
def staff_thread(request, pk: int):
    staff = get_object_or_404(Staff.objects.visible_to(request.membership), pk=pk)
    return _thread(request, staff=staff)


@requires("conversations.alerts")
@require_GET
def alerts(request):
    """The watch's alerts: open ones first by default, each with its message and the findings highlighted."""
    viewer = request.membership
    form = AlertFilter(request.GET or None)
    rows = ChatAlert.objects.visible_to(viewer).select_related("message", "staff", "customer", "store", "reviewed_by")
    if form.is_valid():
        if form.cleaned_data["review"]:
            rows = rows.filter(review=form.cleaned_data["review"])
        if form.cleaned_data["kind"]:
            rows = rows.filter(kind=form.cleaned_data["kind"])
    if request.GET.get("alert", "").isdigit():
        rows = rows.filter(pk=int(request.GET["alert"]))
    page = paginate(request, rows)
    may_see = viewer.can("pii.view")
    items = [{"alert": a, "html": browse.shown(a.message.text, findings=browse.alert_findings(a), may_see_personal=may_see),
              "labels": [browse.rule_label(r) for r in a.rules]} for a in page.object_list]
    if items:
        services.record_view(viewer, page=page.number)
    return render(request, "conversations/alerts.html", {"form": form, "page": page, "items": items,
                                                          "review_form": ReviewForm()})


@requires("conversations.alerts")
@require_POST
def alert_review(request, pk: int):
    alert = get_object_or_404(ChatAlert.objects.visible_to(request.membership), pk=pk)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        flash.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("conversations:alerts")
    try:
        services.review_alert(alert, form.cleaned_data["decision"], note=form.cleaned_data["note"], by=request.membership)
    except ValidationError as error:
        flash.error(request, " ".join(error.messages))
    else:
        flash.success(request, _("已处理这条预警。"))
    return redirect("conversations:alerts")
