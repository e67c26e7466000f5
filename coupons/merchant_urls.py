"""The merchant pages of coupons (HTML, namespace "coupons") and their API (namespace "api:coupons")."""

from django.urls import path

from .apis import merchant as apis
from .views import merchant as views

urlpatterns: list = [
    path("merchant/coupons/", views.template_list, name="merchant_templates"),
    path("merchant/coupons/new/", views.template_new, name="merchant_template_new"),
    path("merchant/coupons/<int:template_id>/", views.template_detail, name="merchant_template"),
    path(
        "merchant/coupons/<int:template_id>/edit/",
        views.template_edit,
        name="merchant_template_edit",
    ),
    path(
        "merchant/coupons/<int:template_id>/stock/",
        views.template_stock,
        name="merchant_template_stock",
    ),
    path(
        "merchant/coupons/<int:template_id>/<slug:action>/",
        views.template_action,
        name="merchant_template_action",
    ),
    path("merchant/coupons/verify/", views.verify, name="merchant_verify"),
    path("merchant/coupons/verify/inspect/", views.verify_inspect, name="merchant_verify_inspect"),
    path("merchant/coupons/verify/confirm/", views.verify_confirm, name="merchant_verify_confirm"),
    path(
        "merchant/coupons/verifications/<int:verification_id>/undo/",
        views.verification_undo,
        name="merchant_verification_undo",
    ),
    path(
        "merchant/coupons/issued/<int:coupon_id>/void/",
        views.coupon_void,
        name="merchant_coupon_void",
    ),
]

api_urlpatterns: list = [
    path("merchant/templates/", apis.TemplateListApi.as_view(), name="merchant_templates"),
    path(
        "merchant/templates/<int:pk>/", apis.TemplateDetailApi.as_view(), name="merchant_template"
    ),
    path(
        "merchant/templates/<int:pk>/history/",
        apis.TemplateHistoryApi.as_view(),
        name="merchant_template_history",
    ),
    path(
        "merchant/templates/<int:pk>/add-stock/",
        apis.TemplateAddStockApi.as_view(),
        name="merchant_template_add_stock",
    ),
    path(
        "merchant/templates/<int:pk>/set-stock/",
        apis.TemplateSetStockApi.as_view(),
        name="merchant_template_set_stock",
    ),
    path(
        "merchant/templates/<int:pk>/<str:action>/",
        apis.TemplateActionApi.as_view(),
        name="merchant_template_action",
    ),
    path("merchant/verify/inspect/", apis.VerifyInspectApi.as_view(), name="merchant_inspect"),
    path("merchant/verify/confirm/", apis.VerifyConfirmApi.as_view(), name="merchant_confirm"),
    path(
        "merchant/verifications/", apis.VerificationListApi.as_view(), name="merchant_verifications"
    ),
    path(
        "merchant/verifications/<int:pk>/undo/",
        apis.VerificationUndoApi.as_view(),
        name="merchant_verification_undo",
    ),
    path(
        "merchant/coupons/<int:pk>/void/", apis.CouponVoidApi.as_view(), name="merchant_coupon_void"
    ),
]
