"""API of coupons (mounted at /api/coupons/, namespace "api:coupons")."""

from . import console_urls, customer_urls, merchant_urls

app_name = "coupons"
urlpatterns = [
    *customer_urls.api_urlpatterns,
    *merchant_urls.api_urlpatterns,
    *console_urls.api_urlpatterns,
]
