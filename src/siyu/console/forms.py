from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from siyu.orgs.models import Organization


class LoginForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}))
    password = forms.CharField(label=_("密码"), max_length=256, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class OrganizationForm(forms.Form):
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
