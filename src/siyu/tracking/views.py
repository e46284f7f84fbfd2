"""The tracked H5 page ``/t/<token>/`` and its two small endpoints (consent, beats), public: the token is the
credential, there is no signed-in viewer, so their reads name their exception with ``system_read``; and the
console's statistics page of a material."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import IntegrityError
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from siyu.console.access import requires
from siyu.content import materials
from siyu.content.models import Material
from siyu.core.tenancy import system_read
from siyu.privacy import consent
from siyu.tracking import opens, queries
from siyu.tracking.forms import BeatForm, ConsentForm

COOKIE = "siyu_reader"
COOKIE_SALT = "tracking.reader"
COOKIE_AGE = 365 * 24 * 3600
NOTICE_SECONDS = 60  # how long a process shows a notice before asking for the newest version again
UNDECIDED, YES, NO = "", "y", "n"
BEAT_SECONDS = 10  # how often an open, visible page reports


def _reader(request) -> tuple[str, str]:
    """The visitor id and their consent choice from the signed cookie; a new visitor when there is none."""
    value = request.get_signed_cookie(COOKIE, default="", salt=COOKIE_SALT)
    visitor, _sep, choice = value.partition(":")
    if not visitor or choice not in (UNDECIDED, YES, NO):
        return opens.new_visitor(), UNDECIDED
    return visitor, choice


def _remember(response, visitor: str, choice: str) -> None:
    response.set_signed_cookie(COOKIE, f"{visitor}:{choice}", salt=COOKIE_SALT, max_age=COOKIE_AGE, httponly=True,
                               samesite="Lax", secure=False)


_notices: dict[int, tuple[float, object]] = {}


def _notice(org_id: int):
    """The organization's current privacy notice, kept for a minute in the process (the open path stays lean)."""
    now = time.monotonic()
    kept = _notices.get(org_id)
    if kept is None or kept[0] < now:
        with system_read("tracked page: the organization's privacy notice"):
            kept = _notices[org_id] = (now + NOTICE_SECONDS, consent.current_notice(org_id))
    return kept[1]


def _link(token: str):
    link = opens.target(token)
    if link is None:
        raise Http404
    return link


@dataclass(frozen=True)
class Opening:
    """What an open of a tracked page needs before anything is written: the link and its readable material, the
    reader (from their cookie, or a new one), and the key of the page it shows (None for a link material, which
    redirects)."""
    link: opens.LinkTarget
    material: Material
    visitor: str
    choice: str
    notice: object
    page_key: tuple | None


def opening(request, token: str) -> Opening | None:
    """Reads only: None when the token names no readable material (404)."""
    found = opens.readable(token)
    if found is None:
        return None
    link, material = found
    visitor, choice = _reader(request)
    notice, page_key = None, None
    if material.kind != Material.Kind.LINK:
        notice = _notice(link.org_id)
        page_key = (material.pk, material.updated_at, choice, getattr(notice, "pk", None), get_language())
    return Opening(link, material, visitor, choice, notice, page_key)


def record(opened: Opening) -> int | None:
    """The open itself; None when the link was deleted (with its customer) since it was found."""
    try:
        return opens.record_open(opened.link, visitor=opened.visitor,
                                 consented={YES: True, NO: False}.get(opened.choice))
    except IntegrityError:
        return None


def filled(html: str, token: str, visit_id: int) -> str:
    return html.replace(TOKEN_MARK, token).replace(VISIT_MARK, opens.visit_key(visit_id))


@require_GET
def page(request, token: str):
    """Record the open, then show the material, the privacy notice and (until the reader decides) the consent
    prompt. A link material goes straight on to its address once the open is recorded.

    Once this process has served a material's page here, the next opens of it are served by
    ``siyu.tracking.quick_opens`` without Django's request and response objects, with the same headers."""
    opened = opening(request, token)
    visit_id = record(opened) if opened else None
    if visit_id is None:
        raise Http404
    if opened.page_key is None:
        response = HttpResponseRedirect(opened.material.url)
    else:
        response = HttpResponse(filled(_page_html(request, opened), token, visit_id))
        response.tracked_page = opened.page_key  # the headers the stack gives it are kept for the quick path
    response["Cache-Control"] = "private, no-store"
    _remember(response, opened.visitor, opened.choice)
    return response


# The page of a material, rendered once per material state, consent choice, notice and language with marks where
# the link's token and the visit's key go: an open then costs two string replacements instead of a render.
TOKEN_MARK, VISIT_MARK = "TOKEN-MARK-9f3c1e", "VISIT-MARK-9f3c1e"
_pages: dict[tuple, str] = {}
PAGES_KEPT = 1024


def rendered_page(page_key: tuple) -> str | None:
    """The page already rendered for this key in this process, if any."""
    return _pages.get(page_key)


def _page_html(request, opened: Opening) -> str:
    html = _pages.get(opened.page_key)
    if html is None:
        material = opened.material
        context = {"material": material, "org": material.org, "notice": opened.notice,
                   "choice": opened.choice, "visit_key": VISIT_MARK, "token": TOKEN_MARK,
                   "file_url": _file_url(material), "beat_seconds": BEAT_SECONDS, "beat_max": opens.BEAT_MAX_SECONDS}
        html = render_to_string("tracking/page.html", context, request=request)
        if len(_pages) >= PAGES_KEPT:
            _pages.clear()
        _pages[opened.page_key] = html
    return html


def _file_url(material: Material) -> str:
    return reverse("content:material_file", args=[materials.token(material), "file", material.file_name or "file"])


@csrf_exempt  # a reader's phone, no session; the signed visit key is what authorizes the write
@require_POST
def choose(request, token: str):
    """The reader's answer to the consent prompt, remembered in their cookie and on this visit."""
    link = _link(token)
    form = ConsentForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    visit_pk = opens.visit_of(form.cleaned_data["visit"])
    if visit_pk is None or not opens.set_consent(link, visit_pk, form.cleaned_data["choice"] == YES):
        return JsonResponse({"errors": {"visit": ["unknown visit"]}}, status=404)
    visitor, _choice = _reader(request)
    response = JsonResponse({"ok": True})
    _remember(response, visitor, form.cleaned_data["choice"])
    return response


@csrf_exempt  # navigator.sendBeacon sends no CSRF token; the signed visit key authorizes the write
@require_POST
def beat(request, token: str):
    """A heartbeat: visible seconds since the last one, the deepest scroll, and whether the page was hidden."""
    link = _link(token)
    form = BeatForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    data = form.cleaned_data
    visit_pk = opens.visit_of(data["visit"])
    if visit_pk is None:
        return JsonResponse({"errors": {"visit": ["unknown visit"]}}, status=404)
    if not opens.beat(link, visit_pk, seconds=data["seconds"], depth=data["depth"], final=data["final"]):
        # Not this link's visit, or its reader did not consent: reading time is not recorded.
        return JsonResponse({"errors": {"visit": ["no consent"]}}, status=403)
    return HttpResponse(status=204)


@requires("content.materials")
@require_GET
def material_stats(request, pk: int):
    """内容 → 素材库 → a material → 数据: its sends, opens, reading and forwards, in all, by guide and by store,
    counting the sends the viewer may see."""
    viewer = request.membership
    material = get_object_or_404(materials.library(viewer), pk=pk)
    context = {"material": material, "total": queries.material_figures(viewer, material)[0:1],
               "by_guide": queries.material_figures(viewer, material, by="guide"),
               "by_store": queries.material_figures(viewer, material, by="store")}
    return render(request, "tracking/material_stats.html", context)
