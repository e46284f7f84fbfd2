"""Console forms for moments. They check shapes; the services check WeCom's rules and the brand's."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from siyu.channels.forms import StaffMultipleField, TagMultipleField, staff_choices, tag_choices
from siyu.console import forms as console_forms
from siyu.moments.models import Moment
from siyu.moments.services import Upload

KIND_HELP = gettext_lazy("企业微信规定：最多 9 张图片，或 1 个视频，或 1 个链接（需一张封面图片）。")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class MomentForm(console_forms.Form):
    text = forms.CharField(label=gettext_lazy("内容"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 5}))
    kind = forms.ChoiceField(label=gettext_lazy("附件类型"), choices=Moment.Kind.choices, help_text=KIND_HELP)
    files = MultipleFileField(label=gettext_lazy("图片或视频"), required=False,
                              widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,video/mp4"}),
                              help_text=gettext_lazy("JPG、PNG 图片或 MP4 视频，每个不超过 10MB。修改时不选则保留原文件。"))
    link_title = forms.CharField(label=gettext_lazy("链接标题"), required=False, max_length=128)
    link_url = forms.CharField(label=gettext_lazy("链接地址"), required=False, max_length=2048,
                               widget=forms.TextInput(attrs={"placeholder": "https://"}))
    tags = TagMultipleField(label=gettext_lazy("可见客户标签"), queryset=None, required=False,
                            help_text=gettext_lazy("带有任一所选标签的客户可见；不选则所有客户可见。"))
    staff = StaffMultipleField(label=gettext_lazy("发表员工"), queryset=None, required=False,
                               help_text=gettext_lazy("不选则由所有员工发表。"))
    promotional = forms.BooleanField(label=gettext_lazy("营销类内容"), required=False,
                                     help_text=gettext_lazy("营销类朋友圈每天有条数上限。"))
    scheduled_at = forms.DateTimeField(label=gettext_lazy("定时发布"), required=False,
                                       widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                       help_text=gettext_lazy("不填则提交后立即发布。"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].queryset = tag_choices(viewer)
        self.fields["staff"].queryset = staff_choices(viewer)

    def service_fields(self, *, keep_files: bool) -> dict:
        data = self.cleaned_data
        uploads = [Upload(f.name, f.read()) for f in data["files"]]
        return {"text": data["text"], "kind": data["kind"], "link_title": data["link_title"],
                "link_url": data["link_url"], "tag_ids": [t.pk for t in data["tags"]],
                "staff_ids": [s.pk for s in data["staff"]], "promotional": data["promotional"],
                "scheduled_at": data["scheduled_at"], "files": None if keep_files and not uploads else uploads}


def initial_of(moment: Moment) -> dict:
    return {"text": moment.text, "kind": moment.kind, "link_title": moment.link_title, "link_url": moment.link_url,
            "tags": moment.tag_ids, "staff": moment.staff_ids, "promotional": moment.promotional,
            "scheduled_at": moment.scheduled_at}


class SettingsForm(console_forms.Form):
    promotional_per_day = forms.IntegerField(label=gettext_lazy("每天最多营销朋友圈条数"), min_value=1, max_value=20)
