"""Console pages for channel codes and welcome messages, and the public landing page a printed QR opens."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from siyu.channels import qr, queries, rotation, services, welcome_materials
from siyu.channels.forms import (
    KIND_CHOICES,
    MATERIAL_CHOICE,
    WEEKDAYS,
    ChannelCodeForm,
    ChannelFilterForm,
    WelcomeMessageForm,
    attachment_formset,
    slot_formset,
)
from siyu.channels.models import (
    ChannelCode,
    ChannelStaff,
    CustomerChannel,
    RedPacketPayout,
    RedPacketRule,
    WelcomeMessage,
    WelcomeSend,
)
from siyu.console.access import requires
from siyu.core.tenancy import system_read
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.orgs.models import Organization

KINDS = dict([*KIND_CHOICES, MATERIAL_CHOICE])
# Hosts WeCom serves contact-way QR images from; the landing page may show images from these only.
QR_IMAGE_HOSTS = ("qpic.cn", "weixin.qq.com", "work.weixin.qq.com")


def _codes(viewer):
    return ChannelCode.objects.visible_to(viewer)


def _code_or_404(viewer, pk: int) -> ChannelCode:
    return get_object_or_404(_codes(viewer).select_related("folder", "partner", "owner__user", "org"), pk=pk)


# -- list --------------------------------------------------------------------------------------------------
@requires("channels.view")
def code_list(request):
    """Channel codes the viewer may see, with today's and all-time adds; filter by folder, status, staff, text."""
    viewer = request.membership
    filters = ChannelFilterForm(request.GET or None, viewer=viewer)
    rows = _codes(viewer).select_related("folder", "partner")
    status = ""
    if filters.is_valid():
        data = filters.cleaned_data
        status = data["status"]
        if data["q"]:
            rows = queries.search(rows, data["q"])
        if data["folder"]:
            rows = rows.filter(folder=data["folder"])
        if data["staff"]:
            rows = rows.filter(channel_staff__staff=data["staff"]).distinct()
    rows = rows.filter(status=status) if status else rows.exclude(status=ChannelCode.Status.DELETED)
    rows = queries.with_add_counts(rows, CustomerChannel.objects.visible_to(viewer)).order_by("-created_at", "-id")
    page = paginate(request, rows)
    staff_names = {}
    for link in ChannelStaff.objects.visible_to(viewer).filter(code__in=[c.pk for c in page]).select_related("staff"):
        staff_names.setdefault(link.code_id, []).append(link.staff)
    for code in page:
        code.staff_list = staff_names.get(code.pk, [])
    return render(request, "channels/list.html", {"filters": filters, "page": page})


# -- create / edit -------------------------------------------------------------------------------------------
def _edit_page(request, *, code: ChannelCode | None):
    viewer = request.membership
    post = request.method == "POST"
    values = services.code_values(code) if code is not None else None
    if post:
        form = ChannelCodeForm(request.POST, viewer=viewer)
        attachments = attachment_formset(request.POST, materials=welcome_materials.choosable(viewer))
        slots = slot_formset(request.POST, viewer=viewer)
    else:
        form = ChannelCodeForm(initial=ChannelCodeForm.initial_for(values) if values else None, viewer=viewer)
        attachments = attachment_formset(attachments=values["welcome_attachments"] if values else (),
                                         materials=welcome_materials.choosable(viewer))
        slots = slot_formset(viewer=viewer, slots=values["time_slots"] if values else ())
    extra_errors: dict[str, list[str]] = {}
    if post:
        valid = form.is_valid() & attachments.is_valid() & slots.is_valid()
        if valid:
            data = form.service_data(attachments=attachments.attachments(), slots=slots.slots())
            try:
                if code is None:
                    code = services.create_channel_code(viewer.org, by=viewer, **data)
                    messages.success(request, _("已创建渠道活码“%(name)s”。") % {"name": code.name})
                else:
                    code = services.update_channel_code(code, by=viewer, **data)
                    messages.success(request, _("已保存。"))
            except ValidationError as error:
                _attach(form, error, extra_errors)
            else:
                return redirect("channels:detail", pk=code.pk)
    return render(
        request, "channels/form.html",
        {"form": form, "attachments": attachments, "slots": slots, "code": code,
         "attachment_errors": extra_errors.get("welcome_attachments", []), "slot_errors": extra_errors.get("time_slots", [])},
        status=400 if post else 200,
    )


