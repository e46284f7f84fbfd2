"""The messaging settings form and the dry-run form of the settings page."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.console import forms as console_forms
from siyu.customers.models import Tag
from siyu.messaging.guard import SERVICE
from siyu.messaging.models import Channel, Policy
from siyu.privacy.models import Purpose

POLICY_FIELDS = ("receive_rule", "quiet_start", "quiet_end", "timezone", "stale_after_hours", "protect_minors",
                 "protect_seniors")


class PolicyForm(console_forms.Form):
    receive_rule = forms.ChoiceField(label=_("企业微信群发接收规则"), choices=Policy.ReceiveRule.choices,
                                     help_text=_("与企业微信“群发助手 → 设置群发规则”保持一致。"))
    quiet_start = forms.TimeField(label=_("免打扰开始"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    quiet_end = forms.TimeField(label=_("免打扰结束"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                help_text=_("按客户所在时区计算；开始与结束相同表示不设免打扰。"))
    timezone = forms.CharField(label=_("默认时区"), max_length=40)
    stale_after_hours = forms.IntegerField(label=_("过期时长（小时）"), min_value=1, max_value=168,
                                           help_text=_("免打扰期间暂缓的消息，超过这个时长仍发不出就放弃。"))
    protect_minors = forms.BooleanField(label=_("保护未成年人"), required=False)
    protect_seniors = forms.BooleanField(label=_("保护 65 岁及以上老人"), required=False)
    protected_tags = forms.ModelMultipleChoiceField(
        label=_("受保护标签"), queryset=Tag.objects.none(), required=False,
        help_text=_("带这些标签的客户不会收到营销消息，除非管理员批准单次发送。"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        corp_tags = Tag.objects.visible_to(viewer).filter(kind=Tag.Kind.CORP, deleted=False)
        self.fields["protected_tags"].queryset = corp_tags
        for channel, label in Channel.choices:
            self.fields[f"cap_{channel}_max"] = forms.IntegerField(
                label=_("%(channel)s：最多条数") % {"channel": label}, min_value=1, max_value=1000, required=False)
            self.fields[f"cap_{channel}_days"] = forms.IntegerField(
                label=_("%(channel)s：天数") % {"channel": label}, min_value=1, max_value=365, required=False)

    def clean(self):
        data = super().clean()
        for channel, _label in Channel.choices:
            most, days = data.get(f"cap_{channel}_max"), data.get(f"cap_{channel}_days")
            if (most is None) != (days is None) and f"cap_{channel}_max" not in self.errors:
                self.add_error(f"cap_{channel}_max", _("条数和天数要一起填写，或都留空。"))
        return data

    def caps(self) -> dict:
        data = self.cleaned_data
        return {c: (data[f"cap_{c}_max"], data[f"cap_{c}_days"]) if data.get(f"cap_{c}_max") else None
                for c in Channel.values}


PURPOSE_CHOICES = [(p, label) for p, label in Purpose.choices] + [(SERVICE, _("服务通知（非营销）"))]


class DryRunForm(console_forms.Form):
    content = forms.CharField(label=_("消息内容"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    purpose = forms.ChoiceField(label=_("用途"), choices=PURPOSE_CHOICES, initial=Purpose.MARKETING)
    channel = forms.ChoiceField(label=_("渠道"), choices=Channel.choices, initial=Channel.MASS_MESSAGE)
