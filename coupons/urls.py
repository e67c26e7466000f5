"""HTML pages of coupons: the customer's, the merchant's and the branch console's."""

from . import console_urls, customer_urls, merchant_urls

app_name = "coupons"
urlpatterns = [*customer_urls.urlpatterns, *merchant_urls.urlpatterns, *console_urls.urlpatterns]
