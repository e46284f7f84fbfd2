from django.urls import path

from siyu.customers import views

app_name = "customers"
urlpatterns = [
    path("customers/", views.customer_list, name="list"),
    path("customers/bulk/", views.customer_bulk, name="bulk"),
    path("customers/jobs/<int:pk>/", views.job_progress, name="job_progress"),
    path("customers/jobs/<int:pk>/download/", views.export_download, name="export_download"),
    path("customers/<int:pk>/", views.customer_detail, name="detail"),
    path("customers/<int:pk>/timeline/", views.timeline_more, name="timeline"),
    path("customers/<int:pk>/notes/", views.note_add, name="note_add"),
    path("customers/<int:pk>/follow-ups/", views.follow_up_add, name="follow_up_add"),
    path("customers/<int:pk>/follow-ups/<int:follow_up_pk>/close/", views.follow_up_close, name="follow_up_close"),
    path("customers/<int:pk>/tags/", views.tag_add, name="tag_add"),
    path("customers/<int:pk>/tags/<int:tag_pk>/remove/", views.tag_remove, name="tag_remove"),
    path("tags/", views.tags_page, name="tags"),
    path("tags/groups/", views.tag_group_create, name="tag_group_create"),
    path("tags/groups/<int:pk>/", views.tag_group_action, name="tag_group_action"),
    path("tags/<int:pk>/", views.tag_action, name="tag_action"),
    path("tags/sync/", views.tags_sync, name="tags_sync"),
    path("tags/personal/", views.personal_tags, name="personal_tags"),
    path("tags/protected/", views.protected_labels, name="protected_labels"),
]
