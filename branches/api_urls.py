"""Branch and grid API, mounted at /api/ inside the "api" namespace."""

from django.urls import path

from . import apis

urlpatterns = [
    path("branches/", apis.BranchListApi.as_view(), name="branch_list"),
    path("branches/<int:pk>/", apis.BranchDetailApi.as_view(), name="branch_detail"),
    path("grid/owner/", apis.GridOwnerApi.as_view(), name="grid_owner"),
    path("grid/nearby/", apis.GridNearbyApi.as_view(), name="grid_nearby"),
]
