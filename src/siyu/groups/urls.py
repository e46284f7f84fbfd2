from django.urls import path

from siyu.groups import group_views, views

app_name = "groups"
urlpatterns = [
    path("groups/", group_views.group_list, name="list"),
    path("groups/tags/", group_views.tag_create, name="tag_create"),
    path("groups/tags/<int:pk>/delete/", group_views.tag_delete, name="tag_delete"),
    path("groups/<int:pk>/tags/", group_views.group_tags, name="group_tags"),
    path("groups/codes/", views.code_list, name="codes"),
    path("groups/codes/new/", views.code_new, name="code_new"),
    path("groups/codes/<int:pk>/", views.code_detail, name="code_detail"),
    path("groups/codes/<int:pk>/edit/", views.code_edit, name="code_edit"),
    path("groups/codes/<int:pk>/qr.png", views.code_qr, name="code_qr"),
    path("groups/codes/<int:pk>/poster.png", views.code_poster, name="code_poster"),
    path("groups/codes/<int:pk>/<slug:action>/", views.code_action, name="code_action"),
    path("groups/store-codes/", views.store_code_list, name="store_codes"),
    path("groups/store-codes/new/", views.store_code_new, name="store_code_new"),
    path("groups/store-codes/stores/", views.store_locations, name="store_locations"),
    path("groups/store-codes/stores/<int:pk>/", views.store_location_edit, name="store_location_edit"),
    path("groups/store-codes/<int:pk>/", views.store_code_detail, name="store_code_detail"),
    path("groups/store-codes/<int:pk>/edit/", views.store_code_edit, name="store_code_edit"),
    path("groups/store-codes/<int:pk>/qr.png", views.store_code_qr, name="store_code_qr"),
    path("groups/store-codes/<int:pk>/poster.png", views.store_code_poster, name="store_code_poster"),
    path("groups/store-codes/<int:pk>/<slug:action>/", views.store_code_action, name="store_code_action"),
    # public pages a printed QR opens (no sign-in)
    path("h5/group/<slug:slug>/<str:public_id>/", views.group_landing, name="group_landing"),
    path("h5/store/<slug:slug>/<str:public_id>/", views.store_page, name="store_page"),
    path("h5/store/<slug:slug>/<str:public_id>/stores/", views.store_pick, name="store_pick"),
]
