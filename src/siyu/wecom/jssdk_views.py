"""The endpoint Siyu's pages inside WeCom call to configure the JS-SDK."""

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from siyu.console.access import requires
from siyu.wecom import jssdk
from siyu.wecom.errors import NotConnected, WeComError


@require_GET
@never_cache
@requires("wecom.jssdk")
def config(request):
    """``GET ?url=PAGE`` → ``{corpid, agentid, config: {timestamp, nonceStr, signature}, agentConfig: {…}}`` for
    the signed-in member's organization; 400 with ``{"errors": {"url": …}}`` for a page not on Siyu's address."""
    try:
        url = jssdk.page_url(request.GET.get("url", ""), request_host=request.get_host())
    except ValidationError as error:
        return JsonResponse({"errors": error.message_dict}, status=400)
    try:
        return JsonResponse(jssdk.config(request.membership.org, url))
    except NotConnected as error:
        return JsonResponse({"errors": {"__all__": [error.hint]}}, status=409)
    except WeComError as error:
        return JsonResponse({"errors": {"__all__": [error.hint]}}, status=502)
