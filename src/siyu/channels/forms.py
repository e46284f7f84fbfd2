"""Console forms for channel codes and welcome messages. They check shapes; the services check the rules."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.forms import BaseFormSet, formset_factory
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.channels import welcome_materials
from siyu.console import forms as console_forms
from siyu.wecom import attachments as wecom_attachments
from siyu.channels.models import (
    ATTACHMENTS_MAX,
    WEEKDAY_NAMES,
    ChannelCode,
    ChannelFolder,
    Partner,
    RedPacketRule,
    WelcomeMessage,
)
from siyu.customers.models import Tag
from siyu.orgs.models import Membership, Staff

WEEKDAYS = list(enumerate(WEEKDAY_NAMES))
KIND_CHOICES = [
    ("image", gettext_lazy("图片")), ("link", gettext_lazy("链接")), ("miniprogram", gettext_lazy("小程序")),
    ("file", gettext_lazy("文件")), ("video", gettext_lazy("视频")),
]
MATERIAL_CHOICE = (welcome_materials.KIND, gettext_lazy("素材"))
FEN = Decimal(100)
FLAT_FIELDS = wecom_attachments.FLAT_FIELDS


def staff_choices(viewer):
    """Staff the viewer may put on a code: visible to them, active, with 客户联系."""
    return Staff.objects.visible_to(viewer).filter(status=Staff.Status.ACTIVE).order_by("name", "userid")


def tag_choices(viewer):
    return Tag.objects.visible_to(viewer).filter(kind=Tag.Kind.CORP, deleted=False).exclude(wecom_id="").select_related("group").order_by("group__name", "name")


class StaffMultipleField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name or obj.userid}（{obj.userid}）"


class TagMultipleField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.group.name} / {obj.name}" if obj.group_id else obj.name


# -- filters -------------------------------------------------------------------------------------------------
class ChannelFilterForm(console_forms.Form):
    q = forms.CharField(label=gettext_lazy("搜索"), required=False,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": gettext_lazy("名称或渠道参数")}))
    folder = forms.ModelChoiceField(label=gettext_lazy("分组"), queryset=ChannelFolder.objects.none(), required=False,
                                    empty_label=gettext_lazy("全部"))
    status = forms.ChoiceField(label=gettext_lazy("状态"), required=False,
                               choices=[("", gettext_lazy("未删除")), *ChannelCode.Status.choices])
    staff = forms.ModelChoiceField(label=gettext_lazy("员工"), queryset=Staff.objects.none(), required=False,
                                   empty_label=gettext_lazy("全部"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["folder"].queryset = ChannelFolder.objects.visible_to(viewer)
        self.fields["staff"].queryset = Staff.objects.visible_to(viewer).order_by("name", "userid")


# -- attachments ---------------------------------------------------------------------------------------------
class MaterialField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.get_kind_display()} · {obj.title}"


class AttachmentForm(console_forms.Form):
    """One welcome attachment as flat fields; which of them count depends on ``kind``. With ``materials`` (the
    materials that may be chosen) the kind 「素材」 picks one of them, stored as a reference to it."""

    kind = forms.ChoiceField(label=gettext_lazy("类型"), choices=KIND_CHOICES, widget=forms.Select(attrs={"data-attachment-kind": ""}))
    title = forms.CharField(label=gettext_lazy("标题"), required=False, max_length=200)
    url = forms.CharField(label=gettext_lazy("跳转地址"), required=False, max_length=2048,
                          widget=forms.TextInput(attrs={"placeholder": "https://"}))
    desc = forms.CharField(label=gettext_lazy("描述"), required=False, max_length=600)
    pic_url = forms.CharField(label=gettext_lazy("图片地址"), required=False, max_length=2048,
                              widget=forms.TextInput(attrs={"placeholder": "https://"}))
    appid = forms.CharField(label=gettext_lazy("小程序 AppID"), required=False, max_length=40,
                            widget=forms.TextInput(attrs={"placeholder": "wx…"}))
    page = forms.CharField(label=gettext_lazy("小程序页面"), required=False, max_length=512,
                           widget=forms.TextInput(attrs={"placeholder": "pages/index/index.html"}))
    media_id = forms.CharField(label=gettext_lazy("素材 media_id"), required=False, max_length=200)
    material = MaterialField(label=gettext_lazy("素材"), queryset=None, required=False,
                             empty_label=gettext_lazy("搜索素材标题"),
                             widget=forms.Select(attrs={"data-material-picker": ""}),
                             help_text=gettext_lazy("只能选择总部已审核通过的素材；发送时按素材的最新内容发出。"),
                             error_messages={"invalid_choice": gettext_lazy("素材不存在或未通过审核，请重新选择。")})

    def __init__(self, *args, materials=None, **kwargs):
        super().__init__(*args, **kwargs)
        if materials is None:
            del self.fields["material"]
        else:
            self.fields["kind"].choices = [*KIND_CHOICES, MATERIAL_CHOICE]
            self.fields["material"].queryset = materials

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data.get("kind") == welcome_materials.KIND:
            if data.get("material") is None:
                self.add_error("material", _("请选择素材。"))
            return data
        flat = {name: (data.get(name) or "").strip() for name in FLAT_FIELDS}
        for field, message in wecom_attachments.errors(flat).items():
            self.add_error(field, message)
        data.update(flat)
        return data

    def attachment(self) -> dict:
        if self.cleaned_data.get("kind") == welcome_materials.KIND:
            return welcome_materials.reference(self.cleaned_data["material"].pk)
        return wecom_attachments.unflatten({name: self.cleaned_data.get(name, "") for name in FLAT_FIELDS})


def kept_forms(formset) -> list:
    """The forms that stay: not marked for deletion, and either shown filled in or changed by the user."""
    return [
        form for index, form in enumerate(formset.forms)
        if (index < formset.initial_form_count() or form.has_changed()) and not formset._should_delete_form(form)
    ]


class BaseAttachmentFormSet(BaseFormSet):
    def kept_forms(self):
        return kept_forms(self)

    def clean(self):
        if any(self.errors):
            return
        count = len(self.kept_forms())
        if count > ATTACHMENTS_MAX:
            raise forms.ValidationError(
                _("最多 %(max)d 个附件（企业微信的限制），当前 %(n)d 个。") % {"max": ATTACHMENTS_MAX, "n": count})

    def attachments(self) -> list[dict]:
        return [f.attachment() for f in self.kept_forms()]


AttachmentFormSet = formset_factory(
    AttachmentForm, formset=BaseAttachmentFormSet, extra=0, can_delete=True, max_num=ATTACHMENTS_MAX,
    validate_max=False, absolute_max=30,
)


def _initial(attachment) -> dict:
    if welcome_materials.is_reference(attachment):
        return {"kind": welcome_materials.KIND, "material": welcome_materials.referenced_id(attachment)}
    return wecom_attachments.flatten(attachment)


def attachment_formset(data=None, *, attachments=(), prefix="att", materials=None):
    """The attachment forms; ``materials`` (a queryset) adds the kind 「素材」 choosing among them."""
    return AttachmentFormSet(data, prefix=prefix, initial=[_initial(a) for a in attachments] if data is None else None,
                             form_kwargs={"materials": materials})


# -- time slots ----------------------------------------------------------------------------------------------
class SlotForm(console_forms.Form):
    days = forms.TypedMultipleChoiceField(label=gettext_lazy("星期"), choices=WEEKDAYS, coerce=int,
                                          widget=forms.CheckboxSelectMultiple)
    start = forms.TimeField(label=gettext_lazy("开始"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end = forms.TimeField(label=gettext_lazy("结束"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                          help_text=gettext_lazy("00:00 表示当天结束"))
    staff = StaffMultipleField(label=gettext_lazy("接待员工"), queryset=Staff.objects.none())

    def __init__(self, *args, viewer=None, **kwargs):
        super().__init__(*args, **kwargs)
        if viewer is not None:
            self.fields["staff"].queryset = staff_choices(viewer)

    def slot(self) -> dict:
        data = self.cleaned_data
        end = data["end"].strftime("%H:%M")
        return {"days": data["days"], "start": data["start"].strftime("%H:%M"), "end": "24:00" if end == "00:00" else end,
                "staff": [s.pk for s in data["staff"]]}


class BaseSlotFormSet(BaseFormSet):
    def slots(self) -> list[dict]:
        return [f.slot() for f in kept_forms(self)]


SlotFormSet = formset_factory(SlotForm, formset=BaseSlotFormSet, extra=0, can_delete=True, max_num=50, absolute_max=60)


def slot_formset(data=None, *, viewer, slots=()):
    initial = None
    if data is None:
        initial = [{"days": s["days"], "start": s["start"], "end": "00:00" if s["end"] == "24:00" else s["end"],
                    "staff": s["staff"]} for s in slots]
    return SlotFormSet(data, prefix="slot", initial=initial, form_kwargs={"viewer": viewer})


# -- the code ------------------------------------------------------------------------------------------------
def _yuan(label, **kwargs):
    return forms.DecimalField(label=label, required=False, min_value=Decimal("0"), max_digits=9, decimal_places=2, **kwargs)


class ChannelCodeForm(console_forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=100,
                           help_text=gettext_lazy("例如：南京路店门口海报、抖音直播间、某品牌联名活动。"))
    state = forms.CharField(label=gettext_lazy("渠道参数"), required=False, max_length=200,
                            widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
                            help_text=gettext_lazy("企业微信在客户添加时回传，用于识别渠道；最多 30 个字母、数字、_ - .。留空自动生成。"))
    folder_name = forms.CharField(label=gettext_lazy("渠道分组"), required=False, max_length=100,
                                  widget=forms.TextInput(attrs={"list": "channel-folders", "autocomplete": "off"}),
                                  help_text=gettext_lazy("选择已有分组或输入新分组名称。"))
    partner_name = forms.CharField(label=gettext_lazy("合作方"), required=False, max_length=200,
                                   widget=forms.TextInput(attrs={"list": "channel-partners", "autocomplete": "off"}),
                                   help_text=gettext_lazy("异业合作活动填写合作品牌，用于合作方引流报表。"))
    owner = forms.ModelChoiceField(label=gettext_lazy("负责人"), queryset=Membership.objects.none(), required=False,
                                   empty_label=gettext_lazy("我自己"))
    staff = StaffMultipleField(label=gettext_lazy("接待员工"), queryset=Staff.objects.none(), required=False,
                               widget=forms.SelectMultiple(attrs={"size": 8}),
                               help_text=gettext_lazy("输入姓名搜索后选择；最多 100 位（含备用员工）。"))
    backup_staff = StaffMultipleField(label=gettext_lazy("备用员工"), queryset=Staff.objects.none(), required=False,
                                      widget=forms.SelectMultiple(attrs={"size": 5}),
                                      help_text=gettext_lazy("接待员工都已满额、不在时段内或离职时，由备用员工接待。"))
    policy = forms.ChoiceField(label=gettext_lazy("分配方式"), choices=ChannelCode.Policy.choices,
                               initial=ChannelCode.Policy.ROUND_ROBIN, widget=forms.RadioSelect(attrs={"data-policy": ""}))
    daily_cap = forms.IntegerField(label=gettext_lazy("每人每日上限"), required=False, min_value=1, max_value=10000,
                                   help_text=gettext_lazy("每位接待员工当天通过本活码添加的客户数达到上限后，不再分配给他。"))
    skip_verify = forms.BooleanField(label=gettext_lazy("客户添加时无需员工确认（自动通过）"), required=False, initial=True)
    tags = TagMultipleField(label=gettext_lazy("自动打标签"), queryset=Tag.objects.none(), required=False,
                            widget=forms.SelectMultiple(attrs={"size": 6}),
                            error_messages={"invalid_choice": gettext_lazy("标签不存在或已删除，请重新选择。")})
    remark_template = forms.CharField(
        label=gettext_lazy("客户备注"), required=False, max_length=60,
        widget=forms.TextInput(attrs={"data-remark-counter": "20", "data-date-digits": "8"}),
        help_text=gettext_lazy("可用变量：{channel} 渠道名称、{date} 添加日期（8 位）、{customer_nickname} 客户昵称、"
                               "{staff_name} 员工姓名。企业微信的备注最多 20 个字：展开后超过的模板不能保存；"
                               "客户昵称较长时，超出 20 字的部分会被截掉。"))
    welcome_enabled = forms.BooleanField(label=gettext_lazy("发送欢迎语"), required=False, initial=True,
                                         help_text=gettext_lazy("不填写内容时，使用员工或默认欢迎语。"))
    welcome_text = forms.CharField(label=gettext_lazy("欢迎语"), required=False, max_length=5000,
                                   widget=forms.Textarea(attrs={"rows": 4}),
                                   help_text=gettext_lazy("可用变量：{customer_nickname} 客户昵称、{staff_name} 员工姓名、{channel} 渠道名称。"))
    red_packet_enabled = forms.BooleanField(label=gettext_lazy("新客户添加后发红包"), required=False)
    red_packet_mode = forms.ChoiceField(label=gettext_lazy("金额规则"), choices=RedPacketRule.Mode.choices,
                                        initial=RedPacketRule.Mode.FIXED, widget=forms.RadioSelect)
    red_packet_amount = _yuan(gettext_lazy("每个红包（元）"))
    red_packet_min = _yuan(gettext_lazy("最小（元）"))
    red_packet_max = _yuan(gettext_lazy("最大（元）"))
    red_packet_budget = _yuan(gettext_lazy("总预算（元）"), help_text=gettext_lazy("发完即停，每位客户只发一次。"))
    red_packet_wishing = forms.CharField(label=gettext_lazy("祝福语"), required=False, max_length=100)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        self.fields["staff"].queryset = staff_choices(viewer)
        self.fields["backup_staff"].queryset = staff_choices(viewer)
        self.fields["tags"].queryset = tag_choices(viewer)
        self.fields["owner"].queryset = Membership.objects.visible_to(viewer).filter(is_active=True).select_related("user")
        self.fields["owner"].label_from_instance = lambda m: m.user.name
        self.folders = list(ChannelFolder.objects.visible_to(viewer).values_list("name", flat=True))
        self.partners = list(Partner.objects.visible_to(viewer).values_list("name", flat=True))

    @classmethod
    def initial_for(cls, values: dict) -> dict:
        """Form initial data from :func:`siyu.channels.services.code_values`."""
        packet = values.get("red_packet") or {}
        initial = {key: values[key] for key in ("name", "state", "owner", "policy", "daily_cap", "skip_verify",
                                                 "remark_template", "welcome_enabled", "welcome_text")}
        initial.update(
            folder_name=str(values["folder"] or ""), partner_name=str(values["partner"] or ""),
            staff=[s.pk for s in values["staff"]], backup_staff=[s.pk for s in values["backup_staff"]],
            tags=[t.pk for t in values["tags"]],
        )
        if packet:
            initial.update(
                red_packet_enabled=packet["enabled"], red_packet_mode=packet["mode"],
                red_packet_amount=Decimal(packet["amount_fen"]) / FEN, red_packet_min=Decimal(packet["min_fen"]) / FEN,
                red_packet_max=Decimal(packet["max_fen"]) / FEN, red_packet_budget=Decimal(packet["budget_fen"]) / FEN,
                red_packet_wishing=packet["wishing"],
            )
        return initial

    def service_data(self, *, attachments: list[dict], slots: list[dict]) -> dict:
        data = self.cleaned_data

        def fen(value):
            return int((value or Decimal(0)) * FEN)

        return {
            "name": data["name"], "state": data["state"], "folder_name": data["folder_name"],
            "partner_name": data["partner_name"], "owner": data["owner"], "staff": list(data["staff"]),
            "backup_staff": list(data["backup_staff"]), "policy": data["policy"], "daily_cap": data["daily_cap"],
            "time_slots": slots, "skip_verify": data["skip_verify"], "tags": list(data["tags"]),
            "remark_template": data["remark_template"], "welcome_enabled": data["welcome_enabled"],
            "welcome_text": data["welcome_text"], "welcome_attachments": attachments,
            "red_packet": {
                "enabled": True, "mode": data["red_packet_mode"], "amount_fen": fen(data["red_packet_amount"]),
                "min_fen": fen(data["red_packet_min"]), "max_fen": fen(data["red_packet_max"]),
                "budget_fen": fen(data["red_packet_budget"]), "wishing": data["red_packet_wishing"],
            } if data["red_packet_enabled"] else None,
        }


# -- welcome messages ----------------------------------------------------------------------------------------
class WelcomeMessageForm(console_forms.Form):
    SCOPES = [
        (WelcomeMessage.Scope.DEFAULT, gettext_lazy("默认（所有员工）")),
        (WelcomeMessage.Scope.STAFF, gettext_lazy("指定员工")),
        (WelcomeMessage.Scope.CODE, gettext_lazy("指定渠道活码")),
        (WelcomeMessage.Scope.CODE_STAFF, gettext_lazy("指定渠道活码的指定员工")),
    ]

    scope = forms.ChoiceField(label=gettext_lazy("适用范围"), choices=SCOPES, initial=WelcomeMessage.Scope.DEFAULT)
    code = forms.ModelChoiceField(label=gettext_lazy("渠道活码"), queryset=ChannelCode.objects.none(), required=False)
    staff = forms.ModelChoiceField(label=gettext_lazy("员工"), queryset=Staff.objects.none(), required=False)
    text = forms.CharField(label=gettext_lazy("欢迎语"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=gettext_lazy("可用变量：{customer_nickname} 客户昵称、{staff_name} 员工姓名、{channel} 渠道名称。"))
    window_days = forms.TypedMultipleChoiceField(label=gettext_lazy("时段欢迎语：星期"), choices=WEEKDAYS, coerce=int,
                                                 required=False, widget=forms.CheckboxSelectMultiple,
                                                 help_text=gettext_lazy("不选则为该范围的常规欢迎语；选择后只在所选时段内替代常规欢迎语（如非营业时间）。"))
    window_start = forms.TimeField(label=gettext_lazy("开始时间"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    window_end = forms.TimeField(label=gettext_lazy("结束时间"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                 help_text=gettext_lazy("留空表示到当天结束。"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].queryset = ChannelCode.objects.visible_to(viewer).exclude(status=ChannelCode.Status.DELETED)
        self.fields["staff"].queryset = Staff.objects.visible_to(viewer).exclude(status=Staff.Status.DEPARTED).order_by("name", "userid")

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope in (WelcomeMessage.Scope.CODE, WelcomeMessage.Scope.CODE_STAFF) and not data.get("code"):
            self.add_error("code", _("请选择渠道活码。"))
        if scope in (WelcomeMessage.Scope.STAFF, WelcomeMessage.Scope.CODE_STAFF) and not data.get("staff"):
            self.add_error("staff", _("请选择员工。"))
        if scope in (WelcomeMessage.Scope.DEFAULT, WelcomeMessage.Scope.STAFF):
            data["code"] = None
        if scope in (WelcomeMessage.Scope.DEFAULT, WelcomeMessage.Scope.CODE):
            data["staff"] = None
        return data

    @classmethod
    def initial_for(cls, message: WelcomeMessage) -> dict:
        return {"scope": message.scope, "code": message.code_id, "staff": message.staff_id, "text": message.text,
                "window_days": message.window_days, "window_start": message.window_start, "window_end": message.window_end}