def _attach(form, error: ValidationError, extra: dict, *, rename: dict | None = None) -> None:
    """Service errors onto the form; those about the attachment and slot lists go beside those lists."""
    if not hasattr(error, "error_dict"):
        attach_service_errors(form, error)
        return
    rest = {}
    for field, messages_ in error.message_dict.items():
        field = (rename or {}).get(field, field)
        if field in ("welcome_attachments", "time_slots"):
            extra.setdefault(field, []).extend(messages_)
        else:
            rest[field if field in form.fields else NON_FIELD_ERRORS] = messages_
    if rest:
        attach_service_errors(form, ValidationError(rest))


@requires("channels.manage")
def code_new(request):
    return _edit_page(request, code=None)


@requires("channels.manage")
def code_edit(request, pk: int):
    code = _code_or_404(request.membership, pk)
    if code.status == ChannelCode.Status.DELETED:
        messages.error(request, _("已删除的渠道活码不能修改。"))
        return redirect("channels:detail", pk=code.pk)
    return _edit_page(request, code=code)


# -- detail --------------------------------------------------------------------------------------------------
@requires("channels.view")
def code_detail(request, pk: int):
    viewer = request.membership
    code = _code_or_404(viewer, pk)
    now = timezone.now()
    # The code's own settings (its staff, tags, welcome, red packet) come with the code the viewer may open;
    # rows about customers (adds, welcomes, payouts) only as far as the viewer may see those customers.
    links = list(code.channel_staff.select_related("staff"))
    sources = CustomerChannel.objects.visible_to(viewer).filter(code=code)
    today = {row["staff_id"]: row["n"] for row in sources.filter(last_at__gte=rotation.day_start(now))
             .values("staff_id").annotate(n=Count("id"))}
    for link in links:
        link.today = today.get(link.staff_id, 0)
    base = next((m for m in code.welcome_messages.filter(staff=None) if not m.is_variant), None)
    sends = WelcomeSend.objects.visible_to(viewer).filter(code=code)
    rule = RedPacketRule.objects.visible_to(viewer).filter(code=code).first()
    payouts = RedPacketPayout.objects.visible_to(viewer).filter(code=code)
    context = {
        "code": code,
        "primary": [link for link in links if link.role == ChannelStaff.Role.PRIMARY],
        "backup": [link for link in links if link.role == ChannelStaff.Role.BACKUP],
        "current": set(code.current_userids),
        "tags": [t.tag for t in code.code_tags.select_related("tag", "tag__group")],
        "adds_total": sources.count(),
        "adds_today": sum(today.values()),
        "welcome": base,
        "welcome_items": [(KINDS.get(kind, kind), text)
                          for kind, text in welcome_materials.summary(code.org_id, base.attachments if base else [])],
        "welcome_stale": welcome_materials.unusable(code.org_id, base.attachments if base else []),
        "welcome_counts": dict(sends.values_list("outcome").annotate(n=Count("id"))),
        "recent": sources.select_related("customer", "staff").order_by("-last_at", "-id")[:20],
        "rule": rule,
        "packet_spent": rule.spent_fen / 100 if rule else 0,
        "packet_budget": rule.budget_fen / 100 if rule else 0,
        "payouts_paid": payouts.filter(outcome=RedPacketPayout.Outcome.PAID).count(),
        "next_change": rotation.next_change(code, now),
        "landing_url": qr.landing_url(code),
        "slots": [
            {**slot, "names": [link.staff for link in links if link.staff_id in slot["staff"]],
             "days_label": "、".join(str(dict(WEEKDAYS)[d]) for d in slot["days"])}
            for slot in code.time_slots
        ],
    }
    return render(request, "channels/detail.html", context)


def _filename(code: ChannelCode, suffix: str) -> str:
    return f"channel-{slugify(code.state) or code.pk}{suffix}"


@require_GET
@requires("channels.view")
def code_qr(request, pk: int, kind: str = "png"):
    code = _code_or_404(request.membership, pk)
    if kind == "svg":
        response = HttpResponse(qr.qr_svg(code), content_type="image/svg+xml")
    else:
        response = HttpResponse(qr.qr_png(code), content_type="image/png")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{_filename(code, "." + kind)}"'
    return response


@require_GET
@requires("channels.view")
def code_poster(request, pk: int):
    code = _code_or_404(request.membership, pk)
    response = HttpResponse(qr.poster_png(code), content_type="image/png")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{_filename(code, "-poster.png")}"'
    return response


ACTIONS = {
    "pause": (services.pause_channel_code, gettext_lazy("已暂停：客户仍可扫码，但需员工手动通过，且不再发送欢迎语和红包。")),
    "resume": (services.resume_channel_code, gettext_lazy("已恢复。")),
    "delete": (services.delete_channel_code, gettext_lazy("已删除：二维码已失效，历史数据保留。")),
}


