"""Payments' API under /api/payments/ (namespace "api:payments")."""

from django.urls import path

from . import apis

app_name = "payments"
urlpatterns = [
    path("notify/<str:channel>/", apis.notify, name="notify"),
    path("orders/", apis.OrderCreateApi.as_view(), name="order_create"),
    path("orders/<str:out_trade_no>/", apis.OrderDetailApi.as_view(), name="order"),
    path("orders/<str:out_trade_no>/refunds/", apis.RefundCreateApi.as_view(), name="refund_create"),
]
