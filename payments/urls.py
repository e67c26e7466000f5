"""Payments' pages: the pay page a QR opens and its receipt; the merchant's takings, payments,
refunds and QR posters."""

from django.urls import path

from .views import console, customer, merchant

app_name = "payments"
urlpatterns = [
    # Before pay/<token>/, which would take "orders" for a token.
    path("pay/orders/", customer.my_payments, name="my_payments"),
    path("pay/<str:token>/", customer.pay, name="pay"),
    path("pay/orders/<str:out_trade_no>/", customer.receipt, name="receipt"),
    path("pay/orders/<str:out_trade_no>/refund/", customer.refund_voucher, name="refund_voucher"),
    path("pay/vouchers/<int:template_id>/", customer.buy_voucher, name="buy_voucher"),
    path("console/payments/", console.payments, name="console_payments"),
    path("console/payments/<str:out_trade_no>/", console.payment, name="console_payment"),
    path("merchant/payments/", merchant.takings, name="merchant_takings"),
    path("merchant/payments/live/", merchant.takings_live, name="merchant_takings_live"),
    path("merchant/payments/qr/", merchant.qr_codes, name="merchant_qr"),
    path("merchant/payments/qr/<int:store_id>/poster.<str:fmt>", merchant.poster, name="merchant_poster"),
    path("merchant/payments/qr/one-off/", merchant.one_off, name="merchant_one_off"),
    path("merchant/payments/<str:out_trade_no>/", merchant.payment_detail, name="merchant_payment"),
    path("merchant/payments/<str:out_trade_no>/refund/", merchant.payment_refund, name="merchant_refund"),
]
