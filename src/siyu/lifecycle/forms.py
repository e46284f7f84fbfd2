"""Console forms of the lifecycle pages. Services validate again; their errors land on these fields."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.console import forms as console_forms
from siyu.cdp.models import Product
from siyu.customers.models import Tag
from siyu.lifecycle import rules
from siyu.lifecycle.models import LossAlert, Rule, Stage
from siyu.orgs.models import Staff, Store


class MoveForm(console_forms.Form):
    customer = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    stage = forms.ModelChoiceField(label=_("移到"), queryset=Stage.objects.none(), empty_label=None)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = Stage.objects.visible_to(viewer)


class StageForm(console_forms.Form):
    name = forms.CharField(label=_("阶段名称"), max_length=20)
    is_lost = forms.BooleanField(label=_("流失阶段"), required=False,
                                 help_text=_("客户不再是任何员工的好友时自动移入；只能有一个。"))


class RenameStageForm(console_forms.Form):
    name = forms.CharField(label=_("阶段名称"), max_length=20)


class PolicyForm(console_forms.Form):
    FIELDS = ("repurchase_lead_days", "birthday_lead_days", "no_contact_days")
    repurchase_lead_days = forms.IntegerField(label=_("复购提前天数"), min_value=0, max_value=60,
                                              help_text=_("在商品消耗周期结束前多少天提醒导购。"))
    birthday_lead_days = forms.IntegerField(label=_("生日提前天数"), min_value=0, max_value=30)
    no_contact_days = forms.IntegerField(label=_("久未联系天数"), min_value=0, max_value=365,
                                         help_text=_("导购多少天没有联系客户时提醒；0 表示不提醒。"))


class CustomerStageForm(console_forms.Form):
    stage = forms.ModelChoiceField(label=_("客户阶段"), queryset=Stage.objects.none(), empty_label=None)
    birthday = forms.DateField(label=_("生日"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = Stage.objects.visible_to(viewer)


class LossHandleForm(console_forms.Form):
    cause = forms.ChoiceField(label=_("流失原因"), choices=[c for c in LossAlert.Cause.choices if c[0]])
    note = forms.CharField(label=_("备注"), required=False, max_length=200, widget=forms.Textarea(attrs={"rows": 2}))


class PeriodForm(console_forms.Form):
    since = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", _("结束日期不能早于开始日期。"))
        return data


# -- rules -------------------------------------------------------------------------------------------------
class RuleForm(console_forms.Form):
    """The fields every rule has; subclasses add their kind's and say how they make the rule's config."""

    kind: str = ""
    name = forms.CharField(label=_("规则名称"), max_length=rules.NAME_MAX)
    tags = forms.ModelMultipleChoiceField(
        label=_("打上标签"), queryset=Tag.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("只列出已同步到企业微信的企业标签。"),
    )
    stage = forms.ModelChoiceField(label=_("移入阶段"), queryset=Stage.objects.none(), required=False,
                                   empty_label=_("不改变阶段"),
                                   help_text=_("只会向后移动：已在更后阶段的客户保持不变。"))
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.org = viewer.org
        self.fields["tags"].queryset = (Tag.objects.visible_to(viewer).filter(kind=Tag.Kind.CORP, deleted=False)
                                        .exclude(wecom_id="").select_related("group"))
        self.fields["stage"].queryset = Stage.objects.visible_to(viewer)

    def config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def initial_from(cls, rule: Rule) -> dict:
        return {"name": rule.name, "tags": list(rule.tags.all()), "stage": rule.stage, "is_active": rule.is_active,
                **cls.initial_config(rule.config)}

    @classmethod
    def initial_config(cls, config: dict) -> dict:
        return dict(config)


class KeywordRuleForm(RuleForm):
    kind = Rule.Kind.KEYWORD
    keywords = forms.CharField(
        label=_("关键词"), widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("每行一个，也可用逗号或顿号分隔；按包含匹配：“最低价”能匹配“全网最低价”。最多 20000 个。"),
    )
    exclude = forms.CharField(label=_("排除词"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=_("消息里出现任一排除词时，这条消息不触发本规则。"))
    match = forms.ChoiceField(label=_("匹配方式"), choices=list(rules.MATCHES.items()), initial="any",
                              widget=forms.RadioSelect)
    speaker = forms.ChoiceField(label=_("匹配谁说的话"), choices=list(rules.SPEAKERS.items()), initial="customer")

    def config(self) -> dict:
        d = self.cleaned_data
        return {"keywords": d.get("keywords", ""), "exclude": d.get("exclude", ""), "match": d.get("match"),
                "speaker": d.get("speaker")}

    @classmethod
    def initial_config(cls, config: dict) -> dict:
        return {"keywords": "\n".join(config.get("keywords", [])), "exclude": "\n".join(config.get("exclude", [])),
                "match": config.get("match", "any"), "speaker": config.get("speaker", "customer")}


class BehaviourRuleForm(RuleForm):
    kind = Rule.Kind.BEHAVIOUR
    event = forms.ChoiceField(label=_("客户行为"), choices=lambda: list(rules.BEHAVIOUR_EVENTS.items()))
    ref = forms.CharField(label=_("指定对象"), required=False, max_length=64,
                          help_text=_("素材、链接、活动或客户群的编号；留空表示任意一个。"))

    def config(self) -> dict:
        return {"event": self.cleaned_data.get("event"), "ref": self.cleaned_data.get("ref", "")}


class PurchaseRuleForm(RuleForm):
    kind = Rule.Kind.PURCHASE
    condition = forms.ChoiceField(label=_("购买条件"), choices=list(rules.CONDITIONS.items()), widget=forms.RadioSelect)
    products = forms.ModelMultipleChoiceField(label=_("商品"), queryset=Product.objects.none(), required=False)
    categories = forms.CharField(label=_("品类"), required=False, help_text=_("多个品类用逗号分隔。"))
    amount = forms.DecimalField(label=_("累计消费超过（元）"), required=False, min_value=0, decimal_places=2, max_digits=12)
    count = forms.IntegerField(label=_("累计订单数达到"), required=False, min_value=1, max_value=1000)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, viewer=viewer, **kwargs)
        self.fields["products"].queryset = Product.objects.visible_to(viewer)

    def config(self) -> dict:
        d = self.cleaned_data
        categories = [c.strip() for c in rules._SPLIT.split(d.get("categories") or "") if c.strip()]
        return {"condition": d.get("condition"), "products": [p.pk for p in d.get("products") or []],
                "categories": categories, "amount": d.get("amount"), "count": d.get("count")}

    @classmethod
    def initial_config(cls, config: dict) -> dict:
        return {"condition": config.get("condition"), "products": config.get("products", []),
                "categories": ", ".join(config.get("categories", [])), "amount": config.get("amount"),
                "count": config.get("count")}


class ChannelRuleForm(RuleForm):
    kind = Rule.Kind.CHANNEL
    state = forms.CharField(label=_("渠道参数"), max_length=rules.STATE_MAX + 1,
                            help_text=_("渠道活码的渠道参数；以 * 结尾表示前缀匹配，例如 store_*。"))

    def config(self) -> dict:
        return {"state": self.cleaned_data.get("state", "")}


RULE_FORMS: dict[str, type[RuleForm]] = {
    Rule.Kind.KEYWORD: KeywordRuleForm,
    Rule.Kind.BEHAVIOUR: BehaviourRuleForm,
    Rule.Kind.PURCHASE: PurchaseRuleForm,
    Rule.Kind.CHANNEL: ChannelRuleForm,
}


class BoardFilterForm(forms.Form):
    """The board's filters; the staff and stores offered are the viewer's own scope."""

    q = forms.CharField(label=_("搜索"), required=False, max_length=50,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("客户昵称")}))
    staff = forms.ModelChoiceField(label=_("跟进员工"), queryset=Staff.objects.none(), required=False, empty_label=_("全部"))
    store = forms.ModelChoiceField(label=_("门店/区域"), queryset=Store.objects.none(), required=False, empty_label=_("全部"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = Staff.objects.visible_to(viewer).only("id", "name", "userid").order_by("name", "userid")
        self.fields["store"].queryset = Store.objects.visible_to(viewer).order_by("code")
