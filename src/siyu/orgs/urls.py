from django.urls import path

from siyu.orgs import apikey_views, password_views, staff_views, views

app_name = "orgs"
urlpatterns = [
    path("stores/", views.stores, name="stores"),
    path("stores/new/", views.store_new, name="store_new"),
    path("stores/<int:pk>/", views.store_detail, name="store"),
    path("stores/<int:pk>/active/", views.store_set_active, name="store_set_active"),
    path("members/", views.members, name="members"),
    path("members/new/", views.member_new, name="member_new"),
    path("members/invite/", views.member_invite, name="member_invite"),
    path("invite/<str:token>/", views.invitation, name="invitation"),
    path("members/<int:pk>/", views.member_detail, name="member"),
    path("members/<int:pk>/active/", views.member_set_active, name="member_set_active"),
    path("members/<int:pk>/unlock/", views.member_unlock, name="member_unlock"),
    path("members/<int:pk>/reset-link/", password_views.member_reset_link, name="member_reset_link"),
    path("account/password/", password_views.change, name="password_change"),
    path("password-reset/<str:token>/", password_views.reset, name="password_reset"),
    path("audit/", views.audit_log, name="audit"),
    path("staff/", staff_views.staff_list, name="staff"),
    path("staff/<int:pk>/", staff_views.staff_detail, name="staff_detail"),
    path("staff/<int:pk>/groups/", staff_views.staff_groups_transfer, name="staff_groups_transfer"),
    path("transfers/", staff_views.transfers, name="transfers"),
    path("api-keys/", apikey_views.api_keys, name="apikeys"),
    path("api-keys/<int:pk>/revoke/", apikey_views.api_key_revoke, name="apikey_revoke"),
]
