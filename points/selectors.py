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
        lot_available=_sum(
            lots.filter(state=PointsLot.State.AVAILABLE), "account", "remaining_points"
        ),
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
                add(
                    Break(
                        "balance differs from available lots", subject, a.lot_available, a.balance
                    )
                )
            if a.pending != a.lot_pending:
                add(Break("pending differs from pending lots", subject, a.lot_pending, a.pending))
            if a.balance < 0 or a.pending < 0:
                add(Break("negative customer balance", subject, 0, min(a.balance, a.pending)))

    lot_lines = JournalLine.objects.filter(lot=OuterRef("pk"))
    for lot in PointsLot.objects.annotate(line_total=_sum(lot_lines, "lot", "amount")).exclude(
        remaining_points=F("line_total")
    ):
        add(
            Break(
                "lot remaining differs from its lines",
                f"lot {lot.pk}",
                lot.line_total,
                lot.remaining_points,
            )
        )
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
    *,
    customer_id: int,
    amount_fen: int,
    merchant_id: int | None,
    category: str = "",
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
        is_active=True,
        starts_at__lte=at,
        ends_at__gt=at,
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
        QualifyingSpend.objects.filter(customer_id=customer_id, at__gt=start, at__lte=at).aggregate(
            total=Sum("amount_fen")
        )["total"]
        or 0
    )


# --- Spending as a payment deduction, and expiry reminders --------------------------------------


@dataclass(frozen=True)
class DeductionQuote:
    points: int
    amount_fen: int


def deduction_quote(
    *, customer_id: int, order_fen: int, now: datetime | None = None
) -> DeductionQuote:
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


def points_expiring_soon(
    *, customer_id: int, now: datetime | None = None, days: int | None = None
) -> ExpiringSoon:
    """Available points that expire within ``days`` (default the reminder setting)."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Min

    now = now or timezone.now()
    days = settings.ALLIANCE_POINTS_EXPIRY_REMINDER_DAYS if days is None else days
    row = PointsLot.objects.filter(
        account__customer_id=customer_id,
        account__kind=PointsAccount.Kind.CUSTOMER,
        state=PointsLot.State.AVAILABLE,
        remaining_points__gt=0,
        expires_at__gt=now,
        expires_at__lte=now + timedelta(days=days),
    ).aggregate(points=Sum("remaining_points"), first=Min("expires_at"))
    return ExpiringSoon(points=row["points"] or 0, first_expiry=row["first"])


# --- What customers (and head office) see: summary, expiring points, history -----------------


@dataclass(frozen=True)
class Expiring:
    expires_at: datetime  # exclusive: the points are gone from this instant
    points: int


@dataclass(frozen=True)
class TierProgress:
    """Rolling 12-month spending against the next tier's threshold (None at the top tier)."""

    spending_fen: int
    next_tier: object | None  # Tier
    remaining_fen: int  # still to spend to reach the next tier (0 at the top)
    percent: int  # 0..100, spending as a share of the next threshold; 100 at the top


@dataclass(frozen=True)
class PointsSummary:
    usable: int  # spendable now: available lots not yet expired
    pending: int
    expiring: list[Expiring]
    expiring_days: int
    tier: object | None  # Tier
    progress: TierProgress

    @property
    def expiring_points(self) -> int:
        return sum(e.points for e in self.expiring)


def points_expiring_by_date(*, customer_id: int, now: datetime, days: int) -> list[Expiring]:
    """Available points that expire within ``days``, grouped by expiry instant, soonest first."""
    from datetime import timedelta

    rows = (
        PointsLot.objects.filter(
            account__customer_id=customer_id,
            account__kind=PointsAccount.Kind.CUSTOMER,
            state=PointsLot.State.AVAILABLE,
            remaining_points__gt=0,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=days),
        )
        .values("expires_at")
        .annotate(points=Sum("remaining_points"))
        .order_by("expires_at")
    )
    return [Expiring(expires_at=r["expires_at"], points=r["points"]) for r in rows]


