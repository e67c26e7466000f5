"""The sandbox channel's own books: trades, refunds, notification deliveries, statements.

These stand for the channel's side of the world. Our payments code never imports them: it
reaches the sandbox only over the WeChat Pay API v3 protocol (``payments.gateways.
wechatpay_v3``). States and field names follow the channel's words (``NOTPAY``,
``SUCCESS``...), not ours.

Amounts are integer fen.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Trade(models.Model):
    """One trade opened by ``POST /v3/pay/partner/transactions/h5``. Unique per service
    provider, sub-merchant and ``out_trade_no``, as on the channel."""

    class State(models.TextChoices):
        NOTPAY = "NOTPAY", _("Not paid")
        USERPAYING = "USERPAYING", _("Payer is paying")
        SUCCESS = "SUCCESS", _("Paid")
        PAYERROR = "PAYERROR", _("Payment failed")
        CLOSED = "CLOSED", _("Closed")
        REFUND = "REFUND", _("Refunded")

    sp_mchid = models.CharField(_("service provider merchant id"), max_length=32)
    sp_appid = models.CharField(_("service provider app id"), max_length=32)
    sub_mchid = models.CharField(_("sub-merchant id"), max_length=32)
    out_trade_no = models.CharField(_("out trade number"), max_length=32)
    prepay_id = models.CharField(_("prepay id"), max_length=64, unique=True)
    description = models.CharField(_("description"), max_length=127)
    total_fen = models.BigIntegerField(_("total (fen)"))
    currency = models.CharField(_("currency"), max_length=16, default="CNY")
    notify_url = models.URLField(_("notify URL"), max_length=256)
    time_expire = models.DateTimeField(_("expires at"), null=True, blank=True)
    # SHA-256 of the order's content: the same out_trade_no again with the same content is
    # the same order (the same h5_url); with other content it is refused, as on the channel.
    request_digest = models.CharField(max_length=64)
    state = models.CharField(
        _("trade state"), max_length=16, choices=State.choices, default=State.NOTPAY
    )
    transaction_id = models.CharField(_("transaction id"), max_length=32, blank=True)
    payer_total_fen = models.BigIntegerField(_("payer paid (fen)"), null=True, blank=True)
    refunded_fen = models.BigIntegerField(_("refunds accepted (fen)"), default=0)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("sandbox trade")
        verbose_name_plural = _("sandbox trades")
        constraints = [
            models.UniqueConstraint(
                fields=["sp_mchid", "sub_mchid", "out_trade_no"], name="sandbox_trade_once"
            ),
            models.UniqueConstraint(
                fields=["transaction_id"],
                condition=~Q(transaction_id=""),
                name="sandbox_trade_transaction_once",
            ),
            models.CheckConstraint(
                condition=Q(total_fen__gt=0), name="sandbox_trade_total_positive"
            ),
            # Refunds never exceed what was paid: the refund service's conditional update
            # checks it, this guarantees it.
            models.CheckConstraint(
                condition=Q(refunded_fen__gte=0) & Q(refunded_fen__lte=F("total_fen")),
                name="sandbox_trade_refunds_within_total",
            ),
        ]

    def __str__(self):
        return f"{self.sub_mchid}/{self.out_trade_no} {self.state}"


class Refund(models.Model):
    """One refund accepted by ``POST /v3/refund/domestic/refunds``; idempotent by
    ``out_refund_no`` within the service provider and sub-merchant."""

    class Status(models.TextChoices):
        PROCESSING = "PROCESSING", _("Processing")
        SUCCESS = "SUCCESS", _("Succeeded")
        ABNORMAL = "ABNORMAL", _("Abnormal")
        CLOSED = "CLOSED", _("Closed")

    trade = models.ForeignKey(Trade, on_delete=models.PROTECT, related_name="refunds")
    sp_mchid = models.CharField(_("service provider merchant id"), max_length=32)
    sub_mchid = models.CharField(_("sub-merchant id"), max_length=32)
    out_refund_no = models.CharField(_("out refund number"), max_length=64)
    refund_id = models.CharField(_("refund id"), max_length=32, unique=True)
    refund_fen = models.BigIntegerField(_("refund (fen)"))
    reason = models.CharField(_("reason"), max_length=80, blank=True)
    notify_url = models.URLField(_("notify URL"), max_length=256, blank=True)
    request_digest = models.CharField(max_length=64)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PROCESSING
    )
    # When a PROCESSING refund reaches its outcome ("a moment later", as on the channel).
    settle_at = models.DateTimeField(_("settles at"))
    # The outcome it reaches then (SUCCESS unless a fault says otherwise).
    outcome = models.CharField(max_length=16, choices=Status.choices, default=Status.SUCCESS)
    succeeded_at = models.DateTimeField(_("succeeded at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("sandbox refund")
        verbose_name_plural = _("sandbox refunds")
        constraints = [
            models.UniqueConstraint(
                fields=["sp_mchid", "sub_mchid", "out_refund_no"], name="sandbox_refund_once"
            ),
            models.CheckConstraint(condition=Q(refund_fen__gt=0), name="sandbox_refund_positive"),
        ]
        indexes = [models.Index(fields=["status", "settle_at"], name="sandbox_refund_due")]

    def __str__(self):
        return f"{self.out_refund_no} {self.status}"


class Fault(models.Model):
    """How the sandbox misbehaves for one ``out_trade_no`` (set by ``services.misbehave``);
    keyed by the number alone so a test can set it before the trade exists. In force until
    ``misbehave`` is called again or ``services.behave`` clears it."""

    out_trade_no = models.CharField(max_length=32, unique=True)
    duplicate = models.PositiveSmallIntegerField(default=0)  # extra identical copies per event
    delay_s = models.PositiveIntegerField(default=0)  # first attempt this much later
    reorder = models.BooleanField(default=False)  # hold an event until the next one is sent
    corrupt_signature = models.BooleanField(default=False)
    report_amount_fen = models.BigIntegerField(null=True, blank=True)
    statement_amount_fen = models.BigIntegerField(null=True, blank=True)
    drop_from_statement = models.BooleanField(default=False)
    never_notify = models.BooleanField(default=False)
    refund_outcome = models.CharField(
        max_length=16, choices=Refund.Status.choices, default=Refund.Status.SUCCESS
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sandbox fault")
        verbose_name_plural = _("sandbox faults")

    def __str__(self):
        return self.out_trade_no


class Delivery(models.Model):
    """One notification to be POSTed to a notify URL. Duplicates (a fault) are rows of their
    own with the same ``event_id`` and body and ``copy`` 1..N. The body is fixed when the
    event happens; the signature headers are made fresh at every attempt (the timestamp must
    be within five minutes when it arrives)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        HELD = "held", _("Held back (reordered)")
        DELIVERED = "delivered", _("Delivered")
        GAVE_UP = "gave_up", _("Gave up")
        SUPPRESSED = "suppressed", _("Never sent (fault)")

    trade = models.ForeignKey(Trade, on_delete=models.PROTECT, related_name="deliveries")
    refund = models.ForeignKey(
        Refund, on_delete=models.PROTECT, related_name="deliveries", null=True, blank=True
    )
    event_id = models.CharField(_("event id"), max_length=64)
    copy = models.PositiveSmallIntegerField(default=0)
    event_type = models.CharField(_("event type"), max_length=32)
    notify_url = models.URLField(_("notify URL"), max_length=256)
    body = models.TextField(_("body"))
    corrupt_signature = models.BooleanField(default=False)
    # The retry schedule's factor when the event happened (SANDBOX_GATEWAY_RETRY_SCALE), so a
    # worker in another process follows the schedule the caller asked for.
    retry_scale = models.FloatField(default=1.0)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("sandbox notification delivery")
        verbose_name_plural = _("sandbox notification deliveries")
        constraints = [
            models.UniqueConstraint(fields=["event_id", "copy"], name="sandbox_delivery_once")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="sandbox_delivery_due")]

    def __str__(self):
        return f"{self.event_type} {self.event_id}#{self.copy} {self.status}"


class DeliveryAttempt(models.Model):
    """One POST of a delivery and what came back (immutable)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # None: no answer
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="sandbox_attempt_once")
        ]

    def __str__(self):
        return f"{self.delivery_id} #{self.number} {self.status_code}"


class Bill(models.Model):
    """A trade bill as made for one ``GET /v3/bill/tradebill`` (a snapshot, as the channel's
    bill is), downloaded by its token."""

    token = models.CharField(max_length=64, unique=True)
    sp_mchid = models.CharField(max_length=32)
    sub_mchid = models.CharField(max_length=32, blank=True)  # blank: every sub-merchant
    bill_date = models.DateField()
    content = models.TextField()
    sha1 = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sandbox bill")
        verbose_name_plural = _("sandbox bills")

    def __str__(self):
        return f"{self.sp_mchid}/{self.sub_mchid or '*'} {self.bill_date}"
