"""The branch console's merchant pages (namespace "merchants", mounted at the site root)."""

from django.urls import path

from .views import console

urlpatterns: list = [
    path(
        "console/applications/", console.review_queue, name="console_review_queue"
    ),
    path(
        "console/applications/<int:pk>/<str:action>/",
        console.application_decide,
        name="console_application_decide",
    ),
    path(
        "console/applications/documents/<int:pk>/",
        console.application_document,
        name="console_application_document",
    ),
    path("console/merchants/", console.merchant_list, name="console_merchant_list"),
    path(
        "console/merchants/map/stores/", console.store_map_data, name="console_store_map_data"
    ),
    path(
        "console/merchants/<int:pk>/", console.merchant_detail, name="console_merchant_detail"
    ),
    path(
        "console/merchants/<int:pk>/visits/", console.visit_create, name="console_visit_create"
    ),
    path(
        "console/merchants/<int:pk>/move/", console.store_move, name="console_store_move"
    ),
    path(
        "console/merchants/<int:pk>/close/", console.merchant_close, name="console_merchant_close"
    ),
    path(
        "console/merchants/<int:pk>/changes/<int:change_pk>/<str:action>/",
        console.profile_change_decide,
        name="console_profile_change_decide",
    ),
    path(
        "console/merchants/<int:pk>/<str:action>/",
        console.merchant_status,
        name="console_merchant_status",
    ),
]
