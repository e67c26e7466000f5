"""Settlement and reconciliation pages (namespace "settlement"): the merchant's under
/merchant/settlements/, the console's under /console/settlement/ and /console/reconciliation/."""

from django.urls import path

from . import settlement_views as views

app_name = "settlement"
urlpatterns = [
    path("merchant/settlements/", views.merchant_settlements, name="merchant_settlements"),
    path(
        "merchant/settlements/<int:settlement_id>/",
        views.merchant_statement,
        name="merchant_statement",
    ),
    path(
        "merchant/settlements/<int:settlement_id>/statement.csv",
        views.merchant_statement_csv,
        name="merchant_statement_csv",
    ),
    path("console/settlement/", views.console_batches, name="console_batches"),
    path("console/settlement/run/", views.console_run, name="console_run"),
    path("console/settlement/<int:batch_id>/", views.console_batch, name="console_batch"),
    path(
        "console/settlement/<int:batch_id>/payout.csv",
        views.console_payout_file,
        name="console_payout_file",
    ),
    path(
        "console/settlement/statements/<int:settlement_id>/",
        views.console_statement,
        name="console_statement",
    ),
    path(
        "console/settlement/statements/<int:settlement_id>/statement.csv",
        views.console_statement_csv,
        name="console_statement_csv",
    ),
    path("console/reconciliation/", views.console_reconciliation, name="console_reconciliation"),
    path(
        "console/reconciliation/<int:run_id>/",
        views.console_reconciliation_run,
        name="console_reconciliation_run",
    ),
    path(
        "console/reconciliation/<int:run_id>/statement.csv",
        views.console_reconciliation_file,
        name="console_reconciliation_file",
    ),
]
