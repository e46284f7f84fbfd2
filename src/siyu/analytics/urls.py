from django.urls import path

from siyu.analytics import views

app_name = "analytics"
urlpatterns = [
    path("analytics/channels/", views.channel_stats, name="channels"),
    path("analytics/channels/export/", views.export, name="export"),
    path("analytics/exports/<int:pk>/", views.export_status, name="export_status"),
    path("analytics/exports/<int:pk>/download/", views.export_download, name="export_download"),
]
