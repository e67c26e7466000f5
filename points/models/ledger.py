"""The alliance points ledger: accounts, immutable journal entries and lines, lots.

Double entry: every ``JournalEntry`` has two or more ``JournalLine`` rows whose amounts sum to
zero. A line moves points in one *bucket* of one account: ``available`` (the stored
``balance``) or ``pending`` (the stored ``pending``; only customer accounts have pending
points). Releasing pending points is an entry on one account: pending -N, available +N.

Signs. Customer accounts never go below zero (database constraint). System accounts have no
sign constraint, on purpose: *sources* (the bank's issuance account, each merchant's funding
account, the adjustment account) run negative by the points they have put into circulation,
*sinks* (expiry, clearing) run positive by what they have taken back. Their balances are
bookkeeping positions, not spendable money, and a constraint on them would only forbid
legitimate reversals (a cancelled earn credits the issuance account back).

A customer's points are also kept as ``PointsLot`` rows: each earn (or positive adjustment,
refund into a new lot, transfer) makes lots; spending and expiry consume them FIFO by
expiry. Every line on a customer account names its lot, so per lot the lines sum to the lot's
``remaining_points`` -- one of the invariants ``points.selectors.ledger_check`` verifies.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImmutableRow(Exception):
    """Raised when code tries to change or delete a ledger row after it was written."""


class Immutable(models.Model):
    """A history row: written once, never changed or deleted through the ORM."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRow(f"{type(self).__name__} rows are immutable; write a new row")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRow(f"{type(self).__name__} rows are immutable")


class PointsAccount(models.Model):
    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        BANK_ISSUANCE = "bank_issuance", _("Bank issuance")
        MERCHANT_FUNDED = "merchant_funded", _("Merchant-funded points")
        ADJUSTMENT = "adjustment", _("Head-office adjustments")
        EXPIRY = "expiry", _("Expired points")
        CLEARING = "clearing", _("Points spent (clearing)")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="points_accounts",
    )
    # The merchant (merchants.Merchant pk) of a merchant-funded or clearing account. A plain
    # integer for now: the merchants app is being built beside this one; it becomes a
    # ForeignKey once merchants.Merchant exists (same column type, no data migration).
    merchant_id = models.BigIntegerField(_("merchant"), null=True, blank=True)
    balance = models.BigIntegerField(_("available points"), default=0)
    pending = models.BigIntegerField(_("pending points"), default=0)
    created_at = models.DateTimeField(_("opened"), default=timezone.now)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="customer") | Q(balance__gte=0, pending__gte=0),
                name="pointsaccount_customer_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(kind="customer") | Q(pending=0),
                name="pointsaccount_pending_only_customer",
            ),
            models.CheckConstraint(
                condition=(Q(kind="customer") & Q(customer__isnull=False) & Q(merchant_id__isnull=True))
                | (~Q(kind="customer") & Q(customer__isnull=True)),
                name="pointsaccount_customer_iff_customer_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind="merchant_funded") | Q(merchant_id__isnull=False),
                name="pointsaccount_merchant_funded_has_merchant",
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(kind="customer"),
                name="pointsaccount_one_per_customer",
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=~Q(kind="customer") & Q(merchant_id__isnull=True),
                name="pointsaccount_one_system_account_per_kind",
            ),
            models.UniqueConstraint(
                fields=["kind", "merchant_id"],
                condition=Q(merchant_id__isnull=False),
                name="pointsaccount_one_per_kind_and_merchant",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.CUSTOMER:
            return f"{self.get_kind_display()} {self.customer_id}"
        if self.merchant_id is not None:
            return f"{self.get_kind_display()} (merchant {self.merchant_id})"
        return str(self.get_kind_display())


class JournalEntry(Immutable):
    """One posting. Immutable: corrections are new entries (``reverses`` links them)."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        MAKE_AVAILABLE = "make_available", _("Became available")
        CANCEL_PENDING = "cancel_pending", _("Pending points cancelled")
        SPEND = "spend", _("Spent")
        REFUND = "refund", _("Spending refunded")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Adjusted by head office")
        TRANSFER = "transfer", _("Transferred")
        POST = "post", _("Posted between system accounts")
        CLAWBACK = "clawback", _("Earned points taken back")

    # Unique by a constraint in Meta (``unique=True`` would add a LIKE-pattern index on
    # PostgreSQL that no query uses: 58 MB per million entries).
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    actor = models.ForeignKey(  # null: the system (a task, a payment callback)
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reference_type = models.CharField(_("caused by"), max_length=32, blank=True)  # "payment"
    reference_id = models.BigIntegerField(_("reference"), null=True, blank=True)
    # The merchant where points were earned or spent (merchants.Merchant pk; see PointsAccount).
    merchant_id = models.BigIntegerField(_("merchant"), null=True, blank=True)
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversals"
    )
    # When the movement takes effect (the ``now`` the service was given); ``created_at`` is
    # when the row was written.
    posted_at = models.DateTimeField(_("posted"), db_index=True)
    created_at = models.DateTimeField(_("written"), auto_now_add=True)

    class Meta:
        verbose_name = _("journal entry")
        verbose_name_plural = _("journal entries")
        ordering = ["-posted_at", "-pk"]
        indexes = [models.Index(fields=["reference_type", "reference_id"], name="entry_reference")]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="journalentry_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"



class JournalLine(Immutable):
    class Bucket(models.TextChoices):
        AVAILABLE = "available", _("available")
        PENDING = "pending", _("pending")

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    # Indexed by line_account_entry (account, entry), which leads with it: no index of its own.
    account = models.ForeignKey(
        PointsAccount, on_delete=models.PROTECT, related_name="lines", db_index=False
    )
    bucket = models.CharField(max_length=10, choices=Bucket.choices, default=Bucket.AVAILABLE)
    amount = models.BigIntegerField(_("points"))  # signed: + credit, - debit
    lot = models.ForeignKey(
        "PointsLot", on_delete=models.PROTECT, null=True, blank=True, related_name="lines"
    )

    class Meta:
        verbose_name = _("journal line")
        verbose_name_plural = _("journal lines")
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="journalline_amount_not_zero"),
        ]
        indexes = [models.Index(fields=["account", "entry"], name="line_account_entry")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount:+d}"


class PointsLot(models.Model):
    """Points a customer got in one go, with when they become available and when they expire.

    ``remaining_points`` is the only field that changes (spends, refunds, expiry), always under
    the lock of the owning account; ``state`` records why a lot stopped counting.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        AVAILABLE = "available", _("available")
        CANCELLED = "cancelled", _("cancelled")
        EXPIRED = "expired", _("expired")

    # Indexed by lot_fifo (account, state, expires_at, id), which leads with it.
    account = models.ForeignKey(
        PointsAccount, on_delete=models.PROTECT, related_name="lots", db_index=False
    )
    # Who pays for these points when they are spent: the bank's issuance or adjustment account,
    # or a merchant's funding account. Clearing reads it.
    funder = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="funded_lots")
    source_entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lots")
    original_points = models.BigIntegerField(_("points"))
    remaining_points = models.BigIntegerField(_("remaining"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    earned_at = models.DateTimeField(_("earned"))
    available_at = models.DateTimeField(_("available from"))
    expires_at = models.DateTimeField(_("expires"))  # exclusive: expired once now >= expires_at

    class Meta:
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        constraints = [
            models.CheckConstraint(
                condition=Q(original_points__gt=0)
                & Q(remaining_points__gte=0)
                & Q(remaining_points__lte=F("original_points")),
                name="pointslot_remaining_within_original",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "available"]) | Q(remaining_points=0),
                name="pointslot_closed_lots_are_empty",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "state", "expires_at", "id"], name="lot_fifo"),
            models.Index(fields=["state", "expires_at"], name="lot_state_expires"),
            models.Index(fields=["state", "available_at"], name="lot_state_available"),
        ]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.remaining_points}/{self.original_points}"


