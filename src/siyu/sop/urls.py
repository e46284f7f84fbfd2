from django.urls import path

from siyu.sop import mobile_views, views

app_name = "sop"
urlpatterns = [
    path("sop/", views.sop_list, name="list"),
    path("sop/new/", views.sop_edit, name="new"),
    path("sop/<int:pk>/", views.sop_edit, name="edit"),
    path("sop/<int:pk>/active/", views.sop_active, name="active"),
    path("sop/<int:pk>/report/", views.report, name="report"),
    path("sop/calendar/", views.calendar, name="calendar"),
    path("m/sop/", mobile_views.task_page, name="mobile"),
    path("m/sop/tasks/<int:pk>/done/", mobile_views.task_done, name="mobile_done"),
    path("m/sop/tasks/<int:pk>/send/", mobile_views.task_send, name="mobile_send"),
]
