from django.conf import settings

from siyu.console.nav import menu_for
from siyu.orgs.models import Membership


class Capabilities:
    """``{% if can.members_manage %}`` in templates asks ``membership.can("members.manage")``."""

    def __init__(self, membership):
        self._membership = membership

    def __getitem__(self, name: str) -> bool:
        return self._membership.can(name.replace("_", ".", 1))



def console(request):
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"languages": settings.LANGUAGES}
    return {
        "membership": membership,
        "current_org": membership.org,
        "can": Capabilities(membership),
        "other_memberships": [m for m in Membership.objects.for_user(request.user) if m.pk != membership.pk],
        "menu": menu_for(membership, request.path),
        "languages": settings.LANGUAGES,
    }
