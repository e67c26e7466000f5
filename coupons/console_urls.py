"""The console pages of coupons (HTML, namespace "coupons") and their API (namespace "api:coupons")."""

urlpatterns: list = []
api_urlpatterns: list = []
