from django.urls import path

from siyu.core import views

app_name = "core"
urlpatterns = [
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<int:pk>/progress/", views.job_progress, name="job_progress"),
]
