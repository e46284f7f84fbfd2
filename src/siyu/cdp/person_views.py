"""Console pages of persons (用户): the list with identifier search, a person's profile (identifiers, traits,
RFM, events, orders, merges with their explanations and the split button), the review queue of merges a guard
stopped, and the block list. Also the "用户画像" section of the customer 360."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from siyu.cdp import identity, merges, traits
from siyu.cdp.models import BlockedValue, Event, Identifier, Merge, MergeReview, Order, Person, TraitChange
from siyu.cdp.person_forms import BlockForm, PersonFilterForm
from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.customers.profile import register_profile_section


def _matching(viewer, text: str):
    """Person ids holding ``text`` as any identifier type (``TYPE:VALUE`` narrows it), by blind index."""
    kind, sep, value = text.partition(":")
    kinds = [kind] if sep and kind in identity.KINDS else list(identity.KINDS)
    value = value if sep and kind in identity.KINDS else text
    wanted = Q(pk__in=[])
    for k in kinds:
        try:
            normalized = identity.normalize(k, value)
        except ValueError:
            continue
        wanted |= Q(kind=k, value_index=identity.value_index(k, "", normalized))
    return Identifier.objects.visible_to(viewer).filter(wanted).values("person_id")


def masked_identifiers(rows) -> list[dict]:
    return [{"kind": row.get_kind_display(), "value": merges.mask(row.kind, row.value), "source": row.source,
             "namespace": row.namespace} for row in rows]


@requires("cdp.persons")
def person_list(request):
    viewer = request.membership
    form = PersonFilterForm(request.GET or None)
    rows = Person.objects.visible_to(viewer).filter(merged_into__isnull=True).select_related("customer")
    if form.is_valid():
        d = form.cleaned_data
        if d["q"].strip():
            rows = rows.filter(pk__in=_matching(viewer, d["q"].strip()))
        if d["source"]:
            rows = rows.annotate(sources_text=Cast("sources", TextField())).filter(
                sources_text__contains=f'"{d["source"]}"')
        if d["customer"]:
            rows = rows.filter(customer__isnull=d["customer"] == "no")
    return render(request, "cdp/persons/list.html", {"form": form, "page": paginate(request, rows.order_by("-id")),
                                                     "pending": MergeReview.objects.visible_to(viewer)
                                                     .filter(status=MergeReview.Status.PENDING).count()},
                  status=400 if form.errors else 200)


def _profile(viewer, person: Person) -> dict:
    """What the person page and the customer 360's section show of ``person``."""
    return {
        "person": person,
        "identifiers": masked_identifiers(Identifier.objects.visible_to(viewer).filter(person=person)),
        "events": Event.objects.visible_to(viewer).filter(person=person).select_related("source")[:50],
        "orders": Order.objects.visible_to(viewer).filter(person=person)[:50],
        "traits": sorted(person.traits.items()),
    }


@requires("cdp.persons")
def person_detail(request, pk: int):
    viewer = request.membership
    person = get_object_or_404(Person.objects.visible_to(viewer).select_related("customer"), pk=pk)
    if person.merged_into_id:
        return redirect("persons:detail", pk=identity.survivor(person).pk)
    merge_rows = (Merge.objects.visible_to(viewer).filter(Q(survivor=person) | Q(absorbed=person))
                  .select_related("survivor", "absorbed", "by", "split_by"))
    return render(request, "cdp/persons/detail.html", {
        **_profile(viewer, person), "merges": merge_rows,
        "changes": TraitChange.objects.visible_to(viewer).filter(person=person)[:30],
        "reviews": MergeReview.objects.visible_to(viewer).filter(Q(person_a=person) | Q(person_b=person),
                                                                 status=MergeReview.Status.PENDING),
    })


@require_POST
@requires("cdp.persons")
def person_refresh(request, pk: int):
    viewer = request.membership
    person = get_object_or_404(Person.objects.visible_to(viewer), pk=pk, merged_into__isnull=True)
    traits.refresh_orders(person)
    traits.refresh_rfm(viewer.org)
    messages.success(request, _("已重新计算订单汇总和 RFM。"))
    return redirect("persons:detail", pk=person.pk)


@require_POST
@requires("cdp.persons")
def merge_split(request, pk: int):
    viewer = request.membership
    record = get_object_or_404(Merge.objects.visible_to(viewer), pk=pk)
    try:
        restored = merges.split(record, by=viewer.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("persons:detail", pk=record.survivor_id)
    messages.success(request, _("已拆分：用户 #%(id)s 恢复为独立用户，之后不会再被自动合并。") % {"id": restored.pk})
    return redirect("persons:detail", pk=restored.pk)


@requires("cdp.persons")
def review_list(request):
    viewer = request.membership
    rows = (MergeReview.objects.visible_to(viewer).filter(status=MergeReview.Status.PENDING)
            .select_related("person_a__customer", "person_b__customer"))
    return render(request, "cdp/persons/reviews.html", {"page": paginate(request, rows)})


@require_POST
@requires("cdp.persons")
def review_decide(request, pk: int):
    viewer = request.membership
    review = get_object_or_404(MergeReview.objects.visible_to(viewer), pk=pk)
    try:
        if request.POST.get("decision") == "merge":
            merges.approve(review, by=viewer.user)
            messages.success(request, _("已合并这两个用户。"))
        else:
            merges.keep_apart(review, by=viewer.user)
            messages.success(request, _("已保持分开，之后不会再被自动合并。"))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("persons:reviews")


@requires("cdp.persons")
def blocked_list(request):
    viewer = request.membership
    form = BlockForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            identity.block_value(viewer.org, kind=d["kind"], value=d["value"], note=d["note"], by=viewer.user)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, _("已加入屏蔽列表：这个值不会再用来关联用户。"))
            return redirect("persons:blocked")
    rows = [{"row": row, "value": merges.mask(row.kind, row.value)}
            for row in BlockedValue.objects.visible_to(viewer)]
    return render(request, "cdp/persons/blocked.html", {"form": form, "rows": rows},
                  status=400 if form.errors else 200)


@require_POST
@requires("cdp.persons")
def blocked_delete(request, pk: int):
    row = get_object_or_404(BlockedValue.objects.visible_to(request.membership), pk=pk)
    identity.unblock_value(row, by=request.membership.user)
    messages.success(request, _("已从屏蔽列表移除。"))
    return redirect("persons:blocked")


def _customer_section(customer, viewer):
    """The customer 360's 用户画像: the customer's person, as far as the viewer sees it."""
    person = Person.objects.visible_to(viewer).filter(customer=customer).first()
    if person is None:
        return None
    person = identity.survivor(person)
    context = _profile(viewer, person)
    context["events"], context["orders"] = context["events"][:10], context["orders"][:10]
    context["can_open"] = viewer.can("cdp.persons")
    return context


register_profile_section("cdp/persons/_customer_section.html", _customer_section, order=15, key="person",
                         title=gettext_lazy("用户画像"))
