"""Forms of the material library: one form per kind (only that kind's fields), a folder, a review decision.
The service checks everything again; these give the browser field-level errors."""

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.console.forms import Form
from siyu.content import materials
from siyu.content.models import Material, Scope

Kind = Material.Kind
# The fields each kind shows, besides title, tags, source, scope and folder.
KIND_FIELDS = {
    Kind.ARTICLE: ("summary", "cover", "body"),
    Kind.IMAGE: ("file",),
    Kind.LINK: ("url", "summary", "cover"),
    Kind.MINIPROGRAM: ("appid", "page", "cover"),
    Kind.FILE: ("file", "summary"),
    Kind.VIDEO: ("file", "summary"),
    Kind.PDF: ("file", "summary"),
    Kind.POSTER: ("file", "qr_left", "qr_top", "qr_size", "qr_name"),
}
FILE_HELP = {
    Kind.IMAGE: _("JPG 或 PNG，不超过 2 MB。"), Kind.POSTER: _("海报背景图，JPG 或 PNG，不超过 2 MB。"),
    Kind.VIDEO: _("MP4，不超过 10 MB。"), Kind.PDF: _("PDF，不超过 20 MB。"), Kind.FILE: _("任意文件，不超过 20 MB。"),
}


# The article editor's toolbar: (label, document.execCommand name, its value, the prompt asking for the value).
RICH_TOOLS = [
    (_("小标题"), "formatBlock", "h2", None), (_("正文段落"), "formatBlock", "p", None), (_("加粗"), "bold", None, None),
    (_("列表"), "insertUnorderedList", None, None), (_("引用"), "formatBlock", "blockquote", None),
    (_("链接"), "createLink", None, _("链接地址")), (_("图片"), "insertImage", None, _("图片地址")),
]


class MaterialForm(Form):
    title = forms.CharField(label=_("标题"), max_length=materials.MAX_TITLE)
    summary = forms.CharField(label=_("摘要"), max_length=materials.MAX_SUMMARY, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}), help_text=_("分享卡片上显示的描述。"))
    url = forms.CharField(label=_("链接地址"), max_length=2048, required=False,
                          help_text=_("http(s) 开头的完整地址。"))
    appid = forms.CharField(label=_("小程序 AppID"), max_length=18, required=False)
    page = forms.CharField(label=_("小程序页面路径"), max_length=512, required=False,
                           help_text=_("小程序里的页面路径，以 .html 结尾。"))
    body = forms.CharField(label=_("正文"), required=False, widget=forms.Textarea(attrs={"rows": 14}),
                           help_text=_("支持小标题、段落、加粗、列表、引用、链接和图片；其他格式和脚本会被去掉。"))
    file = forms.FileField(label=_("文件"), required=False)
    cover = forms.FileField(label=_("封面图"), required=False, help_text=_("JPG 或 PNG，不超过 2 MB。"))
    qr_left = forms.IntegerField(label=_("二维码左边距（%）"), min_value=0, max_value=100, required=False, initial=70)
    qr_top = forms.IntegerField(label=_("二维码上边距（%）"), min_value=0, max_value=100, required=False, initial=75)
    qr_size = forms.IntegerField(label=_("二维码宽度（%）"), min_value=0, max_value=100, required=False, initial=20,
                                 help_text=_("导购发送时在这里放入自己的个人二维码。"))
    qr_name = forms.BooleanField(label=_("二维码下方印导购姓名"), required=False)
    tags = forms.CharField(label=_("标签"), max_length=300, required=False, help_text=_("用逗号或空格分隔。"))
    source = forms.ChoiceField(label=_("来源与版权"), choices=Material.Source.choices, initial=Material.Source.ORIGINAL)
    source_text = forms.CharField(label=_("出处 / 授权说明"), max_length=materials.MAX_SOURCE_TEXT, required=False,
                                  help_text=_("已获授权或引用的素材必填：作者、出处或授权方。"))
    scope = forms.ChoiceField(label=_("范围"), help_text=_("总部素材审核通过后所有导购可用；个人素材只有自己可见，同样需要审核。"))
    folder = forms.ChoiceField(label=_("分组"), required=False)

    def __init__(self, *args, viewer, kind: str, fixed_scope: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        shown = set(KIND_FIELDS[kind]) | {"title", "tags", "source", "source_text", "scope", "folder"}
        for name in list(self.fields):
            if name not in shown:
                del self.fields[name]
        if "file" in self.fields:
            self.fields["file"].help_text = FILE_HELP[kind]
        if "body" in self.fields:
            self.fields["body"].widget.attrs["data-rich-text"] = json.dumps(
                [{"label": str(label), "command": command, "value": value, "ask": str(ask) if ask else ""}
                 for label, command, value, ask in RICH_TOOLS], ensure_ascii=False)
        if kind == Kind.MINIPROGRAM:
            self.fields["cover"].help_text = _("小程序卡片的封面，必填。JPG 或 PNG，不超过 2 MB。")
        rows = materials.folders(viewer)
        if fixed_scope is not None:
            del self.fields["scope"]
            rows = rows.filter(scope=fixed_scope)
        else:
            self.fields["scope"].choices = [(v, label) for v, label in Scope.choices
                                            if v == Scope.PERSONAL or viewer.can("content.materials_shared")]
        self.fields["folder"].choices = [("", _("未分组"))] + [
            (str(f.pk), f"{f.get_scope_display()} · {f.name}") for f in rows]

    def clean(self):
        data = super().clean()
        pk = data.get("folder")
        folder = materials.folders(self.viewer).filter(pk=int(pk)).first() if pk else None
        if pk and folder is None:
            self.add_error("folder", _("请选择有效的选项。"))
        data["folder"] = folder
        return data

    def service_arguments(self) -> dict:
        """The cleaned data as :func:`materials.save_material` takes it (the kind's fields; the rest empty)."""
        data = self.cleaned_data
        arguments = {name: data.get(name) or "" for name in materials.FIELDS}
        arguments.update(folder=data["folder"], tags=data.get("tags") or "", file=data.get("file"),
                         cover=data.get("cover"), qr_left=data.get("qr_left") or 0, qr_top=data.get("qr_top") or 0,
                         qr_size=data.get("qr_size") or 0, qr_name=bool(data.get("qr_name")))
        if "scope" in data:
            arguments["scope"] = data["scope"]
        return arguments


class MaterialFolderForm(Form):
    name = forms.CharField(label=_("分组名称"), max_length=50)
    scope = forms.ChoiceField(label=_("范围"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = [(v, label) for v, label in Scope.choices
                                        if v == Scope.PERSONAL or viewer.can("content.materials_shared")]
