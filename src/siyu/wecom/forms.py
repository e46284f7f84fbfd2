from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.console import forms as console_forms
from siyu.wecom.models import ApiCall


class ConnectionForm(console_forms.Form):
    """The connection settings. Formats are checked by ``save_connection``, which reports every field at once."""

    corp_id = forms.CharField(
        label=_("企业ID (CorpID)"), max_length=64,
        help_text=_("企业微信管理后台 → 我的企业 → 企业信息，页面底部的“企业ID”。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "ww…"}),
    )
    agent_id = forms.CharField(
        label=_("应用 AgentId"), max_length=32,
        help_text=_("应用管理 → 自建应用 → 本应用的详情页。该应用需加入“客户联系 → 可调用接口的应用”。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    secret = forms.CharField(
        label=_("应用 Secret"), max_length=256, required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )
    callback_token = forms.CharField(
        label=_("回调 Token"), max_length=64,
        help_text=_("与企业微信“接收消息 → 设置API接收”中的 Token 一致。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    encoding_aes_key = forms.CharField(
        label=_("回调 EncodingAESKey"), max_length=128,
        help_text=_("43 位字符，与企业微信“接收消息 → 设置API接收”中的 EncodingAESKey 一致。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    api_base = forms.CharField(
        label=_("接口地址"), max_length=300, required=False,
        help_text=_("高级：一般无需修改。演示和测试时可指向本地模拟器。"),
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )

    def __init__(self, *args, editing: bool = False, allow_api_base: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # The server calls whatever address is set here: only platform administrators may change it.
        self.fields["api_base"].disabled = not allow_api_base
        self.fields["secret"].help_text = (
            _("已保存；留空则保留原 Secret，填写则替换。出于安全考虑不会显示。") if editing
            else _("应用详情页中的 Secret（需在企业微信客户端中查看）。")
        )


class CallFilterForm(console_forms.Form):
    RESULTS = [("", _("全部")), ("ok", _("成功")), ("failed", _("失败"))]

    endpoint = forms.ChoiceField(label=_("接口"), required=False)
    result = forms.ChoiceField(label=_("结果"), required=False, choices=RESULTS)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        endpoints = ApiCall.objects.visible_to(viewer).order_by("endpoint").values_list("endpoint", flat=True).distinct()
        self.fields["endpoint"].choices = [("", _("全部"))] + [(e, e) for e in endpoints]
