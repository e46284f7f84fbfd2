"""Forms of the person pages: the list's search and filters, the block list."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.cdp.models import Identifier, Source

SOURCE_CHOICES = [("", _("全部来源")), ("wecom", _("企业微信"))] + list(Source.Kind.choices)


class PersonFilterForm(forms.Form):
    q = forms.CharField(label=_("标识"), required=False, max_length=200,
                        widget=forms.TextInput(attrs={"placeholder": _("手机号、会员号、用户 ID、UnionID…")}))
    source = forms.ChoiceField(label=_("来源"), choices=SOURCE_CHOICES, required=False)
    customer = forms.ChoiceField(label=_("企业微信客户"), required=False,
                                 choices=[("", _("不限")), ("yes", _("有")), ("no", _("没有"))])


class BlockForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=Identifier.Kind.choices)
    value = forms.CharField(label=_("值"), max_length=200)
    note = forms.CharField(label=_("备注"), max_length=100, required=False)
