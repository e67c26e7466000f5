"""Payments' API under /api/payments/ (orders, refunds, the channels' notify endpoint)."""

urlpatterns: list = []
