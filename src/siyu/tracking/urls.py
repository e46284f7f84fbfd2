from django.urls import path

from siyu.tracking import views

app_name = "tracking"

urlpatterns = [
    path("t/<str:token>/", views.page, name="page"),
    path("t/<str:token>/consent", views.choose, name="consent"),
    path("t/<str:token>/beat", views.beat, name="beat"),
    path("content/materials/<int:pk>/stats/", views.material_stats, name="material_stats"),
]
