from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.wecom.connection import callback_url, check_label, default_api_base, preflight, save_connection
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.errors import WeComError
from siyu.wecom.forms import CallFilterForm, ConnectionForm
from siyu.wecom.models import ApiCall, WeComConnection

# The "generate" buttons post the form back with one of these actions; the server fills in a fresh value.
GENERATORS = {"generate_token": ("callback_token", generate_token), "generate_aes_key": ("encoding_aes_key", generate_encoding_aes_key)}


@requires("org.settings")
def connection(request):
    """The WeCom connection: credentials, callback keys, the callback URL to paste, and the last check."""
    org = request.membership.org
    conn = WeComConnection.objects.visible_to(request.membership).first()
    editing = conn is not None
    status = 200
    action = request.POST.get("action", "save") if request.method == "POST" else None
    allow_api_base = request.user.is_superuser
    current_api_base = conn.api_base if conn else default_api_base()
    if action in GENERATORS:
        # Re-show what was typed (never the secret) with a fresh value; nothing is saved until "save".
        field, generate = GENERATORS[action]
        initial = {name: request.POST.get(name, "") for name in ConnectionForm.base_fields if name != "secret"}
        initial[field] = generate()
        form = ConnectionForm(initial=initial, editing=editing, allow_api_base=allow_api_base)
        if request.POST.get("secret"):
            messages.warning(request, _("出于安全考虑 Secret 不会回显，保存前请重新填写。"))
    elif action == "save":
        form = ConnectionForm(request.POST, initial={"api_base": current_api_base}, editing=editing, allow_api_base=allow_api_base)
        if form.is_valid():
            try:
                save_connection(org, by=request.user, **form.cleaned_data)
            except ValidationError as error:
                attach_service_errors(form, error)
            else:
                messages.success(request, _("企业微信连接已保存。请把回调地址填入企业微信后台，然后运行检查。"))
                return redirect("wecom:connection")
        status = 400
    elif conn is not None:
        form = ConnectionForm(
            initial={
                "corp_id": conn.corp_id, "agent_id": conn.agent_id, "callback_token": conn.callback_token,
                "encoding_aes_key": conn.encoding_aes_key, "api_base": conn.api_base,
            },
            editing=True, allow_api_base=allow_api_base,
        )
    else:
        form = ConnectionForm(initial={
            "callback_token": generate_token(), "encoding_aes_key": generate_encoding_aes_key(),
            "api_base": default_api_base(),
        }, allow_api_base=allow_api_base)
    # Labels follow the viewer's language; details and fixes stay as written when the check ran.
    checks = [{**check, "label": check_label(check["name"])} for check in conn.last_check_report] if conn else []
    return render(
        request, "wecom/connection.html",
        {"form": form, "conn": conn, "checks": checks, "callback_url": callback_url(org)},
        status=status,
    )


@require_POST
@requires("org.settings")
def run_checks(request):
    """Run the preflight checks now; the connection page shows the stored report."""
    try:
        results = preflight(request.membership.org, by=request.user)
    except WeComError as error:
        messages.error(request, error.hint)
    else:
        if all(r.ok for r in results):
            messages.success(request, _("全部检查通过。"))
        else:
            messages.error(request, _("有检查未通过，请按提示处理后重新检查。"))
    return redirect("wecom:connection")


@requires("org.settings")
def calls(request):
    """The API call log, latest first, filterable by endpoint and result."""
    filters = CallFilterForm(request.GET or None, viewer=request.membership)
    rows = ApiCall.objects.visible_to(request.membership)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["endpoint"]:
            rows = rows.filter(endpoint=data["endpoint"])
        if data["result"] == "ok":
            rows = rows.filter(errcode=0)
        elif data["result"] == "failed":
            rows = rows.filter(Q(errcode__isnull=True) | ~Q(errcode=0))
    return render(request, "wecom/calls.html", {"filters": filters, "page": paginate(request, rows, per_page=50)})
