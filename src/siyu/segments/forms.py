"""The segment form: name, schedule and the rule the builder composes (a hidden field; nobody types JSON)."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.console.forms import Form
from siyu.segments.models import Segment


class SegmentForm(Form):
    name = forms.CharField(label=_("人群名称"), max_length=30)
    description = forms.CharField(label=_("说明"), max_length=200, required=False)
    refresh = forms.ChoiceField(label=_("更新频率"), choices=Segment.Refresh.choices, initial=Segment.Refresh.DAILY)
    rule = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_rule(self):
        text = self.cleaned_data.get("rule") or ""
        try:
            return json.loads(text) if text else {}
        except ValueError:
            raise forms.ValidationError(_("条件无法读取，请重新编辑。")) from None
