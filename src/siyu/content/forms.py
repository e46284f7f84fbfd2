from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.console.forms import Form
from siyu.content.compliance import MAX_TEXT
from siyu.content.models import SensitiveWord, Severity
from siyu.content.services import MAX_NOTE, MAX_WORD


class WordForm(Form):
    word = forms.CharField(label=_("敏感词"), max_length=MAX_WORD, help_text=_("例如竞品名称、不能做出的承诺。忽略全半角和大小写。"))
    category = forms.ChoiceField(label=_("类别"), choices=SensitiveWord.Category.choices,
                                 initial=SensitiveWord.Category.OTHER)
    severity = forms.ChoiceField(label=_("处理方式"), choices=Severity.choices, initial=Severity.BLOCK,
                                 help_text=_("拦截：含有该词的内容不能发送；提示：发送前提醒人工确认。"))
    note = forms.CharField(label=_("备注"), max_length=MAX_NOTE, required=False, help_text=_("为什么不能用，会显示在检查结果中。"))


class ImportForm(Form):
    category = forms.ChoiceField(label=_("类别"), choices=SensitiveWord.Category.choices,
                                 initial=SensitiveWord.Category.OTHER)
    lines = forms.CharField(label=_("敏感词列表"), widget=forms.Textarea(attrs={"rows": 6}),
                            help_text=_("每行一个词；可在逗号后写处理方式（拦截/提示）和备注，例如：竞品甲,拦截,竞品名称"))


class CheckForm(Form):
    text = forms.CharField(label=_("待检查的内容"), max_length=MAX_TEXT, strip=False,
                           widget=forms.Textarea(attrs={"rows": 8}),
                           help_text=_("粘贴群发、朋友圈、话术或素材的文字，最多 %(max)s 个字。") % {"max": f"{MAX_TEXT:,}"})
