"""Payments: the stores' payment QRs, payment orders, refunds, every notification a channel
sent us, and the history of every order's state.

An order moves created -> paying -> paid / failed / closed, then partly_refunded / refunded.
Its money is integer fen and always adds up: ``amount_fen`` (what the channel charges) is
``gross_fen - coupon_discount_fen - points_fen`` (a database constraint), and refunds never
pass it (``refunded_fen + refund_pending_fen <= amount_fen``). A coupon and points are held
from the order's creation (the coupon verified against the order, the points spent) and given
back if it fails or closes; see ``payments.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from merchants.models import Immutable, Merchant, Store

User = settings.AUTH_USER_MODEL


def _in(field: str, choices) -> Q:
    return Q(**{f"{field}__in": [c.value for c in choices]})


class Channel(models.TextChoices):
    BANK_CARD = "bank_card", _("Our bank's card")
    UNIONPAY = "unionpay", _("UnionPay QuickPass")
    WECHAT = "wechat", _("WeChat Pay")
    ALIPAY = "alipay", _("Alipay")
    # Paid in full by coupon and points: no channel is involved.
    NONE = "none", _("Coupon and points only")


class QRKind(models.TextChoices):
    STATIC = "static", _("Store QR")
    ONE_OFF = "one_off", _("One-off QR")


class PaymentQR(models.Model):
    """A QR that opens the pay page: one static QR per store (the printed poster), or a
    cashier's one-off QR for a fixed amount that expires and pays once."""

    Kind = QRKind

    token = models.CharField(max_length=32, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="payment_qrs")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="payment_qrs")
    amount_fen = models.PositiveIntegerField(_("amount (fen)"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=60, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment QR")
        verbose_name_plural = _("payment QRs")
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(fields=["token"], name="paymentqr_token_unique"),
            models.CheckConstraint(condition=_in("kind", QRKind), name="paymentqr_kind_valid"),
            models.UniqueConstraint(
                fields=["store"],
                condition=Q(kind="static", is_active=True),
                name="paymentqr_one_static_per_store",
            ),
            models.CheckConstraint(
                condition=Q(kind="static", amount_fen__isnull=True, expires_at__isnull=True)
                | Q(kind="one_off", amount_fen__gt=0, expires_at__isnull=False),
                name="paymentqr_one_off_has_amount_and_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.store_id}"


class OrderStatus(models.TextChoices):
    CREATED = "created", _("Created")
    PAYING = "paying", _("Waiting for payment")
    PAID = "paid", pgettext_lazy("payment", "Paid")
    FAILED = "failed", pgettext_lazy("payment", "Failed")
    CLOSED = "closed", pgettext_lazy("payment", "Closed")
    PARTLY_REFUNDED = "partly_refunded", _("Partly refunded")
    REFUNDED = "refunded", pgettext_lazy("payment", "Refunded")


class OrderKind(models.TextChoices):
    PAYMENT = "payment", _("Payment at a store")
    VOUCHER = "voucher", _("Paid voucher bought")


class PaymentOrder(models.Model):
    """One payment at a store (or the purchase of a paid voucher)."""

    Status = OrderStatus
    Channel = Channel
    Kind = OrderKind

    OPEN = (OrderStatus.CREATED, OrderStatus.PAYING)
    PAID_STATES = (OrderStatus.PAID, OrderStatus.PARTLY_REFUNDED, OrderStatus.REFUNDED)

    out_trade_no = models.CharField(_("order number"), max_length=32, editable=False)
    idempotency_key = models.CharField(max_length=64)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="payments")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="payments")
    qr = models.ForeignKey(
        PaymentQR, on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    customer = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.PAYMENT)
    # A paid voucher bought: its template (one taken from its stock while unpaid) and, once
    # paid, the coupon issued to the buyer.
    voucher_template = models.ForeignKey(
        "coupons.CouponTemplate", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    voucher_coupon = models.OneToOneField(
        "coupons.Coupon", on_delete=models.PROTECT, null=True, blank=True, related_name="purchase"
    )

    gross_fen = models.PositiveIntegerField(_("amount (fen)"))
    coupon_verification = models.OneToOneField(
        "coupons.Verification",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment",
    )
    coupon_discount_fen = models.PositiveIntegerField(_("coupon discount (fen)"), default=0)
    # Who pays for the coupon's discount: the merchant, or a bank campaign (a subsidy owed to
    # the merchant at settlement).
    coupon_campaign = models.ForeignKey(
        "coupons.Campaign", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    points_used = models.PositiveIntegerField(_("points used"), default=0)
    points_fen = models.PositiveIntegerField(_("points deduction (fen)"), default=0)
    points_spend_entry_id = models.BigIntegerField(null=True, blank=True)  # points.JournalEntry
    amount_fen = models.PositiveIntegerField(_("to pay (fen)"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)

    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.CREATED
    )
    pay_url = models.CharField(max_length=500, blank=True)
    transaction_id = models.CharField(_("channel transaction"), max_length=64, blank=True)
    expires_at = models.DateTimeField(_("pay before"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # A payment the channel reported after we had closed the order: refunded automatically.
    late_payment = models.BooleanField(_("paid after closing"), default=False)

    points_earned = models.PositiveIntegerField(_("points earned"), default=0)
    points_earn_entry_id = models.BigIntegerField(null=True, blank=True)  # points.JournalEntry
    points_returned = models.PositiveIntegerField(_("points given back"), default=0)
    points_reversed = models.PositiveIntegerField(_("earned points taken back"), default=0)

    fee_rate_bp = models.PositiveIntegerField(_("fee rate (basis points)"), default=0)
    fee_fen = models.PositiveIntegerField(_("fee (fen)"), default=0)
    refunded_fen = models.PositiveIntegerField(_("refunded (fen)"), default=0)
    refund_pending_fen = models.PositiveIntegerField(_("refund in progress (fen)"), default=0)

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="payment_merchant_recent"),
            models.Index(fields=["customer", "-created_at"], name="payment_customer_recent"),
            models.Index(fields=["status", "expires_at"], name="payment_open_expiry"),
            models.Index(fields=["paid_at"], name="payment_paid_at"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["out_trade_no"], name="payment_out_trade_no_unique"),
            models.UniqueConstraint(fields=["idempotency_key"], name="payment_key_unique"),
            models.CheckConstraint(condition=_in("status", OrderStatus), name="payment_status_valid"),
            models.CheckConstraint(condition=_in("channel", Channel), name="payment_channel_valid"),
            models.CheckConstraint(condition=_in("kind", OrderKind), name="payment_kind_valid"),
            models.CheckConstraint(
                condition=Q(kind="payment", voucher_template__isnull=True)
                | Q(kind="voucher", voucher_template__isnull=False, customer__isnull=False,
                    coupon_verification__isnull=True, points_used=0),
                name="payment_voucher_has_template",
            ),
            models.CheckConstraint(condition=Q(gross_fen__gt=0), name="payment_gross_positive"),
            models.CheckConstraint(
                condition=Q(
                    amount_fen=F("gross_fen") - F("coupon_discount_fen") - F("points_fen")
                ),
                name="payment_amount_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(refunded_fen__lte=F("amount_fen") - F("refund_pending_fen")),
                name="payment_refunds_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(points_returned__lte=F("points_used"))
                & Q(points_reversed__lte=F("points_earned")),
                name="payment_points_within",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["paid", "partly_refunded", "refunded"])
                | Q(paid_at__isnull=False),
                name="payment_paid_has_time",
            ),
            models.CheckConstraint(
                condition=Q(amount_fen__gt=0) | Q(channel="none"),
                name="payment_channel_when_charged",
            ),
            # A one-off QR pays once.
            models.UniqueConstraint(
                fields=["qr"],
                condition=Q(status__in=["paid", "partly_refunded", "refunded"], late_payment=False)
                & Q(qr__isnull=False),
                name="payment_one_off_qr_pays_once",
            ),
        ]

    def __str__(self) -> str:
        return self.out_trade_no

    @property
    def refundable_fen(self) -> int:
        return self.amount_fen - self.refunded_fen - self.refund_pending_fen

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class OrderEvent(Immutable):
    """Every change of an order's state: who (a customer, merchant staff, the system, the
    channel), from, to, why."""

    order = models.ForeignKey(PaymentOrder, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+")
    source = models.CharField(max_length=16)  # customer / merchant / system / gateway
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Requested")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Refunded")
    FAILED = "failed", pgettext_lazy("refund", "Failed")


class Refund(models.Model):
    """A refund of (part of) an order, to the channel it was paid with, asynchronous like the
    payment. ``out_refund_no`` is what the channel knows; ``idempotency_key`` what the client
    sent (one refund per order and key)."""

    Status = RefundStatus

    out_refund_no = models.CharField(_("refund number"), max_length=32, editable=False)
    idempotency_key = models.CharField(max_length=64)
    order = models.ForeignKey(PaymentOrder, on_delete=models.PROTECT, related_name="refunds")
    amount_fen = models.PositiveIntegerField(_("amount (fen)"))
    reason = models.CharField(_("reason"), max_length=200)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    requested_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    automatic = models.BooleanField(_("automatic"), default=False)
    refund_id = models.CharField(_("channel refund"), max_length=64, blank=True)
    failure = models.CharField(max_length=200, blank=True)
    points_returned = models.PositiveIntegerField(_("points given back"), default=0)
    points_reversed = models.PositiveIntegerField(_("earned points taken back"), default=0)
    points_shortfall = models.PositiveIntegerField(_("points that could not be taken back"), default=0)
    coupon_restored = models.BooleanField(_("coupon given back"), default=False)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    succeeded_at = models.DateTimeField(_("refunded"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-pk"]
        indexes = [models.Index(fields=["succeeded_at"], name="refund_succeeded_at")]
        constraints = [
            models.UniqueConstraint(fields=["out_refund_no"], name="refund_out_refund_no_unique"),
            models.UniqueConstraint(fields=["order", "idempotency_key"], name="refund_key_unique"),
            models.CheckConstraint(condition=_in("status", RefundStatus), name="refund_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(succeeded_at__isnull=False),
                name="refund_succeeded_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.out_refund_no


class GatewayNotification(Immutable):
    """Every notification a channel POSTed to us, whatever became of it: the evidence for
    disputes and the on-call engineer's first look."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", _("Applied")
        DUPLICATE = "duplicate", _("Duplicate (nothing changed)")
        LATE = "late", _("Paid after closing (refunded automatically)")
        REJECTED = "rejected", _("Rejected")

    channel = models.CharField(max_length=16)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    code = models.CharField(max_length=40, blank=True)  # why it was rejected
    event_id = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=16, blank=True)  # payment / refund
    out_trade_no = models.CharField(max_length=32, blank=True)
    out_refund_no = models.CharField(max_length=32, blank=True)
    order = models.ForeignKey(
        PaymentOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    headers = models.JSONField(default=dict)
    body = models.TextField()
    resource = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["out_trade_no"], name="notification_trade")]

    def __str__(self) -> str:
        return f"{self.channel} {self.kind} {self.out_trade_no}: {self.outcome}"


# Settlement and reconciliation (payments/models_settlement.py).
from .models_settlement import *  # noqa: E402, F401, F403
