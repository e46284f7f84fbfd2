from django.urls import path

from siyu.segments import views

app_name = "segments"
urlpatterns = [
    path("segments/", views.segment_list, name="list"),
    path("segments/new/", views.segment_new, name="new"),
    path("segments/count/", views.segment_count, name="count"),
    path("segments/<int:pk>/", views.segment_detail, name="detail"),
    path("segments/<int:pk>/edit/", views.segment_edit, name="edit"),
    path("segments/<int:pk>/refresh/", views.segment_refresh, name="refresh"),
    path("segments/<int:pk>/export/", views.segment_export, name="export"),
    path("segments/<int:pk>/sync/", views.segment_sync, name="sync"),
    path("segments/<int:pk>/delete/", views.segment_delete, name="delete"),
    path("segments/exports/<int:pk>/", views.export_download, name="export_download"),
]
