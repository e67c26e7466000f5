from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

api_patterns = [
    path("auth/", include("accounts.api_urls")),
    path("", include("branches.api_urls")),
    path("merchants/", include("merchants.api_urls")),
    path("points/", include("points.api_urls")),
    path("coupons/", include("coupons.api_urls")),
    path("payments/", include("payments.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("health/", views.health, name="health"),
]

urlpatterns = [
    # First: the API is where the load is (a flash sale's claims), and the empty-prefix
    # includes below would each be tried before it.
    path("api/", include((api_patterns, "api"))),
    path("", views.home, name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("accounts.urls")),
    path("console/", include("branches.urls")),
    path("", include("merchants.urls")),
    path("points/", include("points.urls")),
    path("", include("coupons.urls")),
    path("", include("payments.urls")),
    path("", include("payments.settlement_urls")),
    # Django admin's own login would skip TOTP and the lock-out: staff sign in in one place.
    path(
        "admin/login/",
        RedirectView.as_view(pattern_name="accounts:staff_login", query_string=True),
    ),
    path("admin/", admin.site.urls),
]

# The sandbox payment gateway stands in for the real channels (not served in production).
if settings.SANDBOX_GATEWAY_ENABLED:
    urlpatterns.append(path("sandbox-gateway/", include("sandbox_gateway.urls")))

# Uploaded files in the local demo only (DEBUG); production serves them from its storage.
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
