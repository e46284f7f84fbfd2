"""The chat sidebar (聊天工具栏) pages: the entry WeCom opens, the customer screen of a 1:1 chat and the group
screen of a group chat. Each screen is one server-rendered response with the JS-SDK signatures inlined, so a slow
phone network pays one request before the guide sees the customer. Writes go through the customers, lifecycle
and content services; a bad form answers 400 with the page and the field's error, and changes nothing."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.content import variables
from siyu.customers import notes
from siyu.customers import tags as tag_services
from siyu.customers.forms import CustomerTagForm, FollowUpForm, NoteForm
from siyu.customers.models import Tag
from siyu.customers.queries import follow_ups_of, notes_of, tags_of
from siyu.customers.tags import staff_of
from siyu.lifecycle import stages
from siyu.lifecycle.forms import CustomerStageForm
from siyu.lifecycle.models import StageChange
from siyu.sidebar import queries, sending
from siyu.tracking.queries import customer_history
from siyu.wecom import jssdk
from siyu.wecom.errors import NotConnected, WeComError

MAX_QUERY = 50


def sidebar_page(view):
    """A sidebar page: signed out inside WeCom → sign in with WeCom and come back here; framed only by Siyu's own
    pages (the harness); every member may open it, ``visible_to`` decides what they see."""
    guarded = requires("sidebar.use")(view)

    @wraps(view)
    def page(request, *args, **kwargs):
        if not request.user.is_authenticated:
            query = {"flow": "app", "next": request.get_full_path()}
            if request.GET.get("org"):
                query["org"] = request.GET["org"]
            return redirect(f"{reverse('wecom:oauth_start')}?{urlencode(query)}")
        response = guarded(request, *args, **kwargs)
        response._csp_replace = {"frame-ancestors": ["'self'"]}
        return response

    page.capability = guarded.capability
    return xframe_options_sameorigin(page)


def _wecom_config(request) -> dict | None:
    """``ww.register``'s ids and both signatures for this very page, or None when WeCom cannot be reached (the
    page still shows the customer; sending is then switched off)."""
    try:
        return jssdk.config(request.membership.org, request.build_absolute_uri().split("#", 1)[0])
    except (NotConnected, WeComError):
        return None


def _screen(request, template: str, context: dict, *, status: int = 200):
    staff = staff_of(request.membership)
    context.update(viewer=request.membership, org=request.membership.org, wecom=_wecom_config(request),
                   signed_in_userid=staff.userid if staff is not None else "")
    return render(request, template, context, status=status)


@require_GET
@sidebar_page
def entry(request):
    """Where WeCom's chat toolbar points: asks the client which chat is open and goes to its screen."""
    return _screen(request, "sidebar/entry.html", {})


def _customer_screen(request, external_userid: str, *, forms: dict | None = None, status: int = 200):
    viewer = request.membership
    customer = queries.customer_for(viewer, external_userid)
    relation = queries.own_relation(viewer, customer)
    forms = forms or {}
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    return _screen(request, "sidebar/customer.html", {
        "customer": customer, "relation": relation,
        "phones": queries.phones(relation, show=viewer.can("pii.view")),
        "tags": tags_of(customer), "stage": stages.stage_of(customer), "stages": stages.stages_of(customer.org_id),
        "notes": notes_of(customer, limit=queries.NOTES_SHOWN), "follow_ups": follow_ups_of(customer),
        "orders": queries.orders_of(viewer, customer), "readings": customer_history(customer), "query": query,
        "scripts": _previewed(queries.script_choices(viewer, query), customer, viewer),
        "materials": queries.material_choices(viewer, query),
        "tag_form": forms.get("tag") or CustomerTagForm(viewer=viewer),
        "stage_form": forms.get("stage"), "note_form": forms.get("note") or NoteForm(),
        "follow_up_form": forms.get("follow_up") or FollowUpForm(viewer=viewer, customer=customer),
    }, status=status)


@require_GET
@sidebar_page
def customer(request, external_userid: str):
    return _customer_screen(request, external_userid)


@require_GET
@sidebar_page
def library(request, external_userid: str):
    """The script and material lists for a search, swapped into the customer screen as the guide types."""
    viewer = request.membership
    customer = queries.customer_for(viewer, external_userid)
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    return render(request, "sidebar/_library.html", {
        "customer": customer, "query": query,
        "scripts": _previewed(queries.script_choices(viewer, query), customer, viewer),
        "materials": queries.material_choices(viewer, query), "wecom": True})


def _previewed(scripts, customer, viewer) -> list:
    """The scripts, each with ``preview``: its text as this customer would receive it from this guide (the
    variables' values computed once for all of them)."""
    values: dict[str, str] = {}
    rows = list(scripts)
    for script in rows:
        script.preview = variables.render(script.body, customer=customer, guide=viewer, values=values)
    return rows


