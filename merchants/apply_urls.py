"""The applicant's pages (under apply/) and the merchant dashboard (under merchant/)."""

from django.urls import path

from .views import apply, dashboard

urlpatterns = [
    path("apply/", apply.apply_start, name="apply"),
    path("apply/<int:pk>/", apply.apply_edit, name="apply_edit"),
    path("apply/<int:pk>/documents/", apply.apply_document_add, name="apply_document_add"),
    path(
        "apply/<int:pk>/documents/<int:document_id>/remove/",
        apply.apply_document_remove,
        name="apply_document_remove",
    ),
    path("apply/<int:pk>/submit/", apply.apply_submit, name="apply_submit"),
    path("apply/<int:pk>/status/", apply.apply_status, name="apply_status"),
    path("merchant/", dashboard.dashboard, name="dashboard"),
    path("merchant/profile/", dashboard.profile_edit, name="dashboard_profile"),
    path("merchant/stores/<int:store_id>/", dashboard.store_edit, name="dashboard_store"),
    path(
        "merchant/stores/<int:store_id>/photos/",
        dashboard.store_photo_add,
        name="dashboard_store_photo",
    ),
    path("merchant/change-request/", dashboard.change_request, name="dashboard_change_request"),
    path("merchant/history/", dashboard.history, name="dashboard_history"),
    path("merchant/staff/", dashboard.staff, name="dashboard_staff"),
]
