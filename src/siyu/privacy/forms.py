from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.cdp.models import Identifier
from siyu.console.forms import CleanInputMixin


class SubjectRequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("标识类型"), choices=Identifier.Kind.choices, initial=Identifier.Kind.PHONE)
    value = forms.CharField(label=_("标识"), max_length=200,
                            help_text=_("例如手机号、会员号或用户 ID；OpenID 请写成“AppID/OpenID”。"))
    confirm = forms.CharField(label=_("确认"), required=False, max_length=20,
                              help_text=_("删除时请输入“删除”二字确认：删除后无法恢复。"))


class NoticeForm(CleanInputMixin, forms.Form):
    title = forms.CharField(label=_("标题"), max_length=100)
    body = forms.CharField(label=_("正文"), widget=forms.Textarea(attrs={"rows": 12}),
                           help_text=_("客户在授权页面上看到的全文。发布后不能修改，只能发布新版本。"))


class ConsentImportForm(forms.Form):
    file = forms.FileField(label=_("文件"), help_text=_("CSV 或 Excel（.xlsx）文件，列见上方说明。"))
