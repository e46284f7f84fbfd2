"""Invisible formatting never reaches a saved name: every console form strips it before validating."""

from django import forms
from django.http import QueryDict

from siyu.console.forms import Form
from siyu.customers.forms import NoteForm


class NameForm(Form):
    name = forms.CharField(max_length=5)
    secret = forms.CharField(widget=forms.PasswordInput)


def test_bidi_override_and_zero_width_characters_are_stripped_before_validation():
    form = NameForm(QueryDict("", mutable=True) | {"name": "\u202e张\u200b三\u2066", "secret": "a\u202eb"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["name"] == "张三"
    # A password is checked against what was typed when it was set: left as it is.
    assert form.cleaned_data["secret"] == "a\u202eb"


def test_length_is_counted_without_the_invisible_characters():
    assert NameForm({"name": "\u200b" * 10 + "一二三", "secret": "x"}).is_valid()


def test_emoji_joiners_survive():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    form = NameForm({"name": family, "secret": "x"})
    assert form.is_valid()
    assert form.cleaned_data["name"] == family


def test_app_forms_use_the_console_base():
    assert issubclass(NoteForm, Form)
