"""Reads of the points ledger, including the invariant check over the whole ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import JournalEntry, JournalLine, PointsAccount, PointsLot


def usable_points(*, customer_id: int, now: datetime | None = None) -> int:
    """Points the customer can spend at ``now`` (available lots not yet expired)."""
    now = now or timezone.now()
    return (
        PointsLot.objects.filter(
            account__customer_id=customer_id,
            account__kind=PointsAccount.Kind.CUSTOMER,
            state=PointsLot.State.AVAILABLE,
            expires_at__gt=now,
        ).aggregate(total=Sum("remaining_points"))["total"]
        or 0
    )


def customer_balance(*, customer_id: int) -> tuple[int, int]:
    """(available, pending) as stored on the customer's account; (0, 0) if it has none."""
    row = (
        PointsAccount.objects.filter(kind=PointsAccount.Kind.CUSTOMER, customer_id=customer_id)
        .values_list("balance", "pending")
        .first()
    )
    return row or (0, 0)


# --- Invariant check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    rule: str  # which invariant
    subject: str  # "entry 12", "account 3", "lot 7"
    expected: int
    actual: int

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject} expected {self.expected}, found {self.actual}"


@dataclass
class LedgerReport:
    entries: int = 0
    accounts: int = 0
    lots: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


def _sum(queryset, group: str, column: str):
    """A correlated ``SUM(column)`` of ``queryset`` (filtered on ``group`` = OuterRef), 0 if none."""
    total = queryset.order_by().values(group).annotate(total=Sum(column)).values("total")
    return Coalesce(Subquery(total, output_field=IntegerField()), 0)


def ledger_check() -> LedgerReport:
    """Verify every invariant of the ledger; returns a report listing each break.

    1. every entry has two or more lines and its lines sum to zero;
    2. every account's stored ``balance`` / ``pending`` equals the sum of its lines in that bucket;
    3. every customer account's ``balance`` / ``pending`` equals the remaining points of its
       available / pending lots;
    4. every lot's ``remaining_points`` equals the sum of the lines that name it;
    5. no customer balance is negative.
    The database constraints guarantee 5 and the lot bounds already; checking again costs little
    and catches a constraint dropped by mistake.
    """
    report = LedgerReport(
        entries=JournalEntry.objects.count(),
        accounts=PointsAccount.objects.count(),
        lots=PointsLot.objects.count(),
    )
    add = report.breaks.append

    for row in (
        JournalEntry.objects.annotate(n=Count("lines"), total=Coalesce(Sum("lines__amount"), 0))
        .filter(Q(n__lt=2) | ~Q(total=0))
        .values("pk", "n", "total")
    ):
        if row["n"] < 2:
            add(Break("entry has fewer than two lines", f"entry {row['pk']}", 2, row["n"]))
        if row["total"] != 0:
            add(Break("entry lines do not sum to zero", f"entry {row['pk']}", 0, row["total"]))

    lines = JournalLine.objects.filter(account=OuterRef("pk"))
    lots = PointsLot.objects.filter(account=OuterRef("pk"))
    accounts = PointsAccount.objects.annotate(
        line_available=_sum(lines.filter(bucket=JournalLine.Bucket.AVAILABLE), "account", "amount"),
        line_pending=_sum(lines.filter(bucket=JournalLine.Bucket.PENDING), "account", "amount"),
        lot_available=_sum(lots.filter(state=PointsLot.State.AVAILABLE), "account", "remaining_points"),
        lot_pending=_sum(lots.filter(state=PointsLot.State.PENDING), "account", "remaining_points"),
    )
    customer = Q(kind=PointsAccount.Kind.CUSTOMER)
    for a in accounts.filter(
        ~Q(balance=F("line_available"))
        | ~Q(pending=F("line_pending"))
        | (customer & (~Q(balance=F("lot_available")) | ~Q(pending=F("lot_pending"))))
        | (customer & (Q(balance__lt=0) | Q(pending__lt=0)))
    ):
        subject = f"account {a.pk} ({a.kind})"
        if a.balance != a.line_available:
            add(Break("balance differs from its lines", subject, a.line_available, a.balance))
        if a.pending != a.line_pending:
            add(Break("pending differs from its lines", subject, a.line_pending, a.pending))
        if a.kind == PointsAccount.Kind.CUSTOMER:
            if a.balance != a.lot_available:
                add(Break("balance differs from available lots", subject, a.lot_available, a.balance))
            if a.pending != a.lot_pending:
                add(Break("pending differs from pending lots", subject, a.lot_pending, a.pending))
            if a.balance < 0 or a.pending < 0:
                add(Break("negative customer balance", subject, 0, min(a.balance, a.pending)))

    lot_lines = JournalLine.objects.filter(lot=OuterRef("pk"))
    for lot in PointsLot.objects.annotate(line_total=_sum(lot_lines, "lot", "amount")).exclude(
        remaining_points=F("line_total")
    ):
        add(Break("lot remaining differs from its lines", f"lot {lot.pk}", lot.line_total,
                  lot.remaining_points))
    return report



