from django.urls import path

from siyu.privacy import views

app_name = "privacy"
urlpatterns = [
    path("privacy/requests/", views.subject_requests, name="subject_requests"),
    path("privacy/requests/<int:pk>/download/", views.subject_export_download, name="subject_export_download"),
]
