from django.urls import path

from siyu.workbench import views

app_name = "workbench"

urlpatterns = [
    path("w/", views.home, name="home"),
    path("w/customers/", views.customers, name="customers"),
    path("w/posters/", views.my_posters, name="posters"),
    path("w/posters/team/", views.team_posters, name="team_posters"),
    path("w/posters/<int:pk>.png", views.poster_png, name="poster_png"),
    path("w/posters/<int:pk>/<int:member>.png", views.poster_png, name="member_poster_png"),
]
