"""Membership tiers from rolling 12-month spending, and earning from a paid payment.

Upgrades take effect at once; a downgrade happens at most once per calendar month (points time
zone) -- on the monthly review, or on the next evaluation of a month without one. Every change
writes a ``TierHistory`` row.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import JournalEntry, MemberTier, QualifyingSpend, Tier, TierHistory
from ..selectors import earn_quote, rolling_spending_fen
from .earning import earn
from .ledger import points_zone


def _month(at: datetime) -> tuple[int, int]:
    local = timezone.localtime(at, points_zone())
    return local.year, local.month


def record_spending(*, customer_id: int, amount_fen: int, idempotency_key: str, now: datetime) -> bool:
    """Count ``amount_fen`` (negative for a refund) towards tiers, once per key. In the
    caller's transaction. Returns whether it was new."""
    try:
        with transaction.atomic():
            QualifyingSpend.objects.create(
                customer_id=customer_id, amount_fen=amount_fen,
                idempotency_key=idempotency_key, at=now,
            )
    except IntegrityError:
        return False
    return True


def evaluate_tier(*, customer_id: int, now: datetime) -> Tier | None:
    """Move the customer to the tier their spending earns, within the downgrade limit. In the
    caller's transaction; locks the customer's ``MemberTier`` row."""
    tiers = list(Tier.objects.order_by("threshold_fen"))
    if not tiers:
        return None
    spending = rolling_spending_fen(customer_id=customer_id, at=now)
    target = [t for t in tiers if t.threshold_fen <= spending][-1:] or tiers[:1]
    target = target[0]
    try:
        with transaction.atomic():
            MemberTier.objects.get_or_create(
                customer_id=customer_id, defaults={"tier": tiers[0], "since": now}
            )
    except IntegrityError:
        pass  # a concurrent evaluation created it
    row = MemberTier.objects.select_for_update().select_related("tier").get(customer_id=customer_id)
    current = row.tier
    if target.threshold_fen == current.threshold_fen:
        return current
    if target.threshold_fen < current.threshold_fen:
        if row.last_downgrade_at is not None and _month(row.last_downgrade_at) == _month(now):
            return current
        row.last_downgrade_at = now
    row.tier, row.since = target, now
    row.save(update_fields=["tier", "since", "last_downgrade_at"])
    TierHistory.objects.create(
        customer_id=customer_id, old_tier=current, new_tier=target, spending_fen=spending, at=now
    )
    return target


@transaction.atomic(durable=True)
def tier_evaluate(*, customer_id: int, now: datetime | None = None) -> Tier | None:
    """Re-evaluate one customer's tier (the monthly review calls this for every member).
    Atomic; locks the member's tier row; a repeat changes nothing."""
    return evaluate_tier(customer_id=customer_id, now=now or timezone.now())


@transaction.atomic(durable=True)
def tier_record_spending(
    *, customer_id: int, amount_fen: int, idempotency_key: str, now: datetime | None = None
) -> Tier | None:
    """Count a payment (or, negative, its refund) towards tiers and re-evaluate the tier.
    Atomic, idempotent by key."""
    now = now or timezone.now()
    record_spending(customer_id=customer_id, amount_fen=amount_fen,
                    idempotency_key=idempotency_key, now=now)
    return evaluate_tier(customer_id=customer_id, now=now)


@transaction.atomic
def points_earn_for_payment_within(
    *,
    customer_id: int,
    payment_id: int,
    amount_fen: int,
    merchant_id: int,
    category: str = "",
    now: datetime | None = None,
) -> JournalEntry | None:
    """Award the points a paid payment earns under the rules in force, and count it for tiers.

    Points are quoted at the tier the customer held *before* this payment; the payment then
    counts towards the tier (an upgrade applies from the next payment). Returns the earn entry,
    or None when the payment earns no points. Atomic; idempotent by the payment id.
    """
    now = now or timezone.now()
    quote = earn_quote(customer_id=customer_id, amount_fen=amount_fen, merchant_id=merchant_id,
                       category=category, at=now)
    entry = None
    if quote.total > 0:
        entry = earn(
            customer_id=customer_id, base_points=quote.bank_points,
            merchant_funded_points=quote.merchant_points, merchant_id=merchant_id,
            idempotency_key=f"payment:{payment_id}:earn", reference_type="payment",
            reference_id=payment_id, now=now,
        )
    record_spending(customer_id=customer_id, amount_fen=amount_fen,
                    idempotency_key=f"payment:{payment_id}:spend", now=now)
    evaluate_tier(customer_id=customer_id, now=now)
    return entry


# The same as a transaction of its own (``points_earn_for_payment_within`` runs in the caller's: the paid notification).
points_earn_for_payment = transaction.atomic(durable=True)(points_earn_for_payment_within)
