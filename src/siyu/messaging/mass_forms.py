"""Console forms of mass messages (群发): composing, and scheduling after the dry run. They check shapes; the
service (:mod:`siyu.messaging.mass`) checks the rules."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.channels.forms import StaffMultipleField, TagMultipleField, staff_choices, tag_choices
from siyu.console import forms as console_forms
from siyu.groups.models import GroupTag
from siyu.lifecycle.models import Stage
from siyu.messaging.forms import PURPOSE_CHOICES
from siyu.orgs.models import Store
from siyu.privacy.models import Purpose
from siyu.segments.models import Segment
from siyu.wecom import attachments as wecom_attachments


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several image files in one input; each is decoded and stored by :mod:`siyu.messaging.uploads`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": "image/png,image/jpeg"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        return [super(MultipleImageField, self).clean(f, initial) for f in files]


class MassMessageForm(console_forms.Form):
    TARGETS = [("customers", _("客户")), ("groups", _("客户群"))]
    AUDIENCES = [("filters", _("按条件筛选")), ("segment", _("按人群"))]
    WHEN = [("now", _("立即发送")), ("later", _("定时发送"))]

    title = forms.CharField(label=_("标题"), max_length=100, help_text=_("仅在后台显示，客户看不到。"))
    text = forms.CharField(label=_("消息内容"), required=False, widget=forms.Textarea(attrs={"rows": 5}),
                           help_text=_("最多 4000 字节（约 1300 个汉字）。"))
    images = MultipleImageField(label=_("上传图片"), required=False,
                                help_text=_("JPG 或 PNG，每张最多 10 MB，与下方附件合计最多 9 个。"))
    target = forms.ChoiceField(label=_("发送给"), choices=TARGETS, initial="customers", widget=forms.RadioSelect)
    audience = forms.ChoiceField(label=_("客户范围"), choices=AUDIENCES, initial="filters", widget=forms.RadioSelect)
    segment = forms.ModelChoiceField(label=_("人群"), queryset=Segment.objects.none(), required=False,
                                     empty_label=_("请选择"))
    tags = TagMultipleField(label=_("标签"), queryset=None, required=False)
    staff = StaffMultipleField(label=_("所属员工"), queryset=None, required=False)
    stores = forms.ModelMultipleChoiceField(label=_("门店"), queryset=Store.objects.none(), required=False)
    stages = forms.ModelMultipleChoiceField(label=_("客户阶段"), queryset=Stage.objects.none(), required=False)
    group_owners = StaffMultipleField(label=_("群主"), queryset=None, required=False)
    group_tags = forms.ModelMultipleChoiceField(label=_("群标签"), queryset=GroupTag.objects.none(), required=False,
                                                help_text=_("有任一所选群标签的客户群。"))
    group_name = forms.CharField(label=_("群名包含"), max_length=100, required=False)
    purpose = forms.ChoiceField(label=_("用途"), choices=PURPOSE_CHOICES, initial=Purpose.MARKETING,
                                help_text=_("营销消息只发给同意接收营销消息的客户。"))
    when = forms.ChoiceField(label=_("发送时间"), choices=WHEN, initial="now", widget=forms.RadioSelect)
    scheduled_at = forms.DateTimeField(label=_("定时"), required=False,
                                       widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                                       input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])

    def __init__(self, *args, viewer, zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = ZoneInfo(zone)
        self.fields["scheduled_at"].help_text = _("按品牌时区 %(zone)s 计算。") % {"zone": zone}
        self.fields["segment"].queryset = Segment.objects.visible_to(viewer).order_by("name")
        self.fields["tags"].queryset = tag_choices(viewer)
        self.fields["staff"].queryset = staff_choices(viewer)
        self.fields["group_owners"].queryset = staff_choices(viewer)
        self.fields["group_tags"].queryset = GroupTag.objects.visible_to(viewer)
        self.fields["stores"].queryset = Store.objects.visible_to(viewer).filter(kind=Store.Kind.STORE).order_by("name")
        self.fields["stages"].queryset = Stage.objects.visible_to(viewer)

    def clean_scheduled_at(self):
        value = self.cleaned_data.get("scheduled_at")
        if value is None:
            return None
        # The browser's datetime-local carries no zone: it is the brand's local time.
        naive = value.replace(tzinfo=None) if isinstance(value, datetime) else value
        return naive.replace(tzinfo=self.zone)

    def clean(self):
        data = super().clean()
        if data.get("when") == "later" and not data.get("scheduled_at") and "scheduled_at" not in self.errors:
            self.add_error("scheduled_at", _("定时发送请选择发送时间。"))
        if data.get("target") == "customers" and data.get("audience") == "segment" and not data.get("segment") \
                and "segment" not in self.errors:
            self.add_error("segment", _("请选择人群。"))
        return data

    def service_audience(self) -> dict:
        data = self.cleaned_data
        if data["target"] == "groups":
            return {"owner_ids": [s.pk for s in data["group_owners"]], "tag_ids": [t.pk for t in data["group_tags"]],
                    "name": data["group_name"].strip()}
        if data["audience"] == "segment":
            return {"segment": data["segment"].pk}
        return {"tag_ids": [t.pk for t in data["tags"]], "staff_ids": [s.pk for s in data["staff"]],
                "store_ids": [s.pk for s in data["stores"]], "stage_ids": [s.pk for s in data["stages"]]}

    def scheduled(self):
        return self.cleaned_data["scheduled_at"] if self.cleaned_data["when"] == "later" else None


class ScheduleForm(console_forms.Form):
    """Sending a draft after its dry run; the approval is offered only when protected people would be left out."""

    approve_protected = forms.BooleanField(
        label=_("批准本次发送给受保护人群（将记入审计日志）"), required=False)


def image_attachment(url: str) -> dict:
    return wecom_attachments.unflatten({"kind": "image", "pic_url": url, "media_id": ""})

