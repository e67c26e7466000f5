"""Taking back the points a payment earned when the payment is refunded, whenever that is.

``points_cancel_pending`` covers a refund that comes while the points are still pending. A
refund can also come after they became available, or after the customer used some of them;
``points_reverse_earn`` handles every case the same way, and says what it could not take.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ..errors import EntryNotFound, IdempotencyKeyReused, ReverseExceedsEarn
from ..locks import lock_accounts
from ..models import EarnReversal, JournalEntry, JournalLine, LotAllocation, PointsLot
from .ledger import AVAILABLE, PENDING, Line, check_points, new_entry, take_from_lot, write_lines
from .lots import Entry, State, consume_fifo, usable_lots


@transaction.atomic
def points_reverse_earn_within(
    *,
    earn_entry_id: int,
    points: int | None = None,
    idempotency_key: str,
    reason: str = "",
    actor=None,
    now: datetime | None = None,
) -> EarnReversal:
    """Take back ``points`` of an earn (None: all that has not been taken back yet).

    In this order, until enough is taken:

    1. the earn's own lots that are still **pending** (cancelled as ``points_cancel_pending``
       would);
    2. what is left of the earn's own lots that are **available** and not expired;
    3. the customer's **other available points**, soonest expiry first (the points of the
       refunded payment were spent, so others stand in for them).

    What cannot be taken -- the customer has used the points and has none left -- is the
    ``shortfall``: balances never go negative, so it is recorded, not posted; the payment's
    refund decides what to do with it. Every point taken goes back to the account that funded
    the earn (the bank's issuance account for base points, the merchant's for its extras, in
    the earn's lot order), so the earn's funders end as if the refunded part had not been
    earned. Lots taken from are recorded as ``LotAllocation`` rows of the clawback entry.

    Refuses ``points_reverse_exceeds_earn`` beyond what is left to take back of the earn (its
    points, less what earlier reversals asked back -- taken or short -- and pending
    cancellations). Atomic, idempotent by key;
    locks the customer's account and the earn's funders, in pk order.
    """
    now = now or timezone.now()
    if points is not None:
        check_points(points)
    if (done := _done(idempotency_key, earn_entry_id)) is not None:
        return done
    earn = JournalEntry.objects.filter(pk=earn_entry_id, kind=Entry.EARN).first()
    if earn is None:
        raise EntryNotFound()
    own = list(earn.lots.order_by("pk"))
    customer_id = own[0].account_id
    accounts = lock_accounts([customer_id, *(lot.funder_id for lot in own)])
    if (done := _done(idempotency_key, earn_entry_id)) is not None:  # a twin won the lock
        return done

    credited = _credited_back(earn)
    short_before = earn.earn_reversals.aggregate(n=Sum("shortfall"))["n"] or 0
    left_to_reverse = sum(lot.original_points for lot in own) - sum(credited.values()) - short_before
    points = left_to_reverse if points is None else points
    if points == 0 or points > left_to_reverse:
        raise ReverseExceedsEarn(extra={"reversible": left_to_reverse})

    entry, lines, left = None, [], points
    own = list(PointsLot.objects.filter(pk__in=[lot.pk for lot in own]).order_by("pk"))  # fresh
    for lot in own:
        usable = lot.state == State.PENDING or (
            lot.state == State.AVAILABLE and lot.expires_at > now
        )
        take = min(left, lot.remaining_points) if usable else 0
        if take == 0:
            continue
        entry = entry or _entry(idempotency_key, earn, reason, actor, now)
        take_from_lot(lot.pk, take)
        if lot.state == State.PENDING:
            if take == lot.remaining_points:
                PointsLot.objects.filter(pk=lot.pk).update(state=State.CANCELLED)
            lines.append(Line(account_id=customer_id, amount=-take, bucket=PENDING, lot_id=lot.pk))
        else:
            LotAllocation.objects.create(entry=entry, lot=lot, points=take)
            lines.append(Line(account_id=customer_id, amount=-take, bucket=AVAILABLE, lot_id=lot.pk))
        left -= take
    if left and (others := sum(lot.remaining_points for lot in usable_lots(customer_id, now))):
        entry = entry or _entry(idempotency_key, earn, reason, actor, now)
        take = min(left, others)
        lines += consume_fifo(entry=entry, account_id=customer_id, points=take, now=now)
        left -= take

    taken = points - left
    if taken:
        lines += _funder_lines(own, credited, taken)
        write_lines(entry, lines, accounts)
    return EarnReversal.objects.create(
        idempotency_key=idempotency_key, earn=earn, entry=entry, points=points,
        taken=taken, shortfall=left, at=now,
    )


# The same as a transaction of its own (``points_reverse_earn_within`` runs in the caller's: a payment refund).
points_reverse_earn = transaction.atomic(durable=True)(points_reverse_earn_within)


def _done(key: str, earn_entry_id: int) -> EarnReversal | None:
    done = EarnReversal.objects.filter(idempotency_key=key).first()
    if done is not None and done.earn_id != earn_entry_id:
        raise IdempotencyKeyReused(extra={"idempotency_key": key})
    return done


def _entry(key: str, earn: JournalEntry, reason: str, actor, now: datetime) -> JournalEntry:
    entry, created = new_entry(
        key=key, kind=Entry.CLAWBACK, now=now, reason=reason, actor=actor,
        reference_type=earn.reference_type, reference_id=earn.reference_id,
        merchant_id=earn.merchant_id, reverses=earn,
    )
    if not created:  # the key belongs to a clawback of another reversal
        raise IdempotencyKeyReused(extra={"idempotency_key": key})
    return entry


def _credited_back(earn: JournalEntry) -> dict[int, int]:
    """Points already given back to each of the earn's funders, by funder account id: by
    cancellations of its pending points and by earlier clawbacks (both reverse the earn)."""
    funders = set(earn.lots.values_list("funder_id", flat=True))
    rows = (
        JournalLine.objects.filter(
            entry__reverses=earn,
            entry__kind__in=[Entry.CANCEL_PENDING, Entry.CLAWBACK],
            account_id__in=funders,
        )
        .values("account_id")
        .annotate(points=Sum("amount"))
    )
    return {row["account_id"]: row["points"] for row in rows}


def _funder_lines(own: list[PointsLot], credited: dict[int, int], taken: int) -> list[Line]:
    """``taken`` points back to the earn's funders, in the earn's lot order, each up to what
    its lot put in less what it already got back."""
    lines, left = [], taken
    for lot in own:
        give = min(left, lot.original_points - credited.get(lot.funder_id, 0))
        if give > 0:
            lines.append(Line(account_id=lot.funder_id, amount=give))
            left -= give
    if left:
        raise AssertionError("a reversal gave back more than the earn put in")
    return lines
