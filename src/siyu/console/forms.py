import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from siyu.orgs.models import Organization

# Characters that change how text around them is shown without being visible themselves: bidirectional controls
# (U+202E makes a name render reversed in every list), zero-width spaces, word joiners, the BOM, and C0 controls
# other than tab and line breaks. U+200C/U+200D stay: emoji sequences and some scripts need them.
INVISIBLE = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def strip_invisible(text: str) -> str:
    return INVISIBLE.sub("", text)


class CleanInputMixin:
    """Strips invisible formatting from every submitted text before the fields validate it, so length limits,
    uniqueness checks and what the lists show all see the same text. Passwords are left exactly as typed."""

    def full_clean(self):
        if self.is_bound:
            self.data = self._without_invisible(self.data)
        super().full_clean()

    def _without_invisible(self, data):
        keep = {self.add_prefix(name) for name, field in self.fields.items() if isinstance(field.widget, forms.PasswordInput)}
        cleaned = data.copy()
        for key in data:
            if key in keep:
                continue
            values = data.getlist(key) if hasattr(data, "getlist") else [data[key]]
            scrubbed = [strip_invisible(v) if isinstance(v, str) else v for v in values]
            if hasattr(cleaned, "setlist"):
                cleaned.setlist(key, scrubbed)
            else:
                cleaned[key] = scrubbed[0]
        return cleaned


class Form(CleanInputMixin, forms.Form):
    """The console's form base: Django's Form with input hygiene."""


class ModelForm(CleanInputMixin, forms.ModelForm):
    """The console's model form base: Django's ModelForm with input hygiene."""


class LoginForm(Form):
    username = forms.CharField(label=_("用户名"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}))
    password = forms.CharField(label=_("密码"), max_length=256, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class OrganizationForm(Form):
    slug = forms.SlugField(label=_("标识"), max_length=50, help_text=_("用于回调地址等，只能包含字母、数字、连字符。"))
    name = forms.CharField(label=_("品牌名称"), max_length=100)
    owner_username = forms.CharField(label=_("所有者用户名"), max_length=150)
    owner_password = forms.CharField(
        label=_("所有者初始密码"), required=False, widget=forms.PasswordInput,
        help_text=_("所有者是新用户时必填；已有用户留空。"),
    )

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if Organization.objects.filter(slug=slug).exists():
            raise forms.ValidationError(_("该标识已被使用。"))
        return slug


def attach_service_errors(form, error: ValidationError) -> None:
    """Put a service's ValidationError onto the form's fields (or the form when it names none)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            target = field if field in form.fields else None
            for message in errors:
                form.add_error(target, message)
    else:
        for message in error.messages:
            form.add_error(None, message)
