"""The harness page and its relay to the simulator (see :mod:`siyu.sidebar.harness`)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from siyu.customers.tags import staff_of
from siyu.sidebar import harness
from siyu.wecom import oauth


def _simulated_org(request):
    org = oauth.signin_org(request.GET.get("org", "").strip() or None)
    base = harness.simulator_base(org)
    if base is None:
        raise Http404("the harness exists only while WeCom is simulated")
    return org, base


@require_GET
def page(request):
    """Pick a member's chat; the sidebar opens in the frame as WeCom's client would open it."""
    org, base = _simulated_org(request)
    membership = getattr(request, "membership", None)
    signed_in = staff_of(membership) if membership is not None and membership.org_id == org.pk else None
    response = render(request, "sidebar/harness.html", {
        "org": org, "chats": harness.chats(org), "signed_in": signed_in.userid if signed_in else ""})
    # The frame goes through the simulator's sign-in page when the member is signed out.
    parts = urlsplit(base)
    response._csp_update = {"frame-src": ["'self'", f"{parts.scheme}://{parts.netloc}"]}
    return response


@require_POST
def relay(request, action: str):
    """The harness's ``ww`` calls that need WeCom's side: a JSON body relayed to ``/sim/<action>``."""
    _, base = _simulated_org(request)
    if action not in harness.RELAYED:
        raise Http404("not a harness call")
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return JsonResponse({"error": "the body must be a JSON object"}, status=400)
    status, answer = harness.relay(base, action, payload)
    return JsonResponse(answer, status=status, safe=False)
