from django.urls import path

from siyu.workbench import views

app_name = "workbench"

urlpatterns = [
    path("w/", views.home, name="home"),
    path("w/customers/", views.customers, name="customers"),
]
