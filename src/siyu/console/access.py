"""View guards: sign-in, a membership in the current organization, and a capability of the role."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render


def requires(capability: str):
    """Allow the view only to signed-in members whose role has ``capability``; everyone else gets 403."""

    def decorate(view):
        @wraps(view)
        @login_required
        def guarded(request, *args, **kwargs):
            membership = request.membership
            if membership is None:
                if request.user.is_superuser:
                    return redirect("console:platform_orgs")
                return render(request, "console/no_membership.html", status=403)
            if not membership.can(capability):
                raise PermissionDenied(capability)
            return view(request, *args, **kwargs)

        guarded.capability = capability
        return guarded

    return decorate


def platform_admin(view):
    """Platform superusers only: the service provider that hosts many brands."""

    @wraps(view)
    @login_required
    def guarded(request, *args, **kwargs):
        if not request.user.is_superuser:
            raise PermissionDenied("platform administrators only")
        return view(request, *args, **kwargs)

    guarded.capability = "platform"
    return guarded
