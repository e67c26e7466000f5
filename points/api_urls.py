"""Points API, mounted at /api/points/ inside the "api" namespace."""

from django.urls import path

from . import apis

app_name = "points"
urlpatterns = [
    path("balance/", apis.BalanceApi.as_view(), name="balance"),
    path("history/", apis.HistoryApi.as_view(), name="history"),
    path("adjustments/", apis.AdjustmentApi.as_view(), name="adjustments"),
    path(
        "accounts/<int:customer_id>/history/",
        apis.CustomerHistoryApi.as_view(),
        name="customer_history",
    ),
]
