from django.urls import path

from siyu.privacy import consent_views, views

app_name = "privacy"
urlpatterns = [
    path("privacy/requests/", views.subject_requests, name="subject_requests"),
    path("privacy/requests/<int:pk>/download/", views.subject_export_download, name="subject_export_download"),
    path("privacy/notices/", consent_views.notices, name="notices"),
    path("privacy/consents/import/", consent_views.consent_import, name="consent_import"),
    path("privacy/consents/import/<int:pk>/", consent_views.consent_import_report, name="consent_import_report"),
    # the customer's own consent page, opened from a signed link (no sign-in)
    path("h5/consent/<str:token>/", consent_views.consent_page, name="consent_page"),
]
