"""Forms of the script library: a script, a folder, a review decision. The services check everything again;
these give the browser field-level errors and offer only the folders the member may use."""

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.console.forms import Form
from siyu.content import scripts, variables
from siyu.content.models import Scope


def _folder_choices(viewer, scope: str | None) -> list[tuple[str, str]]:
    rows = scripts.folders(viewer)
    if scope is not None:
        rows = rows.filter(scope=scope)
    return [("", _("未分组"))] + [(str(f.pk), f"{f.get_scope_display()} · {f.name}") for f in rows]


def _scopes(viewer) -> list[tuple[str, str]]:
    return [(value, label) for value, label in Scope.choices
            if value == Scope.PERSONAL or viewer.can("content.scripts_shared")]


class ScopedFolderForm(Form):
    """Resolves the ``folder``/``parent`` field to one of the viewer's folders (or none)."""

    folder_field = "folder"

    def __init__(self, *args, viewer, fixed_scope: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        self.fields[self.folder_field].choices = _folder_choices(viewer, fixed_scope)
        if "scope" in self.fields:
            self.fields["scope"].choices = _scopes(viewer)

    def clean(self):
        data = super().clean()
        pk = data.get(self.folder_field)
        folder = scripts.folders(self.viewer).filter(pk=int(pk)).first() if pk else None
        if pk and folder is None:  # deleted since the page was drawn
            self.add_error(self.folder_field, _("请选择有效的选项。"))
        data[self.folder_field] = folder
        return data


class ScriptForm(ScopedFolderForm):
    title = forms.CharField(label=_("标题"), max_length=scripts.MAX_TITLE, help_text=_("搜索时可用标题的拼音首字母或全拼查找。"))
    body = forms.CharField(label=_("话术内容"), max_length=scripts.MAX_BODY, widget=forms.Textarea(attrs={"rows": 6}))
    scope = forms.ChoiceField(label=_("范围"), help_text=_("总部话术审核通过后所有导购可用；个人话术只有自己可见，无需审核。"))
    folder = forms.ChoiceField(label=_("分组"), required=False)

    def __init__(self, *args, viewer, fixed_scope: str | None = None, **kwargs):
        super().__init__(*args, viewer=viewer, fixed_scope=fixed_scope, **kwargs)
        self.fields["body"].help_text = _("可用变量：%(list)s，发送时替换为客户和导购的信息。") % {
            "list": "、".join("{%s}（%s）" % (v.name, v.label) for v in variables.VARIABLES.values())}
        if fixed_scope is not None:  # an existing script keeps its scope
            del self.fields["scope"]


class FolderForm(ScopedFolderForm):
    folder_field = "parent"
    name = forms.CharField(label=_("分组名称"), max_length=scripts.MAX_FOLDER_NAME)
    scope = forms.ChoiceField(label=_("范围"))
    parent = forms.ChoiceField(label=_("上级分组"), required=False)


class ReviewForm(Form):
    decision = forms.ChoiceField(label=_("审核结果"), widget=forms.RadioSelect,
                                 choices=[("approve", _("通过")), ("reject", _("驳回"))])
    comment = forms.CharField(label=_("审核意见"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=_("驳回时必填，作者据此修改。"))
    override_reason = forms.CharField(label=_("放行理由"), max_length=scripts.MAX_REASON, required=False,
                                      widget=forms.Textarea(attrs={"rows": 2}),
                                      help_text=_("含有禁止使用的词时，只有填写理由才能通过；理由记入操作日志。"))
