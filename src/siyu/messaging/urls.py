from django.urls import path

from siyu.messaging import mass_views, views

app_name = "messaging"

urlpatterns = [
    path("messaging/settings/", views.settings_view, name="settings"),
    path("messaging/dry-run/", views.dry_run_view, name="dry_run"),
    path("messaging/mass/", mass_views.mass_list, name="mass_list"),
    path("messaging/mass/new/", mass_views.mass_new, name="mass_new"),
    path("messaging/mass/<int:pk>/", mass_views.mass_detail, name="mass_detail"),
    path("messaging/mass/<int:pk>/schedule/", mass_views.mass_schedule, name="mass_schedule"),
    path("messaging/mass/<int:pk>/results/", mass_views.mass_results, name="mass_results"),
    path("messaging/mass/<int:pk>/progress/", mass_views.mass_progress, name="mass_progress"),
    path("messaging/mass/<int:pk>/remind/", mass_views.mass_remind, name="mass_remind"),
    path("messaging/mass/<int:pk>/cancel/", mass_views.mass_cancel, name="mass_cancel"),
    path("messaging/mass/<int:pk>/refresh/", mass_views.mass_refresh, name="mass_refresh"),
    path("messaging/mass/media/<str:name>", mass_views.mass_image, name="mass_image"),
]
