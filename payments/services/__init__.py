"""Every write of the payments domain (see the modules for the rules each one keeps)."""

from .notifications import notification_receive
from .orders import (
    PaymentMismatch,
    order_apply_trade,
    order_buy_voucher,
    order_create,
    order_settle_open,
    order_start_payment,
    orders_close_expired,
    points_cap,
)
from .qrs import qr_for_store, qr_one_off_create
from .refunds import refund_apply_state, refund_request, refund_submit, vouchers_refund_expired

__all__ = [
    "PaymentMismatch",
    "notification_receive",
    "order_apply_trade",
    "order_buy_voucher",
    "order_create",
    "order_settle_open",
    "order_start_payment",
    "orders_close_expired",
    "points_cap",
    "qr_for_store",
    "qr_one_off_create",
    "refund_apply_state",
    "refund_request",
    "refund_submit",
    "vouchers_refund_expired",
]
