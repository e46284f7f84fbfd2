"""The journey editor's settings form (name, trigger, re-entry); the steps come from :mod:`siyu.journeys.editor`."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.customers.models import Tag
from siyu.journeys.models import Journey
from siyu.lifecycle.models import Stage
from siyu.segments.models import Segment


def choices_for(viewer) -> dict:
    """What the editor's pickers offer: the live corp tags, the stages and the saved segments the viewer sees."""
    return {
        "tags": list(Tag.objects.visible_to(viewer).filter(deleted=False, kind=Tag.Kind.CORP).exclude(wecom_id="")
                     .order_by("group_id", "-order", "id")),
        "stages": list(Stage.objects.visible_to(viewer).order_by("position", "id")),
        "segments": list(Segment.objects.visible_to(viewer).order_by("name")),
    }


class JourneyForm(forms.Form):
    # Required-ness is the service's to decide: it answers every missing setting at once, in its own words.
    name = forms.CharField(label=_("旅程名称"), max_length=60, required=False)
    trigger = forms.ChoiceField(label=_("触发条件"), choices=Journey.Trigger.choices)
    trigger_tag = forms.ModelChoiceField(label=_("触发标签"), queryset=Tag.objects.none(), required=False,
                                         empty_label=_("请选择标签"))
    trigger_stage = forms.ModelChoiceField(label=_("触发阶段"), queryset=Stage.objects.none(), required=False,
                                           empty_label=_("请选择阶段"))
    trigger_segment = forms.ModelChoiceField(label=_("触发人群"), queryset=Segment.objects.none(), required=False,
                                             empty_label=_("请选择人群"))
    trigger_event = forms.CharField(label=_("触发事件"), max_length=200, required=False,
                                    widget=forms.TextInput(attrs={"placeholder": "Material Opened"}),
                                    help_text=_("与埋点上报的事件名称完全一致；客户发生该事件后一分钟内进入旅程。"))
    reentry = forms.ChoiceField(label=_("再次进入"), choices=Journey.Reentry.choices)
    reentry_days = forms.IntegerField(label=_("间隔天数"), required=False)

    REF_FIELDS = {Journey.Trigger.TAG_ADDED: "trigger_tag", Journey.Trigger.STAGE_CHANGED: "trigger_stage",
                  Journey.Trigger.SEGMENT_ENTERED: "trigger_segment"}

    def __init__(self, *args, viewer, choices: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trigger_tag"].queryset = Tag.objects.visible_to(viewer).filter(pk__in=[t.pk for t in choices["tags"]])
        self.fields["trigger_stage"].queryset = Stage.objects.visible_to(viewer)
        self.fields["trigger_segment"].queryset = Segment.objects.visible_to(viewer)
        for name in self.REF_FIELDS.values():
            self.fields[name].widget.attrs["data-trigger-ref"] = name

    def service_values(self) -> dict:
        data = self.cleaned_data
        ref_field = self.REF_FIELDS.get(data["trigger"])
        ref = data.get(ref_field) if ref_field else None
        return {"name": data["name"], "trigger": data["trigger"], "trigger_ref": ref.pk if ref else None,
                "trigger_event": data.get("trigger_event") or "",
                "reentry": data["reentry"], "reentry_days": data.get("reentry_days") or 0}

    @classmethod
    def initial_for(cls, journey: Journey) -> dict:
        initial = {"name": journey.name, "trigger": journey.trigger, "reentry": journey.reentry,
                   "reentry_days": journey.reentry_days or None, "trigger_event": journey.trigger_event}
        ref_field = cls.REF_FIELDS.get(journey.trigger)
        if ref_field:
            initial[ref_field] = journey.trigger_ref
        return initial
