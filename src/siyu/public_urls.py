"""The URLconf of the public hot paths (``settings.PUBLIC_PATH_PREFIXES``, siyu.core.public_paths): the same
patterns as in the root URLconf, resolved without trying the console's first."""

from django.urls import include, path

urlpatterns = [
    path("", include("siyu.cdp.source_urls")),
    path("", include("siyu.tracking.urls")),
]
