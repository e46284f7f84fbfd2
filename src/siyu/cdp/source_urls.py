"""The event API (``/v1/…``, what tracking SDKs post to) and the console's source pages (数据源)."""

from django.urls import path

from siyu.cdp import source_views
from siyu.cdp.ingest import endpoint

app_name = "sources"

urlpatterns = [
    *(path(f"v1/{kind}", endpoint(kind), name=f"v1_{kind}")
      for kind in ("batch", "track", "identify", "page", "screen", "group", "alias")),
    path("cdp/sources/", source_views.source_list, name="list"),
    path("cdp/sources/new/", source_views.source_create, name="create"),
    path("cdp/sources/<int:pk>/", source_views.source_detail, name="detail"),
    path("cdp/sources/<int:pk>/keys/new/", source_views.key_create, name="key_create"),
    path("cdp/sources/<int:pk>/keys/<int:key_pk>/rotate/", source_views.key_rotate, name="key_rotate"),
    path("cdp/sources/<int:pk>/keys/<int:key_pk>/revoke/", source_views.key_revoke, name="key_revoke"),
]
