from django.urls import path

from siyu.wecom import event_views, jssdk_views, signin_views, views

app_name = "wecom"
urlpatterns = [
    path("settings/wecom/", views.connection, name="connection"),
    path("settings/wecom/check/", views.run_checks, name="check"),
    path("settings/wecom/calls/", views.calls, name="calls"),
    path("settings/wecom/events/", event_views.events, name="events"),
    path("settings/wecom/events/<int:pk>/", event_views.event_detail, name="event_detail"),
    path("settings/wecom/events/<int:pk>/redrive/", event_views.event_redrive, name="event_redrive"),
    path("settings/wecom/sync/", event_views.sync, name="sync"),
    path("settings/wecom/sync/start/", event_views.sync_start, name="sync_start"),
    path("wecom/oauth/start/", signin_views.oauth_start, name="oauth_start"),
    path("wecom/oauth/callback/", signin_views.oauth_callback, name="oauth_callback"),
    path("wecom/jssdk/config/", jssdk_views.config, name="jssdk_config"),
]
