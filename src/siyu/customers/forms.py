"""Forms of the customer pages. The list's filter form is also how bulk jobs and the API read filters, so the
same input is valid (or refused with the same field error) everywhere."""

from __future__ import annotations

from django import forms
from django.forms.models import ModelChoiceIterator
from django.forms.utils import flatatt
from html import escape

from django.utils.safestring import mark_safe
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.console import forms as console_forms
from siyu.customers.models import FollowUp, Tag
from siyu.customers.profile import list_filters
from siyu.customers.queries import DEFAULT_SORT
from siyu.customers.tags import MAX_NAME, staff_of, usable_tags
from siyu.groups.models import CustomerGroup
from siyu.orgs.models import Staff, Store

SORT_CHOICES = [("-added", _("最近添加")), ("added", _("最早添加")), ("name", _("昵称"))]
TAG_MODES = [("any", _("含任一标签")), ("all", _("含全部标签")), ("none", _("不含这些标签"))]
STATUS_CHOICES = [("", _("全部")), ("friend", _("仍是好友")), ("lost", _("已流失（已删除）"))]
IN_GROUP_CHOICES = [("", _("不限")), ("yes", _("在客户群中")), ("no", _("不在任何客户群"))]


class FastSelectMixin:
    """A select rendered in Python: Django's per-option widget templates cost about 0.2 ms an option, which is
    most of the list page's time for an organization with a thousand staff and hundreds of tags."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = {str(v) for v in self.format_value(value)}
        final = self.build_attrs(self.attrs, attrs)
        final["name"] = name
        if self.allow_multiple_selected:
            final["multiple"] = True
        options = "".join(
            f'<option value="{escape(key)}"{" selected" if key in chosen else ""}>{escape(label)}</option>'
            for key, label in ((str(v), str(lbl)) for v, lbl in self._options())
        )
        return mark_safe(f"<select{flatatt(final)}>{options}</select>")  # noqa: S308 - every part escaped above

    def _options(self):
        choices = self.choices
        if not isinstance(choices, ModelChoiceIterator):
            yield from choices
            return
        # Django iterates model choices with .iterator(): a server-side cursor on PostgreSQL, several round trips
        # for a thousand staff. One ordinary query does.
        field = choices.field
        if field.empty_label is not None:
            yield "", field.empty_label
        for obj in list(choices.queryset):
            yield field.prepare_value(obj), field.label_from_instance(obj)


class FastSelect(FastSelectMixin, forms.Select):
    pass


class FastSelectMultiple(FastSelectMixin, forms.SelectMultiple):
    pass


class TagPicker(FastSelectMultiple):
    """Tags under their tag group, one <optgroup> each with the group's colour; console.js makes it the searchable
    tag picker (docs/design.md). Personal tags form their own group."""

    COLORS = ("blue", "green", "orange", "purple", "cyan", "red")

    def render(self, name, value, attrs=None, renderer=None):
        chosen = {str(v) for v in self.format_value(value)}
        final = self.build_attrs(self.attrs, attrs)
        final["name"], final["multiple"] = name, True
        groups: dict = {}
        for tag in list(self.choices.queryset):
            if tag.kind == Tag.Kind.PERSONAL:
                key, label = "personal", str(_("个人标签"))
            else:
                key, label = tag.group_id, tag.group.name if tag.group_id else str(_("未分组"))
            groups.setdefault(key, (label, []))[1].append(tag)
        html = []
        for key, (label, tags) in groups.items():
            color = self.COLORS[key % len(self.COLORS)] if isinstance(key, int) else "grey"
            options = "".join(
                f'<option value="{tag.pk}"{" selected" if str(tag.pk) in chosen else ""}>{escape(tag.name)}</option>' for tag in tags)
            html.append(f'<optgroup label="{escape(label)}" data-color="{color}">{options}</optgroup>')
        return mark_safe(f"<select{flatatt(final)}>{''.join(html)}</select>")  # noqa: S308 - every part escaped above


class TagChoiceField(forms.ModelMultipleChoiceField):
    widget = TagPicker


def filter_tags(viewer):
    """Tags the list can filter by: live corp tags (synced or not) and the viewer's own personal tags."""
    staff = staff_of(viewer)
    mine = Q(kind=Tag.Kind.PERSONAL, owner=staff) if staff is not None else Q(pk__in=[])
    return (Tag.objects.visible_to(viewer).filter(deleted=False).filter(Q(kind=Tag.Kind.CORP) | mine)
            .select_related("group").order_by("kind", "-group__order", "group_id", "-order", "id"))


