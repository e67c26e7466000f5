"""The customer pages of coupons (HTML, namespace "coupons") and their API (namespace "api:coupons")."""

from django.urls import path

from .apis import customer as apis
from .views import customer as views

urlpatterns: list = [
    path("offers/", views.offers, name="offers"),
    path("offers/merchant/<int:merchant_id>/", views.merchant, name="offer_merchant"),
    path("offers/coupon/<int:template_id>/", views.coupon, name="offer_coupon"),
    path("offers/coupon/<int:template_id>/claim/", views.claim, name="offer_claim"),
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/<int:coupon_id>/", views.wallet_coupon, name="wallet_coupon"),
]
api_urlpatterns: list = [
    path("offers/", apis.OfferListApi.as_view(), name="customer_offers"),
    path("templates/<int:pk>/", apis.TemplateDetailApi.as_view(), name="customer_template"),
    path("templates/<int:pk>/claim/", apis.claim, name="customer_claim"),
    path("templates/<int:pk>/exchange/", apis.ExchangeApi.as_view(), name="customer_exchange"),
    path("wallet/", apis.WalletApi.as_view(), name="customer_wallet"),
    path("wallet/<int:pk>/", apis.WalletCouponApi.as_view(), name="customer_wallet_coupon"),
    path("wallet/<int:pk>/token/", apis.WalletTokenApi.as_view(), name="customer_wallet_token"),
]
