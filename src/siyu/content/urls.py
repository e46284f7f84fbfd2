from django.urls import path

from siyu.content import views

app_name = "content"

urlpatterns = [
    path("content/check/", views.check, name="check"),
    path("content/words/", views.words, name="words"),
    path("content/words/<int:pk>/remove/", views.word_remove, name="word_remove"),
]
