"""Merchant application API, mounted at /api/merchants/ inside the "api" namespace."""

from django.urls import path

from . import apis

app_name = "merchants"
urlpatterns = [
    path("applications/", apis.ApplicationListApi.as_view(), name="application_list"),
    path("applications/<int:pk>/", apis.ApplicationDetailApi.as_view(), name="application_detail"),
    path(
        "applications/<int:pk>/documents/",
        apis.ApplicationDocumentApi.as_view(),
        name="application_documents",
    ),
    path(
        "applications/documents/<int:pk>/",
        apis.ApplicationDocumentDeleteApi.as_view(),
        name="application_document",
    ),
    path(
        "applications/<int:pk>/submit/",
        apis.ApplicationSubmitApi.as_view(),
        name="application_submit",
    ),
    path(
        "applications/<int:pk>/status/",
        apis.ApplicationStatusApi.as_view(),
        name="application_status",
    ),
    path(
        "applications/<int:pk>/approve/",
        apis.ApplicationApproveApi.as_view(),
        name="application_approve",
    ),
    path(
        "applications/<int:pk>/reject/",
        apis.ApplicationRejectApi.as_view(),
        name="application_reject",
    ),
    path(
        "applications/<int:pk>/return/",
        apis.ApplicationReturnApi.as_view(),
        name="application_return",
    ),
    path("review-queue/", apis.ReviewQueueApi.as_view(), name="review_queue"),
]
urlpatterns += [
    path("", apis.MerchantListApi.as_view(), name="merchant_list"),
    path("<int:pk>/", apis.MerchantDetailApi.as_view(), name="merchant_detail"),
    path("<int:pk>/suspend/", apis.MerchantSuspendApi.as_view(), name="merchant_suspend"),
    path("<int:pk>/reinstate/", apis.MerchantReinstateApi.as_view(), name="merchant_reinstate"),
    path("<int:pk>/close/", apis.MerchantCloseApi.as_view(), name="merchant_close"),
    path("<int:pk>/visits/", apis.MerchantVisitsApi.as_view(), name="merchant_visits"),
    path("<int:pk>/profile/", apis.ProfileApi.as_view(), name="merchant_profile"),
    path(
        "<int:pk>/change-requests/", apis.ChangeRequestApi.as_view(), name="change_request_create"
    ),
    path(
        "change-requests/<int:pk>/decide/",
        apis.ChangeRequestDecideApi.as_view(),
        name="change_request_decide",
    ),
    path("staff/", apis.StaffApi.as_view(), name="staff"),
]
