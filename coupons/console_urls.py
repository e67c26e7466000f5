"""The console pages of coupons (HTML, namespace "coupons") and their API (namespace "api:coupons")."""

from django.urls import path

from .views import console

urlpatterns: list = [
    path("console/coupons/", console.template_queue, name="console_template_queue"),
    path("console/coupons/<int:pk>/", console.template_detail, name="console_template_detail"),
    path(
        "console/coupons/<int:pk>/<str:action>/",
        console.template_decide,
        name="console_template_decide",
    ),
    path("console/campaigns/", console.campaign_list, name="console_campaign_list"),
    path("console/campaigns/new/", console.campaign_create, name="console_campaign_create"),
    path("console/campaigns/<int:pk>/", console.campaign_detail, name="console_campaign_detail"),
    path(
        "console/campaigns/<int:pk>/budget/",
        console.campaign_budget,
        name="console_campaign_budget",
    ),
    path(
        "console/campaigns/<int:pk>/close/", console.campaign_close, name="console_campaign_close"
    ),
]
api_urlpatterns: list = []
