from django.urls import path

from siyu.channels import views

app_name = "channels"
urlpatterns = [
    path("channels/", views.code_list, name="list"),
    path("channels/new/", views.code_new, name="new"),
    path("channels/<int:pk>/", views.code_detail, name="detail"),
    path("channels/<int:pk>/edit/", views.code_edit, name="edit"),
    path("channels/<int:pk>/qr.png", views.code_qr, {"kind": "png"}, name="qr_png"),
    path("channels/<int:pk>/qr.svg", views.code_qr, {"kind": "svg"}, name="qr_svg"),
    path("channels/<int:pk>/poster.png", views.code_poster, name="poster"),
    path("channels/<int:pk>/<slug:action>/", views.code_action, name="action"),
    path("channels/welcome/", views.welcome_list, name="welcome"),
    path("channels/welcome/new/", views.welcome_new, name="welcome_new"),
    path("channels/welcome/<int:pk>/", views.welcome_edit, name="welcome_edit"),
    path("channels/welcome/<int:pk>/delete/", views.welcome_delete, name="welcome_delete"),
    path("c/<slug:slug>/<str:public_id>/", views.landing, name="landing"),
]
