"""Settlement (T+1 batches, per-merchant settlements and the item behind every figure) and
reconciliation with the channels' daily statements.

Imported at the end of ``payments.models`` (``from .models_settlement import *``), so these are
models of the ``payments`` app. Every row here is history: written once, never changed (the
``Immutable`` base; on PostgreSQL a trigger refuses UPDATE and DELETE as well). Money is
integer fen; the rules that fill these rows are in ``payments.services.settlement`` and
``payments.services.reconciliation``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from merchants.crypto import EncryptedTextField
from merchants.models import Immutable

__all__ = [
    "DifferenceKind",
    "ReconciliationDifference",
    "ReconciliationRun",
    "Settlement",
    "SettlementAudit",
    "SettlementBatch",
    "SettlementItem",
]

User = settings.AUTH_USER_MODEL


def _in(field: str, choices) -> Q:
    return Q(**{f"{field}__in": [c.value for c in choices]})


class RunSource(models.TextChoices):
    SYSTEM = "system", _("Scheduled job")
    CONSOLE = "console", _("Head office (console)")
    COMMAND = "command", _("Command line")


class SettlementBatch(Immutable):
    """The settlement of one business day (Asia/Shanghai), all merchants: one per day.

    It settles every paid order and succeeded refund that had become final by ``cutoff`` (the
    end of ``day``) and was not settled before, so a late one lands in the first batch that runs
    after it. The totals are the sums of its settlements."""

    Source = RunSource

    day = models.DateField(_("business day"))
    cutoff = models.DateTimeField(_("settles what was final before"))
    source = models.CharField(_("run by"), max_length=16, choices=RunSource.choices)
    run_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    merchants = models.PositiveIntegerField(_("merchants"), default=0)
    payments = models.PositiveIntegerField(_("payments"), default=0)
    refunds = models.PositiveIntegerField(_("refunds"), default=0)
    gross_fen = models.BigIntegerField(_("paid in (fen)"), default=0)
    refunds_fen = models.BigIntegerField(_("refunded (fen)"), default=0)
    fee_fen = models.BigIntegerField(_("fees, net of fees given back (fen)"), default=0)
    subsidy_fen = models.BigIntegerField(_("campaign subsidies, net (fen)"), default=0)
    points_fen = models.BigIntegerField(_("points value, net (fen)"), default=0)
    payout_fen = models.BigIntegerField(_("paid out (fen)"), default=0)
    carried_out_fen = models.BigIntegerField(_("debt carried forward (fen)"), default=0)
    created_at = models.DateTimeField(_("run at"), auto_now_add=True)

    class Meta:
        verbose_name = _("settlement batch")
        verbose_name_plural = _("settlement batches")
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["day"], name="settlementbatch_one_per_day"),
            models.CheckConstraint(condition=_in("source", RunSource), name="settlementbatch_source_valid"),
            models.CheckConstraint(
                condition=Q(payout_fen__gte=0, carried_out_fen__gte=0),
                name="settlementbatch_payout_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d}"


class Settlement(Immutable):
    """One merchant's settlement in a batch: what it took in, gave back, paid in fees, is owed
    by bank campaigns and for points, the debt carried in, and the payout (never negative).

    ``net_fen`` = gross - refunds - fee + fee given back + subsidy - subsidy given back +
    points - points given back - carried in. A positive net is paid out; a negative one pays
    nothing and is carried to the merchant's next settlement (``carried_out_fen``), which
    names this one in ``carried_from`` (once: a debt is carried once). The settlement account
    is copied (encrypted) as it was at the batch, so the payout file never changes."""

    batch = models.ForeignKey(SettlementBatch, on_delete=models.PROTECT, related_name="settlements")
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="settlements"
    )
    reference = models.CharField(_("reference"), max_length=32)
    payments = models.PositiveIntegerField(_("payments"), default=0)
    refunds = models.PositiveIntegerField(_("refunds"), default=0)
    gross_fen = models.BigIntegerField(_("paid in (fen)"), default=0)
    refunds_fen = models.BigIntegerField(_("refunded (fen)"), default=0)
    fee_fen = models.BigIntegerField(_("fees (fen)"), default=0)
    fee_back_fen = models.BigIntegerField(_("fees given back (fen)"), default=0)
    subsidy_fen = models.BigIntegerField(_("campaign subsidies (fen)"), default=0)
    subsidy_back_fen = models.BigIntegerField(_("subsidies taken back (fen)"), default=0)
    points_fen = models.BigIntegerField(_("points value (fen)"), default=0)
    points_back_fen = models.BigIntegerField(_("points value given back (fen)"), default=0)
    carried_in_fen = models.BigIntegerField(_("debt carried in (fen)"), default=0)
    carried_from = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="carried_to"
    )
    net_fen = models.BigIntegerField(_("net (fen)"))
    payout_fen = models.BigIntegerField(_("payout (fen)"))
    carried_out_fen = models.BigIntegerField(_("debt carried forward (fen)"))
    settlement_bank = models.CharField(_("settlement bank"), max_length=100, blank=True)
    account_name = EncryptedTextField(_("settlement account name"), blank=True)
    account_number = EncryptedTextField(_("settlement account number"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
        ordering = ["-batch__day", "merchant_id"]
        indexes = [models.Index(fields=["merchant", "-batch"], name="settlement_merchant_recent")]
        constraints = [
            models.UniqueConstraint(fields=["batch", "merchant"], name="settlement_once_per_batch"),
            models.UniqueConstraint(fields=["reference"], name="settlement_reference_unique"),
            models.CheckConstraint(
                condition=Q(
                    gross_fen__gte=0, refunds_fen__gte=0, fee_fen__gte=0, fee_back_fen__gte=0,
                    subsidy_fen__gte=0, subsidy_back_fen__gte=0, points_fen__gte=0,
                    points_back_fen__gte=0, carried_in_fen__gte=0,
                ),
                name="settlement_parts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(
                    net_fen=F("gross_fen") - F("refunds_fen") - F("fee_fen") + F("fee_back_fen")
                    + F("subsidy_fen") - F("subsidy_back_fen") + F("points_fen")
                    - F("points_back_fen") - F("carried_in_fen")
                ),
                name="settlement_net_adds_up",
            ),
            # Never a negative payout: what is negative is carried forward, not paid.
            models.CheckConstraint(
                condition=Q(payout_fen__gte=0, carried_out_fen__gte=0)
                & Q(net_fen=F("payout_fen") - F("carried_out_fen"))
                & (Q(payout_fen=0) | Q(carried_out_fen=0)),
                name="settlement_payout_or_carry",
            ),
            models.CheckConstraint(
                condition=Q(carried_in_fen=0) | Q(carried_from__isnull=False),
                name="settlement_carry_has_source",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def net_fee_fen(self) -> int:
        return self.fee_fen - self.fee_back_fen

    @property
    def masked_account_number(self) -> str:
        from merchants.crypto import mask_account

        return mask_account(self.account_number)


class ItemKind(models.TextChoices):
    PAYMENT = "payment", _("Payment")
    REFUND = "refund", _("Refund")


class SettlementItem(Immutable):
    """One order or one refund in a settlement, with what it adds to the merchant (payment)
    or takes back (refund). Each order and each refund is settled once (unique rows).

    Amounts are positive; ``net_fen`` carries the sign (a refund's is negative or zero)."""

    Kind = ItemKind

    batch = models.ForeignKey(SettlementBatch, on_delete=models.PROTECT, related_name="items")
    settlement = models.ForeignKey(Settlement, on_delete=models.PROTECT, related_name="items")
    kind = models.CharField(_("kind"), max_length=8, choices=ItemKind.choices)
    order = models.ForeignKey("payments.PaymentOrder", on_delete=models.PROTECT, related_name="+")
    refund = models.ForeignKey(
        "payments.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(_("time"))  # paid at / refunded at
    # Final on a day before the batch's: a late notification settled in this batch.
    late = models.BooleanField(_("from an earlier day"), default=False)
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    fee_fen = models.BigIntegerField(_("fee (fen)"), default=0)
    subsidy_fen = models.BigIntegerField(_("campaign subsidy (fen)"), default=0)
    points_fen = models.BigIntegerField(_("points value (fen)"), default=0)
    net_fen = models.BigIntegerField(_("net (fen)"))

    class Meta:
        verbose_name = _("settlement item")
        verbose_name_plural = _("settlement items")
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(condition=_in("kind", ItemKind), name="settlementitem_kind_valid"),
            models.UniqueConstraint(
                fields=["order"], condition=Q(kind="payment"), name="settlementitem_order_once"
            ),
            models.UniqueConstraint(
                fields=["refund"], condition=Q(refund__isnull=False), name="settlementitem_refund_once"
            ),
            models.CheckConstraint(
                condition=Q(kind="payment", refund__isnull=True)
                | Q(kind="refund", refund__isnull=False),
                name="settlementitem_refund_iff_kind",
            ),
            models.CheckConstraint(
                condition=Q(amount_fen__gte=0, fee_fen__gte=0, subsidy_fen__gte=0, points_fen__gte=0),
                name="settlementitem_parts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind="payment",
                    net_fen=F("amount_fen") - F("fee_fen") + F("subsidy_fen") + F("points_fen"),
                )
                | Q(
                    kind="refund",
                    net_fen=F("fee_fen") - F("amount_fen") - F("subsidy_fen") - F("points_fen"),
                ),
                name="settlementitem_net_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.order_id}/{self.refund_id or '-'}"


class SettlementAudit(Immutable):
    """Who did what with settlement: ran a batch, ran it again (and got the same one),
    downloaded a payout file (full account numbers)."""

    class Action(models.TextChoices):
        RUN = "run", _("Ran the batch")
        RERUN = "rerun", _("Ran again (existing batch returned)")
        PAYOUT_FILE = "payout_file", _("Downloaded the payout file")

    batch = models.ForeignKey(SettlementBatch, on_delete=models.PROTECT, related_name="audit")
    action = models.CharField(max_length=16, choices=Action.choices)
    source = models.CharField(max_length=16, choices=RunSource.choices)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.batch} {self.action}"


# --- Reconciliation ------------------------------------------------------------------------------
class ReconciliationStatus(models.TextChoices):
    MATCHED = "matched", _("Matched")
    DIFFERENCES = "differences", _("Differences found")
    FAILED = "failed", _("Statement not available")


class ReconciliationRun(Immutable):
    """One comparison of a channel's statement of a day with our records of that day.

    A re-run that downloads the same file and finds the same differences returns the latest
    run; anything else (the channel republished the file, our records changed, the download
    failed or now works) is a new run with the next ``attempt``: every file we compared is
    kept, and the latest attempt of a (day, channel) is its current state."""

    Status = ReconciliationStatus
    Source = RunSource

    day = models.DateField(_("business day"))
    channel = models.CharField(_("channel"), max_length=16)
    attempt = models.PositiveIntegerField(_("attempt"))
    status = models.CharField(_("status"), max_length=16, choices=ReconciliationStatus.choices)
    error = models.CharField(_("error"), max_length=200, blank=True)
    statement_text = models.TextField(_("statement file"), blank=True)
    statement_sha256 = models.CharField(max_length=64, blank=True)
    channel_payments = models.PositiveIntegerField(default=0)
    channel_refunds = models.PositiveIntegerField(default=0)
    channel_paid_fen = models.BigIntegerField(default=0)
    channel_refunded_fen = models.BigIntegerField(default=0)
    our_payments = models.PositiveIntegerField(default=0)
    our_refunds = models.PositiveIntegerField(default=0)
    our_paid_fen = models.BigIntegerField(default=0)
    our_refunded_fen = models.BigIntegerField(default=0)
    differences_count = models.PositiveIntegerField(_("differences"), default=0)
    source = models.CharField(max_length=16, choices=RunSource.choices)
    run_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("run at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ["-day", "channel", "-attempt"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "channel", "attempt"], name="reconciliationrun_attempt_unique"
            ),
            models.CheckConstraint(
                condition=_in("status", ReconciliationStatus), name="reconciliationrun_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.channel} #{self.attempt}"


class DifferenceKind(models.TextChoices):
    MISSING_OURS = "missing_ours", _("On the channel's statement, not in our records")
    MISSING_CHANNEL = "missing_channel", _("In our records, not on the channel's statement")
    AMOUNT = "amount_mismatch", _("Amounts differ")
    STATUS = "status_mismatch", _("Status differs")
    ACCOUNT = "account_mismatch", _("Merchant account differs")
    OTHER_DAY = "other_day", _("Final on another day in our records")


class ReconciliationDifference(Immutable):
    """One difference a run found, with both sides' figures as far as each side has them."""

    Kind = DifferenceKind

    run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="differences")
    kind = models.CharField(_("difference"), max_length=16, choices=DifferenceKind.choices)
    line_kind = models.CharField(_("kind"), max_length=8, choices=ItemKind.choices)
    out_trade_no = models.CharField(_("order number"), max_length=32)
    out_refund_no = models.CharField(_("refund number"), max_length=32, blank=True)
    order = models.ForeignKey(
        "payments.PaymentOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refund = models.ForeignKey(
        "payments.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    our_amount_fen = models.BigIntegerField(_("our amount (fen)"), null=True, blank=True)
    channel_amount_fen = models.BigIntegerField(_("channel's amount (fen)"), null=True, blank=True)
    our_status = models.CharField(_("our status"), max_length=16, blank=True)
    channel_status = models.CharField(_("channel's status"), max_length=32, blank=True)
    our_at = models.DateTimeField(_("our time"), null=True, blank=True)
    channel_at = models.DateTimeField(_("channel's time"), null=True, blank=True)
    channel_account = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=_in("kind", DifferenceKind), name="reconciliationdiff_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.out_refund_no or self.out_trade_no}"
