"""Console pages for group codes (群活码) and store codes (区域码), and the public pages their QR codes open."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from siyu.console.access import requires
from siyu.console.forms import attach_service_errors
from siyu.console.paging import paginate
from siyu.core.tenancy import system_read
from siyu.groups import codes, qr, storecodes
from siyu.groups.forms import GroupCodeFilterForm, GroupCodeForm, StoreCodeForm, StoreLocationForm
from siyu.groups.models import CustomerGroup, GroupCode, GroupMember, StoreCode, StoreRouting
from siyu.orgs.models import Organization, Store
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import WeComError, as_validation_error

# Hosts WeCom serves join-way and contact-way QR images from; public pages show images from these only.
QR_IMAGE_HOSTS = ("qpic.cn", "weixin.qq.com", "work.weixin.qq.com")


def _attach(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        renamed = {}
        for field, problems in error.message_dict.items():
            target = getattr(form, "ERROR_FIELDS", {}).get(field, field)
            renamed.setdefault(target if target in form.fields else NON_FIELD_ERRORS, []).extend(problems)
        error = ValidationError(renamed)
    attach_service_errors(form, error)


def _allowed_image(url: str) -> bool:
    parts = urlsplit(url or "")
    host = parts.hostname or ""
    return parts.scheme == "https" and any(host == h or host.endswith("." + h) for h in QR_IMAGE_HOSTS)


def _allow_images(response, urls) -> HttpResponse:
    hosts = sorted({f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in urls if u})
    if hosts:
        response._csp_update = {"img-src": hosts}
    return response


# == group codes ==============================================================================================
def _join_counts(viewer, rows) -> dict[int, dict]:
    """Joins and members as far as the viewer may see them: a guide's figures are their own groups'."""
    return codes.join_counts(rows, members=GroupMember.objects.visible_to(viewer), groups=CustomerGroup.objects.visible_to(viewer))


def _code_or_404(viewer, pk: int) -> GroupCode:
    return get_object_or_404(GroupCode.objects.visible_to(viewer).select_related("store", "org"), pk=pk)


@requires("groupcodes.view")
def code_list(request):
    """Group codes the viewer may see, with joins today and in total and the members of their groups."""
    viewer = request.membership
    filters = GroupCodeFilterForm(request.GET or None)
    rows = GroupCode.objects.visible_to(viewer).select_related("store")
    status = ""
    if filters.is_valid():
        status = filters.cleaned_data["status"]
        text = filters.cleaned_data["q"].strip()
        if text:
            rows = rows.filter(Q(name__icontains=text) | Q(state__icontains=text))
    rows = rows.filter(status=status) if status else rows.exclude(status=GroupCode.Status.DELETED)
    page = paginate(request, rows.order_by("-created_at", "-id"))
    figures = _join_counts(viewer, page.object_list)
    for code in page:
        code.figures = figures[code.pk]
    return render(request, "groups/code_list.html", {"filters": filters, "page": page})


def _code_form_page(request, *, code: GroupCode | None):
    viewer = request.membership
    post = request.method == "POST"
    if post:
        form = GroupCodeForm(request.POST, viewer=viewer, code=code)
    else:
        form = GroupCodeForm(initial=GroupCodeForm.initial_for(codes.code_values(code)) if code else None, viewer=viewer, code=code)
    if post and form.is_valid():
        try:
            if code is None:
                code = codes.create_group_code(viewer.org, by=viewer, **form.service_data())
                messages.success(request, _("已创建群活码“%(name)s”。") % {"name": code.name})
            else:
                code = codes.update_group_code(code, by=viewer, **form.service_data())
                messages.success(request, _("已保存。"))
        except ValidationError as error:
            _attach(form, error)
        else:
            return redirect("groups:code_detail", pk=code.pk)
    return render(request, "groups/code_form.html", {"form": form, "code": code}, status=400 if post else 200)


@requires("groupcodes.manage")
def code_new(request):
    return _code_form_page(request, code=None)


@requires("groupcodes.manage")
def code_edit(request, pk: int):
    code = _code_or_404(request.membership, pk)
    if code.status == GroupCode.Status.DELETED:
        messages.error(request, _("已删除的群活码不能修改。"))
        return redirect("groups:code_detail", pk=code.pk)
    return _code_form_page(request, code=code)


@requires("groupcodes.view")
def code_detail(request, pk: int):
    viewer = request.membership
    code = _code_or_404(viewer, pk)
    figures = _join_counts(viewer, [code])[code.pk]
    recent = (GroupMember.objects.visible_to(viewer).filter(type=GroupMember.Type.EXTERNAL, state__in=code.states)
              .select_related("group", "customer").order_by("-join_time", "-id")[:20])
    attachment = code.welcome_attachment or {}
    return render(request, "groups/code_detail.html", {
        "code": code, "figures": figures, "groups": codes.groups_of(code), "recent": recent, "cap": codes.QR_JOIN_CAP,
        "landing_url": qr.landing_url(code), "attachment_kind": attachment.get("msgtype", ""),
        "attachment": attachment.get(attachment.get("msgtype", ""), {}),
    })


def _filename(obj, prefix: str, suffix: str) -> str:
    return f"{prefix}-{slugify(getattr(obj, 'state', '') or obj.public_id) or obj.pk}{suffix}"


def _image(body: bytes, filename: str, download: bool) -> HttpResponse:
    response = HttpResponse(body, content_type="image/png")
    if download:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@requires("groupcodes.view")
def code_qr(request, pk: int):
    code = _code_or_404(request.membership, pk)
    return _image(qr.qr_png(code), _filename(code, "group-code", ".png"), bool(request.GET.get("download")))


@require_GET
@requires("groupcodes.view")
def code_poster(request, pk: int):
    code = _code_or_404(request.membership, pk)
    return _image(qr.poster_png(code), _filename(code, "group-code", "-poster.png"), bool(request.GET.get("download")))


def _sync_now(code: GroupCode, *, by=None) -> GroupCode:
    if code.status != GroupCode.Status.ACTIVE or not code.config_id:
        raise ValidationError({NON_FIELD_ERRORS: [_("只有使用中的群活码可以同步。")]})
    try:
        with WeComClient.for_org(code.org) as client:
            return codes.sync_code(code, client)
    except WeComError as error:
        raise as_validation_error(error, _("读取加入群聊配置")) from error


CODE_ACTIONS = {
    "pause": (codes.pause_group_code, _("已暂停：二维码已失效，海报页面会提示活动暂停。")),
    "resume": (codes.resume_group_code, _("已恢复，海报重新可用。")),
    "delete": (codes.delete_group_code, _("已删除：二维码已失效，历史数据保留。")),
    "sync": (_sync_now, _("已从企业微信同步群列表。")),
}


@require_POST
@requires("groupcodes.manage")
def code_action(request, pk: int, action: str):
    code = _code_or_404(request.membership, pk)
    if action not in CODE_ACTIONS:
        raise Http404
    service, done = CODE_ACTIONS[action]
    try:
        service(code, by=request.membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, str(done))
    return redirect("groups:code_detail", pk=code.pk)


# == store codes ==============================================================================================
def _store_code_or_404(viewer, pk: int) -> StoreCode:
    return get_object_or_404(StoreCode.objects.visible_to(viewer).select_related("org", "fallback_code"), pk=pk)


@requires("storecodes.view")
def store_code_list(request):
    viewer = request.membership
    rows = (StoreCode.objects.visible_to(viewer).exclude(status=StoreCode.Status.DELETED).select_related("fallback_code")
            .annotate(routed=Count("routings")))
    page = paginate(request, rows.order_by("-created_at", "-id"))
    # Counted in the viewer's scope: a regional manager's figures are their region's stores, not the brand's.
    stores = storecodes.candidate_stores(viewer.org).filter(pk__in=Store.objects.visible_to(viewer).values("pk"))
    return render(request, "groups/store_code_list.html", {
        "page": page, "stores_total": stores.count(),
        "stores_located": stores.exclude(latitude=None).exclude(longitude=None).count(),
    })


def _store_code_form_page(request, *, code: StoreCode | None):
    viewer = request.membership
    post = request.method == "POST"
    if post:
        form = StoreCodeForm(request.POST, viewer=viewer)
    else:
        form = StoreCodeForm(initial=StoreCodeForm.initial_for(code) if code else None, viewer=viewer)
    if post and form.is_valid():
        try:
            if code is None:
                code = storecodes.create_store_code(viewer.org, by=viewer, **form.cleaned_data)
                messages.success(request, _("已创建区域码“%(name)s”。") % {"name": code.name})
            else:
                code = storecodes.update_store_code(code, by=viewer, **form.cleaned_data)
                messages.success(request, _("已保存。"))
        except ValidationError as error:
            _attach(form, error)
        else:
            return redirect("groups:store_code_detail", pk=code.pk)
    return render(request, "groups/store_code_form.html", {"form": form, "code": code}, status=400 if post else 200)


@requires("storecodes.manage")
def store_code_new(request):
    return _store_code_form_page(request, code=None)


@requires("storecodes.manage")
def store_code_edit(request, pk: int):
    code = _store_code_or_404(request.membership, pk)
    if code.status == StoreCode.Status.DELETED:
        raise Http404
    return _store_code_form_page(request, code=code)


@requires("storecodes.view")
def store_code_detail(request, pk: int):
    viewer = request.membership
    code = _store_code_or_404(viewer, pk)
    now = timezone.now()
    # A regional manager sees (and counts) the stores of their region only.
    stores = list(storecodes.candidate_stores(viewer.org).filter(pk__in=Store.objects.visible_to(viewer).values("pk")))
    for store in stores:
        store.open_now = store.is_open_at(now)
        store.targets = storecodes.targets_for(code, store)
    return render(request, "groups/store_code_detail.html", {
        "code": code, "stores": stores, "summary": storecodes.routing_summary(code, viewer=viewer), "landing_url": qr.landing_url(code),
        "methods": dict(StoreRouting.Method.choices), "outcomes": dict(StoreRouting.Outcome.choices),
    })


@require_GET
@requires("storecodes.view")
def store_code_qr(request, pk: int):
    code = _store_code_or_404(request.membership, pk)
    return _image(qr.qr_png(code), _filename(code, "store-code", ".png"), bool(request.GET.get("download")))


@require_GET
@requires("storecodes.view")
def store_code_poster(request, pk: int):
    code = _store_code_or_404(request.membership, pk)
    return _image(qr.poster_png(code), _filename(code, "store-code", "-poster.png"), bool(request.GET.get("download")))


@require_POST
@requires("storecodes.manage")
def store_code_action(request, pk: int, action: str):
    code = _store_code_or_404(request.membership, pk)
    if action not in ("pause", "resume", "delete"):
        raise Http404
    try:
        storecodes.set_store_code_status(code, action, by=request.membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("groups:store_code_detail", pk=code.pk)
    messages.success(request, _("已更新。"))
    if action == "delete":
        return redirect("groups:store_codes")
    return redirect("groups:store_code_detail", pk=code.pk)


@requires("stores.manage")
def store_locations(request):
    """Every store's map position and opening hours: what store codes route by."""
    stores = list(Store.objects.visible_to(request.membership).filter(kind=Store.Kind.STORE).order_by("city", "code"))
    now = timezone.now()
    for store in stores:
        store.open_now = store.is_open_at(now)
        store.hours_text = storecodes.hours_words(store.opening_hours)
    return render(request, "groups/store_locations.html", {"stores": stores})


