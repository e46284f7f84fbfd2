"""The console's form for a new source (数据源)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.cdp.models import Source
from siyu.console.forms import Form


class SourceForm(Form):
    name = forms.CharField(label=_("名称"), max_length=60)
    kind = forms.ChoiceField(label=_("类型"), choices=Source.Kind.choices)
