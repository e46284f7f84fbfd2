from django.urls import path

from siyu.conversations import views

app_name = "conversations"

urlpatterns = [
    path("conversations/", views.archive, name="archive"),
    path("conversations/customer/<int:pk>/", views.customer_thread, name="customer"),
    path("conversations/staff/<int:pk>/", views.staff_thread, name="staff"),
    path("conversations/alerts/", views.alerts, name="alerts"),
    path("conversations/alerts/<int:pk>/review/", views.alert_review, name="alert_review"),
]
