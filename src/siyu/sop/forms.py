"""The SOP editor: the rule's fields and its steps as a list of small forms (no JSON typing)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.console import forms as console_forms
from siyu.content import materials as material_library
from siyu.content import variables
from siyu.content.models import Material, Scope, Script
from siyu.customers.models import Tag
from siyu.lifecycle.models import Stage
from siyu.segments.models import Segment
from siyu.sop.models import Sop
from siyu.sop.services import MAX_DAY, MAX_STEPS, StepInput

TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class SopForm(console_forms.Form):
    name = forms.CharField(label=_("名称"), max_length=60)
    trigger = forms.ChoiceField(label=_("触发条件"), choices=Sop.Trigger.choices,
                                help_text=_("每个步骤的“第几天”从触发当天算起（第 0 天即当天），时间按客户所在时区。"))
    trigger_tag = forms.ModelChoiceField(label=_("触发标签"), queryset=Tag.objects.none(), required=False,
                                         help_text=_("仅“打上标签后”使用；标签被移除时 SOP 对该客户停止。"))
    trigger_stage = forms.ModelChoiceField(label=_("触发阶段"), queryset=Stage.objects.none(), required=False,
                                           help_text=_("仅“进入阶段后”使用；客户离开该阶段时 SOP 停止。"))
    trigger_date = forms.DateField(label=_("触发日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                   help_text=_("仅“指定日期”使用。"))
    condition_tags = forms.ModelMultipleChoiceField(
        label=_("限定标签"), queryset=Tag.objects.none(), required=False,
        help_text=_("只对带其中任一标签的客户执行；标签被移除后停止。留空表示不限。"))
    condition_segment = forms.ModelChoiceField(label=_("限定人群"), queryset=Segment.objects.none(), required=False)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        tags = Tag.objects.visible_to(viewer).filter(kind=Tag.Kind.CORP, deleted=False)
        self.fields["trigger_tag"].queryset = tags
        self.fields["condition_tags"].queryset = tags
        self.fields["trigger_stage"].queryset = Stage.objects.visible_to(viewer)
        self.fields["condition_segment"].queryset = Segment.objects.visible_to(viewer)


class StepForm(console_forms.Form):
    day_offset = forms.IntegerField(label=_("第几天"), min_value=0, max_value=MAX_DAY,
                                    widget=forms.NumberInput(attrs={"class": "narrow"}))
    time_of_day = forms.TimeField(label=_("时间"), widget=TIME)
    script = forms.ModelChoiceField(label=_("话术"), queryset=Script.objects.none(), required=False,
                                    empty_label=_("（不用话术，填写内容）"))
    text = forms.CharField(label=_("内容"), required=False, max_length=4000,
                           widget=forms.Textarea(attrs={"rows": 2}))
    material = forms.ModelChoiceField(label=_("附素材"), queryset=Material.objects.none(), required=False,
                                      empty_label=_("（不附素材）"), help_text=_("素材库中审核通过的总部素材。"))
    link_title = forms.CharField(label=_("附链接：标题"), required=False, max_length=128)
    link_url = forms.CharField(label=_("附链接：地址"), required=False, max_length=2048,
                               help_text=_("可选。客户收到的是一张链接卡片，例如优惠券领取页。"))

    def __init__(self, *args, scripts=None, materials=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The script library's own wording of its variables, so both editors say the same.
        self.fields["text"].help_text = _("可用变量：%(list)s，发送时替换为客户和导购的信息。") % {
            "list": "、".join("{%s}（%s）" % (v.name, v.label) for v in variables.VARIABLES.values())}
        self.fields["script"].queryset = scripts if scripts is not None else Script.objects.none()
        self.fields["material"].queryset = materials if materials is not None else Material.objects.none()

    def clean(self):
        data = super().clean()
        if not self.has_changed():
            return data
        if not data.get("script") and not (data.get("text") or "").strip():
            self.add_error("text", _("请选择话术或填写内容。"))
        if bool(data.get("link_title")) != bool(data.get("link_url")):
            self.add_error("link_url", _("链接的标题和地址要一起填写。"))
        return data

    def attachments(self) -> list[dict]:
        """The step's link card in WeCom's shape (the service validates it with the other attachments' rules)."""
        title, url = self.cleaned_data.get("link_title"), self.cleaned_data.get("link_url")
        return [{"msgtype": "link", "link": {"title": title, "url": url}}] if url else []


class BaseStepFormSet(forms.BaseFormSet):
    def inputs(self) -> list[StepInput]:
        return [StepInput(day_offset=f.cleaned_data["day_offset"], time_of_day=f.cleaned_data["time_of_day"],
                          script=f.cleaned_data.get("script"), text=f.cleaned_data.get("text") or "",
                          attachments=f.attachments(), material=f.cleaned_data.get("material"))
                for f in self.forms if f.has_changed() and f.cleaned_data and not f.cleaned_data.get("DELETE")]


StepFormSet = forms.formset_factory(StepForm, formset=BaseStepFormSet, extra=2, max_num=MAX_STEPS,
                                    validate_max=True, can_delete=True)


def variable_help() -> str:
    """The script library's own wording of the variables, so both editors say the same (shown once)."""
    return _("可用变量：%(list)s，发送时替换为客户和导购的信息。") % {
        "list": "、".join("{%s}（%s）" % (v.name, v.label) for v in variables.VARIABLES.values())}


def approved_materials(viewer):
    """HQ's approved materials: an SOP's steps go to many guides, so not one guide's personal material."""
    return material_library.sendable_by(viewer).filter(scope=Scope.HQ).order_by("title")


def approved_scripts(viewer):
    return Script.objects.visible_to(viewer).filter(status=Script.Status.APPROVED, scope=Scope.HQ).order_by("title")
