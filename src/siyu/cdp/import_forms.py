"""Forms of the order import pages: the upload and a custom column mapping."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.cdp.models import ImportMapping, OrderImport
from siyu.cdp.order_presets import FIELDS, PRESETS, REQUIRED
from siyu.console.forms import Form


class UploadForm(Form):
    file = forms.FileField(label=_("订单文件"), help_text=_("CSV（UTF-8 或 GBK 编码）或 Excel（.xlsx），直接上传平台导出的文件即可。"))
    template = forms.ChoiceField(label=_("导入模板"))
    mode = forms.ChoiceField(label=_("导入方式"), choices=OrderImport.Mode.choices, initial=OrderImport.Mode.ALL_OR_NOTHING,
                             widget=forms.RadioSelect)

    def __init__(self, *args, mappings, **kwargs):
        super().__init__(*args, **kwargs)
        self.mappings = {f"mapping:{m.pk}": m for m in mappings}
        self.fields["template"].choices = [(key, preset.label) for key, preset in PRESETS.items()] + [
            (key, _("自定义：%(name)s") % {"name": m.name}) for key, m in self.mappings.items()]

    def chosen(self) -> tuple[str, ImportMapping | None]:
        """The preset key, or the saved mapping, the member picked."""
        template = self.cleaned_data["template"]
        return ("", self.mappings[template]) if template in self.mappings else (template, None)


class MappingForm(Form):
    name = forms.CharField(label=_("映射名称"), max_length=60)
    source = forms.SlugField(label=_("订单来源"), max_length=30, help_text=_("订单号在同一来源内唯一，例如 pos、erp。"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in FIELDS.items():
            self.fields[f"col_{name}"] = forms.CharField(
                label=_("“%(field)s”所在列的表头") % {"field": label}, max_length=100, required=name in REQUIRED)

    def columns(self) -> dict[str, str]:
        return {name: self.cleaned_data[f"col_{name}"].strip() for name in FIELDS if self.cleaned_data[f"col_{name}"].strip()}
