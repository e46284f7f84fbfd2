from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.console import forms as console_forms
from siyu.orgs import audit_labels
from siyu.orgs.models import Store
from siyu.orgs.roles import Role
from siyu.privacy.keyring import normalize_phone


class StoreFilterForm(console_forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, widget=forms.TextInput(attrs={"type": "search", "placeholder": _("名称或编码")}))
    kind = forms.ChoiceField(label=_("类型"), required=False, choices=[("", _("全部"))] + list(Store.Kind.choices))
    city = forms.CharField(label=_("城市"), required=False)


class StoreForm(console_forms.Form):
    code = forms.RegexField(label=_("编码"), max_length=32, regex=r"^[A-Za-z0-9_-]+$",
                            error_messages={"invalid": _("编码只能包含字母、数字、下划线和连字符。")})
    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=Store.Kind.choices, initial=Store.Kind.STORE)
    parent = forms.ModelChoiceField(label=_("上级"), queryset=Store.objects.none(), required=False)
    city = forms.CharField(label=_("城市"), max_length=50, required=False)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = Store.objects.visible_to(viewer).exclude(kind=Store.Kind.STORE)


WEEKDAY_LABELS = dict(zip(Store.WEEKDAYS, [_("周一"), _("周二"), _("周三"), _("周四"), _("周五"), _("周六"), _("周日")]))


class StoreEditForm(console_forms.Form):
    """A store's details, location and hours. Hours are typed per weekday as ``10:00-22:00`` (several ranges
    separated by commas; an end before the start runs past midnight); a blank day is a closed day, and all days
    blank means the hours are unknown (the store then counts as open)."""

    name = forms.CharField(label=_("名称"), max_length=100)
    city = forms.CharField(label=_("城市"), max_length=50, required=False)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    latitude = forms.DecimalField(label=_("纬度"), max_digits=9, decimal_places=6, required=False,
                                  min_value=-90, max_value=90, widget=forms.NumberInput(attrs={"step": "0.000001"}))
    longitude = forms.DecimalField(label=_("经度"), max_digits=9, decimal_places=6, required=False,
                                   min_value=-180, max_value=180, widget=forms.NumberInput(attrs={"step": "0.000001"}))

    def __init__(self, *args, store: Store, **kwargs):
        hours = store.opening_hours or {}
        initial = {"name": store.name, "city": store.city, "address": store.address,
                   "latitude": store.latitude, "longitude": store.longitude}
        for day in Store.WEEKDAYS:
            initial[f"hours_{day}"] = ", ".join(f"{a}-{b}" for a, b in hours.get(day) or [])
        super().__init__(*args, initial=initial, **kwargs)
        for day, label in WEEKDAY_LABELS.items():
            self.fields[f"hours_{day}"] = forms.CharField(
                label=label, max_length=60, required=False,
                widget=forms.TextInput(attrs={"placeholder": "10:00-22:00", "inputmode": "numeric"}))

    @property
    def hours_fields(self):
        return [self[f"hours_{day}"] for day in Store.WEEKDAYS]

    @property
    def detail_fields(self):
        return [self[name] for name in ("name", "city", "address")]

    def clean(self):
        data = super().clean()
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            self.add_error("longitude", _("纬度和经度须同时填写，或同时留空。"))
        hours = {}
        for day in Store.WEEKDAYS:
            text = (data.get(f"hours_{day}") or "").replace("，", ",").replace("～", "-").replace("~", "-")
            spans = [part.strip() for part in text.split(",") if part.strip()]
            parsed = []
            for span in spans:
                start, sep, end = span.partition("-")
                try:
                    Store.minutes_of(start.strip()), Store.minutes_of(end.strip())
                except ValueError:
                    self.add_error(f"hours_{day}", _("请按 10:00-22:00 的格式填写，多段用逗号分隔。"))
                    break
                parsed.append([start.strip(), end.strip()])
            if parsed:
                hours[day] = parsed
        data["opening_hours"] = hours
        return data


class MemberFilterForm(console_forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, widget=forms.TextInput(attrs={"type": "search", "placeholder": _("用户名或姓名")}))
    role = forms.ChoiceField(label=_("角色"), required=False, choices=[("", _("全部"))] + list(Role.choices))
    store = forms.ModelChoiceField(label=pgettext_lazy("singular", "门店"), queryset=Store.objects.none(), required=False, empty_label=_("全部"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = Store.objects.visible_to(viewer)


class _RoleFields(console_forms.Form):
    role = forms.ChoiceField(label=_("角色"), choices=Role.choices)
    store = forms.ModelChoiceField(label=_("门店/区域"), queryset=Store.objects.none(), required=False,
                                   help_text=_("店长和导购必填；店长选择区域时可管理区域下全部门店。"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = Store.objects.visible_to(viewer)
        if not viewer.can("members.manage_owner"):
            self.fields["role"].choices = [c for c in Role.choices if c[0] != Role.OWNER]


class MemberForm(_RoleFields):
    username = forms.RegexField(label=_("用户名"), max_length=150, regex=r"^[\w.@+-]+$",
                                error_messages={"invalid": _("用户名只能包含字母、数字和 @ . + - _。")})
    display_name = forms.CharField(label=_("姓名"), max_length=64, required=False)
    phone = forms.CharField(label=_("手机号"), max_length=32, required=False)
    password = forms.CharField(label=_("初始密码"), required=False, widget=forms.PasswordInput,
                               help_text=_("至少 10 位；留空则该成员暂不能登录控制台。"))

    field_order = ["username", "display_name", "phone", "role", "store", "password"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A new member starts with the least privilege (a guide), the roles listed from least to most powerful:
        # granting more is a deliberate choice, never a default accepted by accident.
        self.fields["role"].choices = list(reversed(self.fields["role"].choices))
        self.fields["role"].initial = Role.GUIDE

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        if phone:
            try:
                normalize_phone(phone)
            except ValueError:
                raise forms.ValidationError(_("手机号格式不正确。")) from None
        return phone


class RoleForm(_RoleFields):
    pass


class InvitationForm(_RoleFields):
    pass


class AuditFilterForm(console_forms.Form):
    action = forms.ChoiceField(label=_("动作"), required=False,
                               choices=[("", _("全部"))] + audit_labels.ACTION_GROUPS)
    actor = forms.CharField(label=_("操作人"), required=False)
    object_type = forms.ChoiceField(label=_("对象类型"), required=False,
                                    choices=[("", _("全部"))] + [(key, noun) for key, (noun, _url) in audit_labels.OBJECTS.items()])
    start = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


class PasswordChangeForm(console_forms.Form):
    old_password = forms.CharField(label=_("当前密码"), max_length=256, strip=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new_password = forms.CharField(label=_("新密码"), max_length=256, strip=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                   help_text=_("至少 10 个字符，不能太常见，不能与用户名相似。"))
    new_password2 = forms.CharField(label=_("再次输入新密码"), max_length=256, strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("new_password2") and data["new_password"] != data["new_password2"]:
            self.add_error("new_password2", _("两次输入的新密码不一致。"))
        return data


class PasswordResetForm(PasswordChangeForm):
    """The reset link's form: no current password (that is what was forgotten)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["old_password"]
