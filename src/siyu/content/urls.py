from django.urls import path

from siyu.content import material_views, script_views, views

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
    path("content/materials/", material_views.library, name="materials"),
    path("content/materials/new/", material_views.new, name="material_new"),
    path("content/materials/new/<slug:kind>/", material_views.edit, name="material_create"),
    path("content/materials/<int:pk>/", material_views.preview, name="material_preview"),
    path("content/materials/<int:pk>/files/<slug:which>/", material_views.console_file, name="material_console_file"),
    path("content/materials/<int:pk>/edit/", material_views.edit, name="material_edit"),
    path("content/materials/<int:pk>/submit/", material_views.submit, name="material_submit"),
    path("content/materials/<int:pk>/review/", material_views.review, name="material_review"),
    path("h5/material/<str:token>/", material_views.public_page, name="material_public"),
    path("h5/material/<str:token>/<slug:which>/<str:name>", material_views.public_file, name="material_file"),
]
