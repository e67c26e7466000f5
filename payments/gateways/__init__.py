"""Payment channels behind one interface (``base.Gateway``); ``gateway_for`` picks the adapter
that settings name for a channel."""

from .base import (
    Gateway,
    GatewayError,
    Notification,
    NotificationRejected,
    Prepay,
    RefundState,
    StatementLine,
    TradeState,
    gateway_for,
)

__all__ = [
    "Gateway",
    "GatewayError",
    "Notification",
    "NotificationRejected",
    "Prepay",
    "RefundState",
    "StatementLine",
    "TradeState",
    "gateway_for",
]
