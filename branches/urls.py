from django.urls import path

from . import views

app_name = "branches"
urlpatterns = [
    path("branches/", views.branch_list, name="list"),
    path("branches/new/", views.branch_create, name="create"),
    path("branches/<int:pk>/", views.branch_detail, name="detail"),
    path("branches/<int:pk>/edit/", views.branch_edit, name="edit"),
    path("branches/<int:pk>/close/", views.branch_close, name="close"),
    path("branches/<int:pk>/reopen/", views.branch_reopen, name="reopen"),
    path("map/", views.grid_map, name="map"),
    path("map/data/", views.grid_map_data, name="map_data"),
]
