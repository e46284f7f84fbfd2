from django.urls import path

from siyu.sidebar import harness_views, views

app_name = "sidebar"

urlpatterns = [
    path("s/", views.entry, name="entry"),
    path("s/harness/", harness_views.page, name="harness"),
    path("s/harness/sim/<slug:action>/", harness_views.relay, name="harness_relay"),
    path("s/c/<str:external_userid>/", views.customer, name="customer"),
    path("s/c/<str:external_userid>/library/", views.library, name="library"),
    path("s/c/<str:external_userid>/tags/", views.tag_add, name="tag_add"),
    path("s/c/<str:external_userid>/tags/<int:tag_pk>/remove/", views.tag_remove, name="tag_remove"),
    path("s/c/<str:external_userid>/stage/", views.stage_move, name="stage_move"),
    path("s/c/<str:external_userid>/notes/", views.note_add, name="note_add"),
    path("s/c/<str:external_userid>/follow-ups/", views.follow_up_add, name="follow_up_add"),
    path("s/c/<str:external_userid>/send/", views.send, name="send"),
    path("s/g/<str:chat_id>/", views.group, name="group"),
]
