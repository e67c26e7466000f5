"""Payments' pages (pay, receipt, merchant takings, statements)."""

app_name = "payments"
urlpatterns: list = []
