from django.urls import path

from siyu.messaging import views

app_name = "messaging"

urlpatterns = [
    path("messaging/settings/", views.settings_view, name="settings"),
    path("messaging/dry-run/", views.dry_run_view, name="dry_run"),
]