def tier_progress(*, customer_id: int, tier, now: datetime) -> TierProgress:
    """Progress from 12-month spending towards the tier above ``tier`` (the member's current
    one: a pending downgrade does not move the goal)."""
    from .models import Tier

    spending = rolling_spending_fen(customer_id=customer_id, at=now)
    above = Tier.objects.order_by("threshold_fen")
    if tier is not None:
        above = above.filter(threshold_fen__gt=tier.threshold_fen)
    else:
        above = above.filter(threshold_fen__gt=0)
    next_tier = above.first()
    if next_tier is None:
        return TierProgress(spending_fen=spending, next_tier=None, remaining_fen=0, percent=100)
    percent = min(max(spending, 0) * 100 // next_tier.threshold_fen, 100)
    return TierProgress(
        spending_fen=spending,
        next_tier=next_tier,
        remaining_fen=max(next_tier.threshold_fen - spending, 0),
        percent=percent,
    )


def points_summary(*, customer_id: int, now: datetime | None = None) -> PointsSummary:
    """Everything the customer's points page and ``GET /api/points/balance/`` show."""
    from django.conf import settings

    now = now or timezone.now()
    days = settings.ALLIANCE_POINTS_EXPIRY_REMINDER_DAYS
    tier = member_tier(customer_id=customer_id)
    return PointsSummary(
        usable=usable_points(customer_id=customer_id, now=now),
        pending=customer_balance(customer_id=customer_id)[1],
        expiring=points_expiring_by_date(customer_id=customer_id, now=now, days=days),
        expiring_days=days,
        tier=tier,
        progress=tier_progress(customer_id=customer_id, tier=tier, now=now),
    )


def customer_history(*, customer_id: int):
    """The customer's journal entries, newest first, each annotated with what it did to them:
    ``points`` (available, signed) and ``pending_points`` (pending, signed).

    Only the lines on the customer's own account count (the filter and the sums share one
    join); an entry spread over several lots is one row. No account yet: nothing.
    """
    account_id = (
        PointsAccount.objects.filter(kind=PointsAccount.Kind.CUSTOMER, customer_id=customer_id)
        .values_list("pk", flat=True)
        .first()
    )
    if account_id is None:
        return JournalEntry.objects.none()
    available = Q(lines__bucket=JournalLine.Bucket.AVAILABLE)
    pending = Q(lines__bucket=JournalLine.Bucket.PENDING)
    return (
        JournalEntry.objects.filter(lines__account_id=account_id)
        .annotate(
            points=Coalesce(Sum("lines__amount", filter=available), 0),
            pending_points=Coalesce(Sum("lines__amount", filter=pending), 0),
        )
        .order_by("-posted_at", "-pk")
    )


@dataclass(frozen=True)
class HistoryRow:
    entry_id: int
    kind: str
    kind_label: str
    posted_at: datetime
    points: int  # change of available points (signed)
    pending_points: int  # change of pending points (signed)
    description: str  # the plain-language reason
    merchant_name: str
    reference_type: str
    reference_id: int | None
    reference_label: str  # "Payment 1234": what caused it, said plainly ("" if nothing)


def _reference_label(reference_type: str, reference_id: int | None) -> str:
    from django.utils.translation import gettext as _

    if reference_id is None:
        return ""
    labels = {
        "payment": _("Payment no. %(id)s"),
        "coupon": _("Coupon no. %(id)s"),
    }
    return labels[reference_type] % {"id": reference_id} if reference_type in labels else ""


def _describe(entry, merchant: str) -> str:
    """What happened, in the customer's words."""
    from django.utils.translation import gettext as _

    Kind = JournalEntry.Kind
    at = {"merchant": merchant}
    if entry.kind == Kind.EARN:
        return (
            _("Points for your payment at %(merchant)s") % at
            if merchant
            else _("Points for your payment")
        )
    if entry.kind == Kind.MAKE_AVAILABLE:
        return _("Pending points can now be used")
    if entry.kind == Kind.CANCEL_PENDING:
        return (
            _("Pending points cancelled: your payment at %(merchant)s was refunded") % at
            if merchant
            else _("Pending points cancelled: the payment was refunded")
        )
    if entry.kind == Kind.CLAWBACK:
        return (
            _("Points taken back: your payment at %(merchant)s was refunded") % at
            if merchant
            else _("Points taken back: the payment was refunded")
        )
    if entry.kind == Kind.SPEND:
        if entry.reference_type == "coupon":
            return _("Exchanged for a coupon")
        return _("Used to pay at %(merchant)s") % at if merchant else _("Used to pay")
    if entry.kind == Kind.REFUND:
        return (
            _("Points given back: your payment at %(merchant)s was refunded") % at
            if merchant
            else _("Points given back: the payment was refunded")
        )
    if entry.kind == Kind.EXPIRE:
        return _("Points expired")
    if entry.kind == Kind.ADJUST:
        return _("Adjusted by the bank: %(reason)s") % {"reason": entry.reason}
    if entry.kind == Kind.TRANSFER:
        if entry.points < 0:
            return _("Given to another member")
        return _("Received from another member")
    return str(entry.get_kind_display())


def history_rows(entries) -> list[HistoryRow]:
    """``customer_history`` entries (one page of them) made readable: merchant names looked up
    in one query, kinds translated, causes said plainly."""
    from merchants.models import Merchant

    entries = list(entries)
    names = dict(
        Merchant.objects.filter(
            pk__in={e.merchant_id for e in entries if e.merchant_id}
        ).values_list("pk", "business_name")
    )
    rows = []
    for entry in entries:
        merchant = names.get(entry.merchant_id, "") if entry.merchant_id else ""
        rows.append(
            HistoryRow(
                entry_id=entry.pk,
                kind=entry.kind,
                kind_label=str(entry.get_kind_display()),
                posted_at=entry.posted_at,
                points=entry.points,
                pending_points=entry.pending_points,
                description=_describe(entry, merchant),
                merchant_name=merchant,
                reference_type=entry.reference_type,
                reference_id=entry.reference_id,
                reference_label=_reference_label(entry.reference_type, entry.reference_id),
            )
        )
    return rows


def customer_find(*, phone: str = "", customer_id: int | None = None):
    """The customer with this mobile number (as typed: normalised) or id.

    Refuses ``invalid_phone`` for a number that is not a mainland mobile number and
    ``customer_not_found`` when no *customer* has it (staff and merchants are not customers).
    """
    from accounts.models import User
    from accounts.phones import normalize_phone
    from accounts.roles import Role

    from .errors import CustomerNotFound

    customers = User.objects.filter(role=Role.CUSTOMER)
    if customer_id is not None:
        customer = customers.filter(pk=customer_id).first()
    else:
        customer = customers.filter(phone=normalize_phone(phone)).first()
    if customer is None:
        raise CustomerNotFound()
    return customer


@dataclass(frozen=True)
class Adjustment:
    entry: JournalEntry
    customer_id: int
    points: int  # signed change of the customer's available points


def adjustment_get(*, entry_id: int) -> Adjustment:
    """An adjustment entry with the customer and signed points it moved."""
    entry = JournalEntry.objects.get(pk=entry_id, kind=JournalEntry.Kind.ADJUST)
    row = (
        JournalLine.objects.filter(entry=entry, account__kind=PointsAccount.Kind.CUSTOMER)
        .values("account__customer_id")
        .annotate(total=Sum("amount"))
        .get()
    )
    return Adjustment(entry=entry, customer_id=row["account__customer_id"], points=row["total"])


# --- Branch staff: customers as far as their grid's merchants need -------------------------------


def _grid_merchant_ids(branch_id: int):
    from merchants.models import Store

    return Store.objects.filter(branch_id=branch_id).values("merchant_id")


def customer_for_staff(user, *, phone: str = "", customer_id: int | None = None):
    """The customer, for bank staff: head office finds anyone; branch staff only a customer
    who has dealt with a merchant of their grid (points earned or spent there, or a coupon of
    it held); anybody else is ``customer_not_found``, the same answer as a number nobody has."""
    from accounts import roles
    from accounts.access import second_factor_ok
    from coupons.models import Coupon

    from .errors import CustomerNotFound

    customer = customer_find(phone=phone, customer_id=customer_id)
    if not second_factor_ok(user):
        raise CustomerNotFound()
    if roles.is_head_office(user):
        return customer
    if roles.is_branch_staff(user) and user.branch_id:
        merchants = _grid_merchant_ids(user.branch_id)
        dealt = (
            JournalEntry.objects.filter(
                lines__account__customer_id=customer.pk, merchant_id__in=merchants
            ).exists()
            or Coupon.objects.filter(
                customer_id=customer.pk, template__merchant_id__in=merchants
            ).exists()
        )
        if dealt:
            return customer
    raise CustomerNotFound()


def customer_history_for_staff(user, *, customer_id: int):
    """The history bank staff may read: all of it for head office; for branch staff only the
    entries at their grid's merchants."""
    from accounts import roles

    history = customer_history(customer_id=customer_id)
    if roles.is_head_office(user):
        return history
    return history.filter(merchant_id__in=_grid_merchant_ids(user.branch_id))


def customer_coupons_for_staff(user, *, customer_id: int):
    """The customer's coupons of merchants the user may see (all for head office)."""
    from accounts import roles
    from coupons.models import Coupon

    coupons = Coupon.objects.filter(customer_id=customer_id).select_related(
        "template", "template__merchant"
    )
    if not roles.is_head_office(user):
        coupons = coupons.filter(template__merchant_id__in=_grid_merchant_ids(user.branch_id))
    return coupons.order_by("-claimed_at", "-pk")[:50]
