from django.urls import path

from siyu.journeys import views

app_name = "journeys"

urlpatterns = [
    path("journeys/", views.list_view, name="list"),
    path("journeys/new/", views.new_view, name="new"),
    path("journeys/<int:pk>/", views.report_view, name="report"),
    path("journeys/<int:pk>/edit/", views.edit_view, name="edit"),
    path("journeys/<int:pk>/status/", views.status_view, name="status"),
]
