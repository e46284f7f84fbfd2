"""What the lifecycle adds to the customer pages: a profile section (stage, birthday, stage history, pending
reminders), a stage filter on the customer list, and how its timeline events read."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.core.durable import DurableRow
from siyu.lifecycle.models import CustomerLifecycle, Reminder, Stage, StageChange

SOURCES = dict(StageChange.Source.choices)
REMINDER_KINDS = dict(Reminder.Kind.choices)


def stage_section(customer, viewer) -> dict:
    from siyu.lifecycle import stages
    from siyu.lifecycle.forms import CustomerStageForm

    row = CustomerLifecycle.objects.visible_to(viewer).filter(customer=customer).first()
    form = CustomerStageForm(viewer=viewer, initial={
        "stage": stages.stage_of(customer), "birthday": row.birthday if row else None})
    history = (StageChange.objects.visible_to(viewer).filter(customer=customer)
               .select_related("from_stage", "to_stage")[:10])
    pending = (Reminder.objects.visible_to(viewer).filter(customer=customer, status=DurableRow.Status.PENDING)
               .select_related("staff").order_by("due_at")[:10])
    return {"stage_form": form, "history": history, "pending": pending}


def _stage_filter_field(viewer):
    return forms.ModelChoiceField(label=gettext_lazy("客户阶段"), queryset=Stage.objects.visible_to(viewer), required=False)


def _apply_stage_filter(customers, stage, viewer):
    from siyu.lifecycle import stages

    placed = CustomerLifecycle.objects.visible_to(viewer).exclude(stage=None)
    if stage.pk == stages.first_stage(viewer.org).pk:
        # Never-placed customers are in the first stage too.
        return customers.exclude(pk__in=placed.exclude(stage=stage).values("customer_id"))
    return customers.filter(pk__in=placed.filter(stage=stage).values("customer_id"))


def _stage_changed(event) -> str:
    d = event.data
    source = SOURCES.get(d.get("source"), d.get("source", ""))
    if d.get("from_stage"):
        return _("客户阶段：%(from)s → %(to)s（%(source)s）") % {"from": d["from_stage"], "to": d.get("to_stage", ""), "source": source}
    return _("进入客户阶段：%(to)s（%(source)s）") % {"to": d.get("to_stage", ""), "source": source}


def _reminder_sent(event) -> str:
    d = event.data
    return _("已提醒员工：%(title)s（%(kind)s）") % {"title": d.get("title", ""), "kind": REMINDER_KINDS.get(d.get("reminder_kind"), "")}


def _ordered(event) -> str:
    d = event.data
    return _("下单 ¥%(total)s：%(products)s") % {"total": d.get("total", ""), "products": "、".join(d.get("products") or [])}


def register() -> None:
    from siyu.customers.profile import (
        register_list_column, register_list_filter, register_profile_section, register_timeline_kind,
    )
    from siyu.lifecycle import stages

    register_profile_section("lifecycle/_profile_stage.html", stage_section, order=20, key="lifecycle.stage",
                             title=gettext_lazy("客户阶段"))
    register_list_filter("stage", label=gettext_lazy("客户阶段"), field=_stage_filter_field, apply=_apply_stage_filter, order=10)
    register_list_column("stage", label=gettext_lazy("客户阶段"), values=stages.stage_names, order=10)
    register_timeline_kind("stage_changed", _stage_changed)
    register_timeline_kind("reminder_sent", _reminder_sent)
    register_timeline_kind("ordered", _ordered)