@requires("stores.manage")
def store_location_edit(request, pk: int):
    store = get_object_or_404(Store.objects.visible_to(request.membership).filter(kind=Store.Kind.STORE), pk=pk)
    post = request.method == "POST"
    form = StoreLocationForm(request.POST if post else None, initial=None if post else StoreLocationForm.initial_for(store))
    if post and form.is_valid():
        try:
            storecodes.set_store_location(store, by=request.membership, **form.service_data())
        except ValidationError as error:
            _attach(form, error)
        else:
            messages.success(request, _("已保存“%(name)s”的位置和营业时间。") % {"name": store.name})
            return redirect("groups:store_locations")
    return render(request, "groups/store_location_form.html", {"form": form, "store": store}, status=400 if post else 200)


# == public pages (no sign-in) ================================================================================
def _org_or_404(slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug, is_active=True).first()
    if org is None:
        raise Http404
    return org


@require_GET
@system_read("public H5 page: a printed group code, no signed-in viewer")
def group_landing(request, slug: str, public_id: str):
    """What a printed group code opens: the brand and WeCom's current 「加入群聊」 QR to long-press."""
    org = _org_or_404(slug)
    code = GroupCode.objects.for_org(org).filter(public_id=public_id).exclude(status=GroupCode.Status.DELETED).first()
    if code is None:
        raise Http404
    image = code.qr_code if code.status == GroupCode.Status.ACTIVE and _allowed_image(code.qr_code) else ""
    response = render(request, "groups/h5/group.html", {"org": org, "code": code, "image": image})
    return _allow_images(response, [image])


