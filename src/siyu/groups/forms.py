"""Console forms for group codes, store codes and store locations. They check shapes; the services check rules."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from siyu.console import forms as console_forms
from siyu.groups.models import CustomerGroup, GroupCode, StoreCode
from siyu.groups.storecodes import WEEKDAY_LABELS, format_day_hours
from siyu.orgs.models import Store

ATTACHMENT_CHOICES = [
    ("", gettext_lazy("不添加")), ("image", gettext_lazy("图片")), ("link", gettext_lazy("链接")),
    ("miniprogram", gettext_lazy("小程序")), ("file", gettext_lazy("文件")), ("video", gettext_lazy("视频")),
]


class GroupChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        owner = obj.owner.name if obj.owner_id and obj.owner else obj.owner_userid
        return f"{obj.name or obj.chat_id}（{obj.member_count} 人 · {owner}）"


class GroupCodeForm(console_forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=100,
                           help_text=gettext_lazy("最多 30 个字，也是企业微信里“加入群聊”的备注。"))
    groups = GroupChoiceField(label=gettext_lazy("关联客户群"), queryset=CustomerGroup.objects.none(), required=False,
                              help_text=gettext_lazy("最多 5 个群；扫码的客户按顺序进入未满 200 人的群。"))
    store = forms.ModelChoiceField(label=gettext_lazy("所属门店"), queryset=Store.objects.none(), required=False,
                                   empty_label=gettext_lazy("不属于某个门店"),
                                   help_text=gettext_lazy("门店的群活码会出现在区域码的门店页面上（千店千群）。"))
    state = forms.CharField(label=gettext_lazy("渠道参数"), max_length=100, required=False,
                            help_text=gettext_lazy("最多 30 个字符，用来统计从这个码入群的人数；留空自动生成。"))
    auto_create_room = forms.BooleanField(label=gettext_lazy("群满自动建新群"), required=False, initial=True)
    room_base_name = forms.CharField(label=gettext_lazy("新群名称"), max_length=100, required=False,
                                     help_text=gettext_lazy("新群按“名称+序号”命名，如“会员福利群2”；留空沿用最后一个群的名称。"))
    room_base_id = forms.IntegerField(label=gettext_lazy("新群起始序号"), required=False, initial=1)
    welcome_text = forms.CharField(label=gettext_lazy("入群欢迎语"), required=False,
                                   widget=forms.Textarea(attrs={"rows": 4}),
                                   help_text=gettext_lazy("可用 {customer_nickname} 插入客户昵称；保存后群主会收到通知，在群设置中选用这条欢迎语。"))
    att_kind = forms.ChoiceField(label=gettext_lazy("欢迎语附件"), choices=ATTACHMENT_CHOICES, required=False)
    att_title = forms.CharField(label=gettext_lazy("标题"), max_length=200, required=False)
    att_url = forms.CharField(label=gettext_lazy("链接地址"), max_length=2048, required=False,
                              widget=forms.TextInput(attrs={"placeholder": "https://"}))
    att_desc = forms.CharField(label=gettext_lazy("描述"), max_length=600, required=False)
    att_pic_url = forms.CharField(label=gettext_lazy("图片地址"), max_length=2048, required=False,
                                  widget=forms.TextInput(attrs={"placeholder": "https://"}))
    att_appid = forms.CharField(label=gettext_lazy("小程序 AppID"), max_length=40, required=False)
    att_page = forms.CharField(label=gettext_lazy("小程序页面"), max_length=512, required=False)
    att_media_id = forms.CharField(label=gettext_lazy("素材 media_id"), max_length=200, required=False)

    ATTACHMENT_FIELDS = ("att_kind", "att_title", "att_url", "att_desc", "att_pic_url", "att_appid", "att_page", "att_media_id")
    # service field → form field
    ERROR_FIELDS = {"welcome_attachment": "att_kind"}

    def __init__(self, *args, viewer, code: GroupCode | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        groups = CustomerGroup.objects.visible_to(viewer).filter(status=CustomerGroup.Status.ACTIVE).select_related("owner")
        if code is not None:  # the code's own groups stay choosable
            groups = groups | CustomerGroup.objects.visible_to(viewer).filter(chat_id__in=code.chat_ids)
        self.fields["groups"].queryset = groups.order_by("name", "id")
        self.fields["store"].queryset = Store.objects.visible_to(viewer).filter(kind=Store.Kind.STORE).order_by("code")

    @staticmethod
    def initial_for(values: dict) -> dict:
        initial = {key: values[key] for key in ("name", "state", "auto_create_room", "room_base_name", "room_base_id", "welcome_text")}
        initial["groups"] = [g.pk for g in values["groups"]]
        initial["store"] = values["store"].pk if values["store"] else None
        attachment = values.get("welcome_attachment") or {}
        kind = attachment.get("msgtype", "")
        body = attachment.get(kind, {}) if kind else {}
        initial.update(att_kind=kind, att_title=body.get("title", ""), att_url=body.get("url", ""), att_desc=body.get("desc", ""),
                       att_pic_url=body.get("pic_url", "") or body.get("picurl", ""), att_appid=body.get("appid", ""),
                       att_page=body.get("page", ""), att_media_id=body.get("media_id", "") or body.get("pic_media_id", ""))
        return initial

    def attachment(self) -> dict | None:
        data = {name: (self.cleaned_data.get(name) or "").strip() for name in self.ATTACHMENT_FIELDS}
        kind = data["att_kind"]
        if not kind:
            return None
        if kind == "image":
            body = {"pic_url": data["att_pic_url"], "media_id": data["att_media_id"]}
        elif kind == "link":
            body = {"title": data["att_title"], "url": data["att_url"], "desc": data["att_desc"], "picurl": data["att_pic_url"]}
        elif kind == "miniprogram":
            body = {"title": data["att_title"], "appid": data["att_appid"], "page": data["att_page"], "pic_media_id": data["att_media_id"]}
        else:
            body = {"media_id": data["att_media_id"]}
        return {"msgtype": kind, kind: {k: v for k, v in body.items() if v}}

    def service_data(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"], "groups": list(data["groups"]), "store": data["store"], "state": data["state"],
            "auto_create_room": data["auto_create_room"], "room_base_name": data["room_base_name"],
            "room_base_id": data["room_base_id"], "welcome_text": data["welcome_text"], "welcome_attachment": self.attachment(),
        }


class GroupCodeFilterForm(console_forms.Form):
    q = forms.CharField(label=gettext_lazy("搜索"), required=False,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": gettext_lazy("名称或渠道参数")}))
    status = forms.ChoiceField(label=gettext_lazy("状态"), required=False,
                               choices=[("", gettext_lazy("未删除")), *GroupCode.Status.choices])


class StoreCodeForm(console_forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=100)
    radius_km = forms.DecimalField(label=gettext_lazy("匹配半径（公里）"), initial=10, max_digits=8, decimal_places=2,
                                   help_text=gettext_lazy("只把客户分配到这个距离以内正在营业的门店。"))
    fallback_code = forms.ModelChoiceField(label=gettext_lazy("兜底群活码"), queryset=GroupCode.objects.none(), required=False,
                                           empty_label=gettext_lazy("不设置"),
                                           help_text=gettext_lazy("门店没有自己的群活码时展示这个码。"))
    intro = forms.CharField(label=gettext_lazy("页面说明"), max_length=300, required=False,
                            help_text=gettext_lazy("显示在客户打开的页面顶部，例如“扫码加入离你最近的门店福利群”。"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fallback_code"].queryset = GroupCode.objects.visible_to(viewer).exclude(status=GroupCode.Status.DELETED)

    @staticmethod
    def initial_for(code: StoreCode) -> dict:
        return {"name": code.name, "radius_km": code.radius_km, "fallback_code": code.fallback_code_id, "intro": code.intro}


class StoreLocationForm(console_forms.Form):
    latitude = forms.CharField(label=gettext_lazy("纬度"), max_length=20, required=False,
                               widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "31.235929"}))
    longitude = forms.CharField(label=gettext_lazy("经度"), max_length=20, required=False,
                                widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "121.480539"}))
    coordinate_system = forms.ChoiceField(label=gettext_lazy("坐标来源"), initial="gcj02", choices=[
        ("gcj02", gettext_lazy("高德 / 腾讯地图（GCJ-02）")), ("wgs84", gettext_lazy("GPS（WGS-84）")),
    ])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for day in Store.WEEKDAYS:
            self.fields[f"hours_{day}"] = forms.CharField(
                label=WEEKDAY_LABELS[day], max_length=100, required=False,
                widget=forms.TextInput(attrs={"placeholder": "09:00-22:00"}))

    def hour_fields(self):
        return [self[f"hours_{day}"] for day in Store.WEEKDAYS]

    @staticmethod
    def initial_for(store: Store) -> dict:
        initial = {"latitude": store.latitude if store.latitude is not None else "",
                   "longitude": store.longitude if store.longitude is not None else "", "coordinate_system": "wgs84"}
        hours = store.opening_hours or {}
        for day in Store.WEEKDAYS:
            initial[f"hours_{day}"] = format_day_hours(hours.get(day)) if hours else ""
            if hours and not hours.get(day):
                initial[f"hours_{day}"] = "休息"
        return initial

    def service_data(self) -> dict:
        data = self.cleaned_data
        return {"latitude": data["latitude"].strip(), "longitude": data["longitude"].strip(),
                "coordinate_system": data["coordinate_system"],
                "hours": {day: data[f"hours_{day}"] for day in Store.WEEKDAYS}}


class GroupFilterForm(console_forms.Form):
    q = forms.CharField(label=gettext_lazy("群名包含"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"type": "search"}))
    tag = forms.TypedChoiceField(label=gettext_lazy("群标签"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, tags=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag"].choices = [("", gettext_lazy("全部标签")), *[(t.pk, t.name) for t in tags]]


class GroupTagForm(console_forms.Form):
    name = forms.CharField(label=gettext_lazy("新群标签"), max_length=30)


class GroupTagsForm(console_forms.Form):
    tags = forms.TypedMultipleChoiceField(label=gettext_lazy("群标签"), required=False, coerce=int,
                                          widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, tags=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].choices = [(t.pk, t.name) for t in tags]