# --- Earning rules and tiers ---------------------------------------------------------------------


@dataclass(frozen=True)
class EarnQuote:
    """Points a payment earns: ``bank_points`` (base x tier + bank campaigns) and
    ``merchant_points`` (campaigns funded by the merchant)."""

    base_points: int
    tier_code: str | None
    bank_points: int
    merchant_points: int

    @property
    def total(self) -> int:
        return self.bank_points + self.merchant_points


def earn_rate_at(at: datetime):
    from .models import EarnRate

    return EarnRate.objects.filter(valid_from__lte=at).order_by("-valid_from").first()


def member_tier(*, customer_id: int):
    """The customer's tier: their ``MemberTier`` row's, else the lowest tier (None if none)."""
    from .models import MemberTier, Tier

    row = MemberTier.objects.select_related("tier").filter(customer_id=customer_id).first()
    return row.tier if row else Tier.objects.order_by("threshold_fen").first()


def earn_quote(
    *, customer_id: int, amount_fen: int, merchant_id: int | None, category: str = "",
    at: datetime | None = None,
) -> EarnQuote:
    """What a payment of ``amount_fen`` earns under the rules in force at ``at``.

    base = floor(amount_fen x points_per_yuan / 100); bank points = floor(base x tier % / 100)
    plus, per matching bank campaign, floor(base x bonus % / 100); merchant points likewise for
    campaigns the merchant funds. Integers only; every step rounds down.
    """
    from .errors import NoEarnRate
    from .models import EarnCampaign

    at = at or timezone.now()
    rate = earn_rate_at(at)
    if rate is None:
        raise NoEarnRate()
    base = amount_fen * rate.points_per_yuan // 100 if amount_fen > 0 else 0
    tier = member_tier(customer_id=customer_id)
    bank = base * (tier.multiplier_percent if tier else 100) // 100
    merchant = 0
    campaigns = EarnCampaign.objects.filter(
        Q(category="") | Q(category=category),
        Q(merchant_id__isnull=True) | Q(merchant_id=merchant_id),
        is_active=True, starts_at__lte=at, ends_at__gt=at,
    ).order_by("pk")
    for campaign in campaigns:
        bonus = base * campaign.bonus_percent // 100
        if campaign.funder == EarnCampaign.Funder.MERCHANT:
            merchant += bonus
        else:
            bank += bonus
    return EarnQuote(base, tier.code if tier else None, bank, merchant)


def rolling_spending_fen(*, customer_id: int, at: datetime) -> int:
    """Qualifying spending in the 12 months up to ``at`` (same wall-clock day a year before)."""
    from .models import QualifyingSpend
    from .services.ledger import points_zone

    local = timezone.localtime(at, points_zone())
    try:
        start = local.replace(year=local.year - 1)
    except ValueError:  # 29 February
        start = local.replace(year=local.year - 1, day=28)
    return (
        QualifyingSpend.objects.filter(customer_id=customer_id, at__gt=start, at__lte=at)
        .aggregate(total=Sum("amount_fen"))["total"]
        or 0
    )


# --- Spending as a payment deduction, and expiry reminders --------------------------------------


@dataclass(frozen=True)
class DeductionQuote:
    points: int
    amount_fen: int


def deduction_quote(*, customer_id: int, order_fen: int, now: datetime | None = None) -> DeductionQuote:
    """The most points a customer can put towards an order of ``order_fen``, and their value.

    Capped by what they can spend now and by ``ALLIANCE_POINTS_MAX_DEDUCTION_PERCENT`` of the
    order; at ``ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN``. Rounds down: points never pay more
    than they are worth.
    """
    from django.conf import settings

    per_yuan = settings.ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN
    cap_fen = max(order_fen, 0) * settings.ALLIANCE_POINTS_MAX_DEDUCTION_PERCENT // 100
    points = min(usable_points(customer_id=customer_id, now=now), cap_fen * per_yuan // 100)
    return DeductionQuote(points=points, amount_fen=points * 100 // per_yuan)


@dataclass(frozen=True)
class ExpiringSoon:
    points: int
    first_expiry: datetime | None


def points_expiring_soon(*, customer_id: int, now: datetime | None = None,
                         days: int | None = None) -> ExpiringSoon:
    """Available points that expire within ``days`` (default the reminder setting)."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Min

    now = now or timezone.now()
    days = settings.ALLIANCE_POINTS_EXPIRY_REMINDER_DAYS if days is None else days
    row = PointsLot.objects.filter(
        account__customer_id=customer_id, account__kind=PointsAccount.Kind.CUSTOMER,
        state=PointsLot.State.AVAILABLE, remaining_points__gt=0,
        expires_at__gt=now, expires_at__lte=now + timedelta(days=days),
    ).aggregate(points=Sum("remaining_points"), first=Min("expires_at"))
    return ExpiringSoon(points=row["points"] or 0, first_expiry=row["first"])
