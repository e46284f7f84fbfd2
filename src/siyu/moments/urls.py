from django.urls import path

from siyu.moments import views

app_name = "moments"

urlpatterns = [
    path("moments/", views.list_view, name="list"),
    path("moments/settings/", views.settings_view, name="settings"),
    path("moments/new/", views.new_view, name="new"),
    path("moments/<int:pk>/", views.detail_view, name="detail"),
    path("moments/<int:pk>/edit/", views.edit_view, name="edit"),
    path("moments/<int:pk>/schedule/", views.schedule_view, name="schedule"),
    path("moments/<int:pk>/cancel/", views.cancel_view, name="cancel"),
    path("moments/<int:pk>/results/", views.results_view, name="results"),
    path("moments/<int:pk>/media/<int:media_pk>/", views.media_view, name="media"),
]
