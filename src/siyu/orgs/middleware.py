"""Resolves who is asking (their membership in the current organization) and arms the tenant guard."""

from siyu.core.tenancy import request_guard
from siyu.orgs import audit
from siyu.orgs.models import Membership


def current_membership(request) -> Membership | None:
    """The signed-in user's membership in the session's organization, else their first one."""
    user = request.user
    if not user.is_authenticated:
        return None
    memberships = Membership.objects.for_user(user)
    wanted = request.session.get("org_id")
    membership = (memberships.filter(org_id=wanted).first() if wanted else None) or memberships.first()
    if membership is not None and wanted != membership.org_id:
        request.session["org_id"] = membership.org_id
    return membership


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        guard = request_guard.set(True)
        ip = audit.client_ip.set(request.META.get("REMOTE_ADDR"))
        try:
            request.membership = current_membership(request)
            return self.get_response(request)
        finally:
            request_guard.reset(guard)
            audit.client_ip.reset(ip)