class CustomerFilterForm(console_forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=100, widget=forms.TextInput(
        attrs={"type": "search", "placeholder": _("昵称、备注或手机号")}))
    tags = TagChoiceField(label=_("标签"), queryset=Tag.objects.none(), required=False)
    tag_mode = forms.ChoiceField(label=_("标签条件"), choices=TAG_MODES, required=False)
    staff = forms.ModelMultipleChoiceField(label=_("跟进员工"), queryset=Staff.objects.none(), required=False,
                                           widget=FastSelectMultiple)
    store = forms.ModelChoiceField(label=pgettext_lazy("singular", "门店"), queryset=Store.objects.none(), required=False,
                                   empty_label=_("全部"), widget=FastSelect)
    group = forms.ModelChoiceField(label=_("客户群"), queryset=CustomerGroup.objects.none(), required=False,
                                   empty_label=_("全部"), widget=FastSelect)
    in_group = forms.ChoiceField(label=_("群成员"), choices=IN_GROUP_CHOICES, required=False)
    status = forms.ChoiceField(label=_("好友状态"), choices=STATUS_CHOICES, required=False)
    added_from = forms.DateField(label=_("添加日期从"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    added_to = forms.DateField(label=_("到"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(label=_("排序"), choices=SORT_CHOICES, required=False)

    BASIC = ("q", "tags", "tag_mode", "status")

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        self.fields["tags"].queryset = filter_tags(viewer)
        # Only what the option shows: a full Staff row decrypts the member's phone number.
        self.fields["staff"].queryset = Staff.objects.visible_to(viewer).only("id", "name", "userid").order_by("name", "userid")
        self.fields["store"].queryset = Store.objects.visible_to(viewer)
        self.fields["group"].queryset = CustomerGroup.objects.visible_to(viewer).filter(
            status=CustomerGroup.Status.ACTIVE).order_by("name", "pk")
        self.registered = list_filters()
        for registered in self.registered:
            field = registered.field(viewer)
            field.required = False
            field.label = field.label or registered.label
            self.fields[registered.key] = field

    def clean(self):
        data = super().clean()
        start, end = data.get("added_from"), data.get("added_to")
        if start and end and start > end:
            self.add_error("added_to", _("结束日期不能早于开始日期。"))
        data["tag_mode"] = data.get("tag_mode") or "any"
        data["sort"] = data.get("sort") or DEFAULT_SORT
        return data

    @property
    def advanced_fields(self):
        return [f for f in self if f.name not in self.BASIC and f.name != "sort"]

    @property
    def is_filtered(self) -> bool:
        if not self.is_bound or not self.is_valid():
            return False
        return any(not is_empty(v) for k, v in self.cleaned_data.items() if k not in {"tag_mode", "sort"})


class BulkForm(console_forms.Form):
    """What to do with which customers: the current filter (``scope=filter``) or the ticked ones."""

    ACTIONS = [("add_tags", _("批量打标签")), ("remove_tags", _("批量移除标签")), ("export", _("导出 Excel"))]

    action = forms.ChoiceField(label=_("操作"), choices=ACTIONS)
    scope = forms.ChoiceField(label=_("范围"), choices=[("selected", _("勾选的客户")), ("filter", _("当前筛选的全部客户"))],
                              initial="selected", widget=forms.RadioSelect)
    ids = forms.TypedMultipleChoiceField(label=_("客户"), coerce=int, required=False, widget=forms.MultipleHiddenInput)
    bulk_tags = TagChoiceField(label=_("标签"), queryset=Tag.objects.none(), required=False)

    MAX_SELECTED = 1000

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bulk_tags"].queryset = usable_tags(viewer)
        # Any ids are accepted here; the job only ever touches the ones the viewer may see.
        self.fields["ids"].valid_value = lambda value: True

    def clean(self):
        data = super().clean()
        if data.get("action") in {"add_tags", "remove_tags"} and not data.get("bulk_tags"):
            self.add_error("bulk_tags", _("请选择要添加或移除的标签。"))
        if data.get("scope") == "selected":
            ids = data.get("ids") or []
            if not ids:
                self.add_error("ids", _("请先勾选客户，或选择“当前筛选的全部客户”。"))
            elif len(ids) > self.MAX_SELECTED:
                self.add_error("ids", _("一次最多勾选 %(n)d 位客户；更多请用“当前筛选的全部客户”。") % {"n": self.MAX_SELECTED})
        return data


class NoteForm(console_forms.Form):
    text = forms.CharField(label=_("小记"), max_length=2000, widget=forms.Textarea(
        attrs={"rows": 3, "placeholder": _("记录沟通要点、客户需求……")}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "note_%s")  # the profile page has several forms with a "text" field
        super().__init__(*args, **kwargs)


class FollowUpForm(console_forms.Form):
    text = forms.CharField(label=_("跟进内容"), max_length=500)
    due_at = forms.DateTimeField(label=_("跟进时间"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                             format="%Y-%m-%dT%H:%M"),
                                 input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"])
    assignee = forms.ModelChoiceField(label=_("跟进人"), queryset=Staff.objects.none(), widget=FastSelect)

    def __init__(self, *args, viewer, customer, **kwargs):
        kwargs.setdefault("auto_id", "follow_up_%s")
        super().__init__(*args, **kwargs)
        from siyu.customers.notes import assignable_staff

        self.fields["assignee"].queryset = assignable_staff(viewer, customer)
        mine = staff_of(viewer)
        if mine is not None and not self.is_bound:
            self.fields["assignee"].initial = mine.pk
        if not self.is_bound:
            tomorrow = timezone.localtime() + timezone.timedelta(days=1)
            self.fields["due_at"].initial = tomorrow.replace(hour=10, minute=0, second=0, microsecond=0)


class FollowUpCloseForm(console_forms.Form):
    status = forms.ChoiceField(choices=[(FollowUp.Status.DONE, _("完成")), (FollowUp.Status.CANCELLED, _("取消"))])


class CustomerTagForm(console_forms.Form):
    tags = TagChoiceField(label=_("添加标签"), queryset=Tag.objects.none())

    def __init__(self, *args, viewer, **kwargs):
        kwargs.setdefault("auto_id", "customer_tag_%s")
        super().__init__(*args, **kwargs)
        self.fields["tags"].queryset = usable_tags(viewer)


class TagGroupForm(console_forms.Form):
    """The service checks the names (length, protected labels, duplicates); the form only splits them."""

    name = forms.CharField(label=_("标签组名称"), max_length=200, help_text=_("最多 %(n)d 个字。") % {"n": MAX_NAME})
    tags = forms.CharField(label=_("标签"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=_("每行一个标签，每个最多 %(n)d 个字；企业微信要求标签组至少有一个标签。") % {"n": MAX_NAME})

    def clean_tags(self):
        return split_names(self.cleaned_data["tags"])


class TagAddForm(console_forms.Form):
    name = forms.CharField(label=_("新标签"), max_length=2000, help_text=_("可一次填写多个，用逗号或换行分隔。"))

    def clean_name(self):
        return split_names(self.cleaned_data["name"])


class RenameForm(console_forms.Form):
    name = forms.CharField(label=_("新名称"), max_length=200)


class PersonalTagForm(console_forms.Form):
    name = forms.CharField(label=_("个人标签"), max_length=200, help_text=_("只有你自己能看到和使用，最多 %(n)d 个字。") % {"n": MAX_NAME})


class ProtectedLabelForm(console_forms.Form):
    word = forms.CharField(label=_("受保护词"), max_length=200)
    reason = forms.CharField(label=_("原因"), max_length=200, required=False,
                             help_text=_("创建含有此词的标签被拒绝时，会向操作人显示此原因。"))


def is_empty(value) -> bool:
    """An unused filter: nothing entered, or an empty selection."""
    if isinstance(value, QuerySet):
        return not value
    return value in (None, "", [], ())


def split_names(text: str) -> list[str]:
    """Names separated by new lines or commas (half- or full-width), blanks dropped, order kept."""
    for separator in ("\r", "，", "、", ","):
        text = text.replace(separator, "\n")
    return [name.strip() for name in text.split("\n") if name.strip()]