@require_POST
@requires("channels.manage")
def code_action(request, pk: int, action: str):
    code = _code_or_404(request.membership, pk)
    if action not in ACTIONS:
        raise Http404
    service, done = ACTIONS[action]
    try:
        service(code, by=request.membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect("channels:detail", pk=code.pk)


# -- welcome messages ------------------------------------------------------------------------------------------
@requires("channels.manage")
def welcome_list(request):
    """Default, per-staff and per-code welcome messages, and their time-slot variants."""
    viewer = request.membership
    rows = WelcomeMessage.objects.visible_to(viewer).select_related("code", "staff").order_by("code_id", "staff_id", "id")
    order = {WelcomeMessage.Scope.DEFAULT: 0, WelcomeMessage.Scope.STAFF: 1, WelcomeMessage.Scope.CODE: 2, WelcomeMessage.Scope.CODE_STAFF: 3}
    rows = sorted(rows, key=lambda m: (order[m.scope], m.code.name if m.code else "", m.staff.name if m.staff else "", m.is_variant, m.pk))
    for m in rows:  # materials withdrawn or rejected since they were chosen: warned about beside their welcome
        m.stale = welcome_materials.unusable(m.org_id, m.attachments)
    return render(request, "channels/welcome_list.html", {"rows": rows})


def _welcome_page(request, message: WelcomeMessage | None):
    viewer = request.membership
    post = request.method == "POST"
    if post:
        form = WelcomeMessageForm(request.POST, viewer=viewer)
        attachments = attachment_formset(request.POST, materials=welcome_materials.choosable(viewer))
    else:
        initial = WelcomeMessageForm.initial_for(message) if message else None
        form = WelcomeMessageForm(initial=initial, viewer=viewer)
        attachments = attachment_formset(attachments=message.attachments if message else (),
                                         materials=welcome_materials.choosable(viewer))
    extra: dict[str, list[str]] = {}
    if post and form.is_valid() & attachments.is_valid():
        data = form.cleaned_data
        try:
            services.save_welcome_message(
                viewer.org, by=viewer, text=data["text"], attachments=attachments.attachments(), code=data["code"],
                staff=data["staff"], window_days=data["window_days"], window_start=data["window_start"],
                window_end=data["window_end"], message=message,
            )
        except ValidationError as error:
            _attach(form, error, extra, rename={"attachments": "welcome_attachments"})
        else:
            messages.success(request, _("欢迎语已保存。"))
            return redirect("channels:welcome")
    return render(request, "channels/welcome_form.html",
                  {"form": form, "attachments": attachments, "message": message,
                   "attachment_errors": extra.get("welcome_attachments", []),
                   "stale": welcome_materials.unusable(viewer.org_id, message.attachments) if message else []},
                  status=400 if post else 200)


@requires("channels.manage")
def welcome_new(request):
    return _welcome_page(request, None)


@requires("channels.manage")
def welcome_edit(request, pk: int):
    message = get_object_or_404(WelcomeMessage.objects.visible_to(request.membership), pk=pk)
    return _welcome_page(request, message)


@require_POST
@requires("channels.manage")
def welcome_delete(request, pk: int):
    message = get_object_or_404(WelcomeMessage.objects.visible_to(request.membership), pk=pk)
    services.delete_welcome_message(message, by=request.membership)
    messages.success(request, _("欢迎语已删除。"))
    return redirect("channels:welcome")


# -- the public landing page ---------------------------------------------------------------------------------
@require_GET
@system_read("public H5 page: a printed channel code, no signed-in viewer")
def landing(request, slug: str, public_id: str):
    """What a printed code opens: the brand, and WeCom's current 「联系我」 code to long-press (no sign-in)."""
    org = Organization.objects.filter(slug=slug, is_active=True).first()
    if org is None:
        raise Http404
    code = ChannelCode.objects.for_org(org).filter(public_id=public_id).exclude(status=ChannelCode.Status.DELETED).first()
    if code is None:
        raise Http404
    image = code.qr_code if _allowed_image(code.qr_code) else ""
    response = render(request, "channels/landing.html", {"org": org, "code": code, "image": image})
    if image:
        parts = urlsplit(image)
        response._csp_update = {"img-src": [f"{parts.scheme}://{parts.netloc}"]}
    return response


def _allowed_image(url: str) -> bool:
    parts = urlsplit(url or "")
    host = parts.hostname or ""
    return parts.scheme == "https" and any(host == h or host.endswith("." + h) for h in QR_IMAGE_HOSTS)
