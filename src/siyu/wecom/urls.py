from django.urls import path

from siyu.wecom import views

app_name = "wecom"
urlpatterns = [
    path("settings/wecom/", views.connection, name="connection"),
    path("settings/wecom/check/", views.run_checks, name="check"),
    path("settings/wecom/calls/", views.calls, name="calls"),
]