class LotAllocation(models.Model):
    """How many points a spend (or negative adjustment, or transfer) took from one lot.

    ``refunded_points`` counts what refunds have since given back for this allocation, so a
    spend can be refunded in parts and never more than once in total.
    """

    # Indexed by the unique (entry, lot) constraint, which leads with it.
    entry = models.ForeignKey(
        JournalEntry, on_delete=models.PROTECT, related_name="allocations", db_index=False
    )
    lot = models.ForeignKey(PointsLot, on_delete=models.PROTECT, related_name="allocations")
    points = models.BigIntegerField(_("points"))
    refunded_points = models.BigIntegerField(_("refunded"), default=0)

    class Meta:
        verbose_name = _("lot allocation")
        verbose_name_plural = _("lot allocations")
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gt=0)
                & Q(refunded_points__gte=0)
                & Q(refunded_points__lte=F("points")),
                name="lotallocation_refunded_within_points",
            ),
            models.UniqueConstraint(fields=["entry", "lot"], name="lotallocation_once_per_lot"),
        ]

    def __str__(self) -> str:
        return f"{self.entry_id} <- lot {self.lot_id}: {self.points}"


class EarnReversal(Immutable):
    """A refund taking back points that a payment earned (``points_reverse_earn``).

    ``points`` were asked back; ``taken`` could be taken (pending lots of the earn first, then
    what is left of its available lots, then the customer's other points FIFO) and
    ``shortfall`` could not, because the customer had already used them. The shortfall is
    not a debt on the points account (balances never go negative): the payment's refund
    reads it and decides (the payments issue). ``entry`` is the clawback entry, None when
    nothing at all could be taken.
    """

    # Unique by a constraint in Meta (``unique=True`` would add a LIKE-pattern index on
    # PostgreSQL that no query uses: 58 MB per million entries).
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    earn = models.ForeignKey(
        JournalEntry, on_delete=models.PROTECT, related_name="earn_reversals"
    )
    entry = models.OneToOneField(
        JournalEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    points = models.BigIntegerField(_("points asked back"))
    taken = models.BigIntegerField(_("points taken back"))
    shortfall = models.BigIntegerField(_("points already used"))
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("earn reversal")
        verbose_name_plural = _("earn reversals")
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gt=0, taken__gte=0, shortfall__gte=0)
                & Q(points=F("taken") + F("shortfall")),
                name="earnreversal_taken_plus_shortfall",
            ),
            models.UniqueConstraint(fields=["idempotency_key"], name="earnreversal_key_unique"),
        ]

    def __str__(self) -> str:
        return f"earn {self.earn_id}: {self.taken}/{self.points}"


class ExpiryReminder(models.Model):
    """One reminder per customer per expiry moment: the reminder job sends it once, however
    often it runs (the unique constraint decides, not the job's memory)."""

    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField(_("expires"))
    points = models.BigIntegerField(_("points"))
    sent_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("expiry reminder")
        verbose_name_plural = _("expiry reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "expires_at"], name="points_expiry_reminder_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.expires_at:%Y-%m-%d}: {self.points}"
