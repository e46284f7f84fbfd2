"""The integration API (django-ninja): OpenAPI at /api/docs. Each app contributes a router."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.openapi.docs import DocsBase
from ninja.security import SessionAuth

from siyu import __version__


class MemberSessionAuth(SessionAuth):
    """Console session + a membership in the current organization; the membership becomes ``request.auth``."""

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        if user is None:
            return None
        return getattr(request, "membership", None)


class VendoredSwagger(DocsBase):
    """Swagger UI from our own static files (swagger-ui-dist, vendored), so /api/docs works offline and under a CSP
    that allows same-origin scripts only; ninja's default page loads it from a CDN."""

    def render_page(self, request, api, **kwargs):
        return render(request, "core/api_docs.html", {"api": api, "openapi_url": self.get_openapi_url(api, kwargs)})


api = NinjaAPI(title="Siyu API", version=__version__, urls_namespace="api", auth=MemberSessionAuth(),
               docs=VendoredSwagger())


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return api.create_response(request, {"detail": "invalid input", "errors": errors}, status=422)


@api.exception_handler(PermissionDenied)
def permission_denied(request, exc):
    return api.create_response(request, {"detail": "permission denied"}, status=403)


@api.exception_handler(Http404)
def not_found(request, exc):
    return api.create_response(request, {"detail": "not found"}, status=404)


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc):
    return api.create_response(request, {"detail": "sign in first"}, status=401)


from siyu.orgs.api import router as orgs_router  # noqa: E402  (routers import `api` helpers above)

api.add_router("/v1", orgs_router)

from siyu.customers.api import router as customers_router  # noqa: E402

api.add_router("/v1", customers_router)

from siyu.channels.api import router as channels_router  # noqa: E402

api.add_router("/v1", channels_router)
