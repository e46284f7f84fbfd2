from django.urls import path

from siyu.cdp import person_views as views

app_name = "persons"
urlpatterns = [
    path("persons/", views.person_list, name="list"),
    path("persons/<int:pk>/", views.person_detail, name="detail"),
    path("persons/<int:pk>/refresh/", views.person_refresh, name="refresh"),
    path("persons/merges/<int:pk>/split/", views.merge_split, name="split"),
    path("persons/reviews/", views.review_list, name="reviews"),
    path("persons/reviews/<int:pk>/", views.review_decide, name="review_decide"),
    path("persons/blocked/", views.blocked_list, name="blocked"),
    path("persons/blocked/<int:pk>/delete/", views.blocked_delete, name="blocked_delete"),
]
