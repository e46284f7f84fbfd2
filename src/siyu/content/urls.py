from django.urls import path

from siyu.content import script_views, views

app_name = "content"

urlpatterns = [
    path("content/check/", views.check, name="check"),
    path("content/words/", views.words, name="words"),
    path("content/words/<int:pk>/remove/", views.word_remove, name="word_remove"),
    path("content/scripts/", script_views.library, name="scripts"),
    path("content/scripts/new/", script_views.edit, name="script_new"),
    path("content/scripts/usage/", script_views.usage, name="script_usage"),
    path("content/scripts/<int:pk>/edit/", script_views.edit, name="script_edit"),
    path("content/scripts/<int:pk>/submit/", script_views.submit, name="script_submit"),
    path("content/scripts/<int:pk>/review/", script_views.review, name="script_review"),
]