def _back(customer, anchor: str):
    return redirect(reverse("sidebar:customer", args=[customer.external_userid]) + f"#{anchor}")


def _edit(request, external_userid: str, key: str, make_form, perform, anchor: str):
    """A form posted from the customer screen: valid → ``perform`` (a service call, returning the message to show)
    and back to the screen; invalid, or refused by the service → 400 with the field's error, nothing changed."""
    viewer = request.membership
    customer = queries.customer_for(viewer, external_userid)
    form = make_form(viewer, customer)
    if form.is_valid():
        try:
            done = perform(viewer, customer, form.cleaned_data)
        except ValidationError as error:
            attach_service_errors(form, error)
        else:
            messages.success(request, done)
            return _back(customer, anchor)
    return _customer_screen(request, external_userid, forms={key: form}, status=400)


def _add_tags(viewer, customer, data) -> str:
    added = tag_services.tag_customer_as(viewer, customer, list(data["tags"]))
    return _("已添加标签。") if added else _("客户已有这些标签。")


def _move_stage(viewer, customer, data) -> str:
    stages.move_customer(customer, data["stage"], source=StageChange.Source.MANUAL, by=viewer)
    return _("已更新客户阶段。")


def _add_note(viewer, customer, data) -> str:
    notes.add_note(customer, data["text"], by=viewer)
    return _("已添加小记。")


def _add_follow_up(viewer, customer, data) -> str:
    notes.add_follow_up(customer, data["text"], due_at=data["due_at"], assignee=data["assignee"], by=viewer)
    return _("已安排跟进。")


@require_POST
@sidebar_page
def tag_add(request, external_userid: str):
    return _edit(request, external_userid, "tag", lambda viewer, _c: CustomerTagForm(request.POST, viewer=viewer),
                 _add_tags, "tags")


@require_POST
@sidebar_page
def tag_remove(request, external_userid: str, tag_pk: int):
    viewer = request.membership
    customer = queries.customer_for(viewer, external_userid)
    tag = get_object_or_404(Tag.objects.visible_to(viewer), pk=tag_pk)
    try:
        removed = tag_services.untag_customer_as(viewer, customer, [tag])
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return _back(customer, "tags")
    if removed:
        messages.success(request, _("已移除标签“%(name)s”。") % {"name": tag.name})
    else:
        messages.error(request, _("该标签不是通过你可管理的好友关系打上的，无法移除。"))
    return _back(customer, "tags")


@require_POST
@sidebar_page
def stage_move(request, external_userid: str):
    return _edit(request, external_userid, "stage",
                 lambda viewer, _c: CustomerStageForm(request.POST, viewer=viewer), _move_stage, "stage")


@require_POST
@sidebar_page
def note_add(request, external_userid: str):
    return _edit(request, external_userid, "note", lambda _v, _c: NoteForm(request.POST), _add_note, "notes")


@require_POST
@sidebar_page
def follow_up_add(request, external_userid: str):
    return _edit(request, external_userid, "follow_up",
                 lambda viewer, customer: FollowUpForm(request.POST, viewer=viewer, customer=customer),
                 _add_follow_up, "notes")


@require_POST
@sidebar_page
def send(request, external_userid: str):
    """``script=ID`` or ``material=ID`` (``renew=1`` after WeCom refused a remembered media id) → the
    ``sendChatMessage`` message as JSON; 400 ``{"errors": {field: [...]}}`` for anything the guide may not send."""
    viewer = request.membership
    customer = queries.customer_for(viewer, external_userid)
    try:
        if "script" in request.POST:
            message = sending.script_message(viewer, customer, request.POST["script"])
        elif "material" in request.POST:
            message = sending.material_message(viewer, customer, request.POST["material"],
                                               renew=request.POST.get("renew") == "1")
        else:
            raise ValidationError({"__all__": _("请选择要发送的话术或素材。")})
    except ValidationError as error:
        return JsonResponse({"errors": error.message_dict}, status=400)
    except (NotConnected, WeComError) as error:
        return JsonResponse({"errors": {"__all__": [str(error.hint)]}}, status=502)
    return JsonResponse({"message": message})


@require_GET
@sidebar_page
def group(request, chat_id: str):
    viewer = request.membership
    found = queries.group_for(viewer, chat_id)
    return _screen(request, "sidebar/group.html", {
        "group": found, "members": queries.group_members(viewer, found), "group_tags": queries.group_tags(found),
        "sop_tasks": queries.group_sop_tasks(viewer, found)})
