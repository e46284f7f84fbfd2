from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.cdp.models import Identifier


class SubjectRequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("标识类型"), choices=Identifier.Kind.choices, initial=Identifier.Kind.PHONE)
    value = forms.CharField(label=_("标识"), max_length=200,
                            help_text=_("例如手机号、会员号或用户 ID；OpenID 请写成“AppID/OpenID”。"))
    confirm = forms.CharField(label=_("确认"), required=False, max_length=20,
                              help_text=_("删除时请输入“删除”二字确认：删除后无法恢复。"))
