"""The sandbox gateway's URLs, under /sandbox-gateway/ (see ``views``): the WeChat Pay API v3
paths the adapter calls (``v3/...``) and the payer's hosted page (``pay/<prepay_id>/``)."""

from django.urls import path

from . import views

app_name = "sandbox_gateway"
urlpatterns = [
    path("v3/pay/partner/transactions/h5", views.h5_create, name="h5_create"),
    path(
        "v3/pay/partner/transactions/out-trade-no/<str:out_trade_no>",
        views.trade_query,
        name="trade_query",
    ),
    path(
        "v3/pay/partner/transactions/out-trade-no/<str:out_trade_no>/close",
        views.trade_close,
        name="trade_close",
    ),
    path("v3/refund/domestic/refunds", views.refund_create, name="refund_create"),
    path("v3/refund/domestic/refunds/<str:out_refund_no>", views.refund_query, name="refund_query"),
    path("v3/bill/tradebill", views.tradebill, name="tradebill"),
    path("v3/billdownload/file", views.bill_download, name="bill_download"),
    path("pay/<str:prepay_id>/", views.pay_page, name="pay"),
]
