from django.urls import include, path
from django.views.i18n import set_language

from siyu.api import api
from siyu.console import views as console_views
from siyu.wecom import receiver

console_patterns = (
    [
        path("", console_views.dashboard_view, name="dashboard"),
        path("switch-org/", console_views.switch_org, name="switch_org"),
        path("platform/orgs/", console_views.platform_orgs, name="platform_orgs"),
    ],
    "console",
)

urlpatterns = [
    # First: the event API is the busiest path, and every pattern tried before it costs each request.
    path("", include("siyu.cdp.source_urls")),
    # Second: every tracked-link open (a customer's phone) resolves here.
    path("", include("siyu.tracking.urls")),
    path("", include(console_patterns)),
    path("", include("siyu.orgs.urls")),
    path("", include("siyu.core.urls")),
    path("", include("siyu.wecom.urls")),
    path("", include("siyu.customers.urls")),
    path("", include("siyu.analytics.urls")),
    path("", include("siyu.lifecycle.urls")),
    path("", include("siyu.channels.urls")),
    path("", include("siyu.groups.urls")),
    path("", include("siyu.privacy.urls")),
    path("", include("siyu.cdp.person_urls")),
    path("", include("siyu.cdp.import_urls")),
    path("", include("siyu.segments.urls")),
    path("", include("siyu.content.urls")),
    path("", include("siyu.messaging.urls")),
    path("", include("siyu.conversations.urls")),
    path("", include("siyu.workbench.urls")),
    path("", include("siyu.sidebar.urls")),
    path("", include("siyu.moments.urls")),
    path("", include("siyu.sop.urls")),
    path("", include("siyu.journeys.urls")),
    path("login/", console_views.login_view, name="login"),
    path("logout/", console_views.logout_view, name="logout"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/", api.urls),
    path("wecom/callback/<slug:slug>/", receiver.callback, name="wecom_callback"),
]

handler403 = "siyu.console.views.error_403"
handler404 = "siyu.console.views.error_404"
handler500 = "siyu.console.views.error_500"
