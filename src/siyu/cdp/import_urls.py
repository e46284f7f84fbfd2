from django.urls import path

from siyu.cdp import import_views

app_name = "imports"
urlpatterns = [
    path("orders/imports/", import_views.imports, name="list"),
    path("orders/imports/<int:pk>/", import_views.detail, name="detail"),
    path("orders/imports/<int:pk>/status/", import_views.status, name="status"),
    path("orders/imports/mappings/new/", import_views.mapping_new, name="mapping_new"),
]
