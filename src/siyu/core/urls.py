from django.urls import path

from siyu.core import event_views, views

app_name = "core"
urlpatterns = [
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<int:pk>/progress/", views.job_progress, name="job_progress"),
    path("event-deliveries/", event_views.deliveries, name="event_deliveries"),
    path("event-deliveries/<int:pk>/redrive/", event_views.delivery_redrive, name="event_delivery_redrive"),
]
