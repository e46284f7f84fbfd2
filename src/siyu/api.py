"""The integration API (django-ninja): OpenAPI at /api/docs. Each app contributes a router."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError
from django.http import Http404
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as SchemaValidationError
from ninja.openapi.docs import DocsBase
from ninja.security import SessionAuth

from siyu import __version__
from siyu.core.inputs import CleanParser, OutOfRange
from siyu.orgs.apikeys import ApiKeyAuth


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



class SiyuAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        """The schema with the answers every operation can give besides its own: sign in first (401), not
        allowed (403), not found (404), a malformed body (400) and invalid input (422), so clients and fuzzers see them documented."""
        schema = super().get_openapi_schema(*args, **kwargs)
        error = {"$ref": "#/components/schemas/Error"}
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = {
            "type": "object", "properties": {"detail": {"type": "string"}, "errors": {"type": "object"}},
            "required": ["detail"],
        }
        for path in schema["paths"].values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                for status, text in COMMON_RESPONSES.items():
                    responses.setdefault(status, {"description": text, "content": {"application/json": {"schema": error}}})
        return schema


COMMON_RESPONSES = {
    "400": "Malformed request", "401": "Sign in first", "403": "Not allowed", "404": "Not found", "422": "Invalid input",
}

# The schema and its docs page need a signed-in user: they describe what a brand's data looks like.
# A bearer API key (siyu.orgs.apikeys) or the console session: either way ``request.auth`` is a membership.
api = SiyuAPI(title="Siyu API", version=__version__, urls_namespace="api", auth=[ApiKeyAuth(), MemberSessionAuth()],
              parser=CleanParser(), docs=VendoredSwagger(), docs_decorator=login_required)


@api.exception_handler(OutOfRange)
@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def out_of_range(request, exc):
    return api.create_response(
        request, {"detail": "invalid input", "errors": {"__all__": ["a number is out of range"]}}, status=422
    )


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return api.create_response(request, {"detail": "invalid input", "errors": errors}, status=422)


@api.exception_handler(SchemaValidationError)
def schema_error(request, exc: SchemaValidationError):
    """A body or query that does not fit the schema: the same field-level shape as every other 422
    (``{"errors": {"lines.0.quantity": [...]}}``), naming the field the way the client wrote it."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        path = [str(part) for part in error.get("loc", ())][1:]  # drop "body" / "query"
        if len(path) > 1 and path[0] == "payload":
            path = path[1:]
        errors.setdefault(".".join(path) or "__all__", []).append(str(error.get("msg", "invalid")))
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

from siyu.cdp.orders_api import router as orders_router  # noqa: E402

api.add_router("/v1", orders_router)

from siyu.content.api import router as content_router  # noqa: E402

api.add_router("/v1", content_router)

from siyu.privacy.api import router as consent_router  # noqa: E402

api.add_router("/v1", consent_router)