def _store_code_public(slug: str, public_id: str) -> StoreCode:
    org = _org_or_404(slug)
    code = StoreCode.objects.for_org(org).filter(public_id=public_id).exclude(status=StoreCode.Status.DELETED).select_related("org").first()
    if code is None:
        raise Http404
    return code


def _shown(targets) -> list[dict]:
    return [{"kind": t.kind, "title": t.title, "image": t.qr_image if _allowed_image(t.qr_image) else "", "url": t.landing_url}
            for t in targets]


def _store_answer(request, code: StoreCode, result: storecodes.Route):
    """One answer for both paths: the chosen store's codes, else why no store (with the fallback group code)."""
    pick_url = reverse("groups:store_pick", args=[code.org.slug, code.public_id])
    if result.store is None:
        shown = _shown(storecodes.fallback_targets(code))
        response = render(request, "groups/h5/store_none.html", {
            "org": code.org, "code": code, "result": result, "pick_url": pick_url, "targets": shown,
            "all_closed": result.outcome == StoreRouting.Outcome.ALL_CLOSED,
        })
        return _allow_images(response, [t["image"] for t in shown])
    store = result.store
    shown = _shown(storecodes.targets_for(code, store))
    response = render(request, "groups/h5/store_result.html", {
        "org": code.org, "code": code, "store": store, "distance_km": result.distance_km, "targets": shown,
        "open_now": store.is_open_at(timezone.now()), "pick_url": pick_url,
    })
    return _allow_images(response, [t["image"] for t in shown])


