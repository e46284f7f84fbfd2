"""Console page of integration API keys: create one (its secret shown once) and revoke. Owners and HQ only."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_http_methods

from siyu.console.access import requires
from siyu.console.forms import Form
from siyu.console.paging import paginate
from siyu.orgs import apikeys
from siyu.orgs.models import ApiKey, Store
from siyu.orgs.roles import Role


class ApiKeyForm(Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=60, help_text=gettext_lazy("这个密钥给谁用，例如“ERP 同步”。"))
    role = forms.ChoiceField(label=gettext_lazy("角色"), choices=[c for c in Role.choices if c[0] != Role.OWNER],
                             help_text=gettext_lazy("密钥能看到和操作的范围与该角色的成员相同。"))
    store = forms.ModelChoiceField(label=gettext_lazy("门店/区域"), queryset=Store.objects.none(), required=False,
                                   help_text=gettext_lazy("店长和导购角色必填。"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = Store.objects.visible_to(viewer).order_by("code")


@requires("apikeys.manage")
@require_http_methods(["GET", "POST"])
def api_keys(request):
    viewer = request.membership
    form = ApiKeyForm(request.POST or None, viewer=viewer)
    token = None
    if request.method == "POST" and form.is_valid():
        try:
            _key, token = apikeys.create_key(viewer.org, name=form.cleaned_data["name"], role=form.cleaned_data["role"],
                                             store=form.cleaned_data["store"], by=request.user)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            form = ApiKeyForm(viewer=viewer)
    rows = ApiKey.objects.visible_to(viewer).select_related("membership__store", "created_by")
    return render(request, "orgs/apikeys.html", {"form": form, "token": token, "page": paginate(request, rows)})


@requires("apikeys.manage")
@require_POST
def api_key_revoke(request, pk: int):
    key = get_object_or_404(ApiKey.objects.visible_to(request.membership), pk=pk)
    apikeys.revoke_key(key, by=request.user)
    messages.success(request, _("已吊销 %(name)s。") % {"name": key.name})
    return redirect("orgs:apikeys")