@system_read("public H5 page: a store code, no signed-in viewer")
def store_page(request, slug: str, public_id: str):
    """The store code's page. GET: why it asks for the location, and the choice to share it or pick a store.
    POST (from the page's own form, CSRF-protected): a coordinate, or a store picked from the list."""
    code = _store_code_public(slug, public_id)
    pick_url = reverse("groups:store_pick", args=[slug, public_id])
    if code.status != StoreCode.Status.ACTIVE:
        return render(request, "groups/h5/store_paused.html", {"org": code.org, "code": code})
    if request.method == "POST":
        try:
            if request.POST.get("store"):
                result = storecodes.route_by_choice(code, request.POST["store"])
            else:
                result = storecodes.route_by_location(code, request.POST.get("latitude"), request.POST.get("longitude"))
        except ValidationError as error:
            return redirect(pick_url if "store" in error.message_dict else f"{pick_url}?reason=invalid")
        return _store_answer(request, code, result)
    if request.method != "GET":
        return HttpResponse(status=405)
    return render(request, "groups/h5/store.html", {"org": code.org, "code": code, "pick_url": pick_url})


@require_GET
@system_read("public H5 page: a store code, no signed-in viewer")
def store_pick(request, slug: str, public_id: str):
    """Without a location: cities, then the stores of the chosen city."""
    code = _store_code_public(slug, public_id)
    if code.status != StoreCode.Status.ACTIVE:
        return render(request, "groups/h5/store_paused.html", {"org": code.org, "code": code})
    cities = storecodes.stores_by_city(code.org)
    city = request.GET.get("city", "")
    if city not in cities:
        city = next(iter(cities)) if len(cities) == 1 else ""
    reasons = {
        "denied": _("你没有允许使用位置信息，请手动选择门店。"),
        "unavailable": _("暂时无法获取你的位置，请手动选择门店。"),
        "timeout": _("获取位置超时，请手动选择门店。"),
        "invalid": _("位置信息无效，请手动选择门店。"),
    }
    return render(request, "groups/h5/store_pick.html", {
        "org": code.org, "code": code, "cities": list(cities), "city": city, "stores": cities.get(city, []),
        "reason": reasons.get(request.GET.get("reason", ""), ""), "page_url": reverse("groups:store_page", args=[slug, public_id]),
    })
