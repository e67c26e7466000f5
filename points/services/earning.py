"""Earning points from a payment; the pending period; cancelling pending points.

All lock the accounts of the entry (pk order) before reading lots; all are idempotent.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..errors import (
    EntryNotFound,
    InvalidPoints,
    PointsNotPending,
)
from ..locks import lock_accounts
from ..models import JournalEntry, PointsLot
from .ledger import (
    AVAILABLE,
    PENDING,
    Kind,
    Line,
    check_points,
    customer_account,
    existing_entry,
    lot_available_at,
    lot_expires_at,
    new_entry,
    system_account,
    take_from_lot,
    write_lines,
)
from .lots import Entry, State, new_lot


def earn(
    *,
    customer_id: int,
    base_points: int,
    merchant_funded_points: int = 0,
    merchant_id: int | None = None,
    idempotency_key: str,
    reference_type: str = "payment",
    reference_id: int | None = None,
    reason: str = "",
    actor=None,
    now: datetime | None = None,
) -> JournalEntry:
    """Credit points earned from a payment as *pending* lots.

    ``base_points`` are funded by the bank's issuance account, ``merchant_funded_points`` by
    the merchant's funding account (one lot each, so clearing knows who pays for them). They
    become available ``ALLIANCE_POINTS_PENDING_DAYS`` after ``now`` (``points_release_pending``)
    and expire per ``lot_expires_at(now)``. Atomic, idempotent by key; locks the accounts.
    """
    now = now or timezone.now()
    if base_points < 0 or merchant_funded_points < 0:
        raise InvalidPoints()
    check_points(base_points + merchant_funded_points)
    if merchant_funded_points and merchant_id is None:
        raise InvalidPoints(_("Merchant-funded points need the merchant that funds them."))
    if (entry := existing_entry(idempotency_key, Entry.EARN)) is not None:
        return entry
    customer = customer_account(customer_id=customer_id)
    funders = []
    if base_points:
        funders.append((system_account(kind=Kind.BANK_ISSUANCE), base_points))
    if merchant_funded_points:
        funders.append(
            (system_account(kind=Kind.MERCHANT_FUNDED, merchant_id=merchant_id), merchant_funded_points)
        )
    accounts = lock_accounts([customer.pk, *(f.pk for f, _ in funders)])
    entry, created = new_entry(
        key=idempotency_key, kind=Entry.EARN, now=now, reason=reason, actor=actor,
        reference_type=reference_type, reference_id=reference_id, merchant_id=merchant_id,
    )
    if not created:
        return entry
    lines = []
    for funder, points in funders:
        lot = new_lot(
            account_id=customer.pk, funder_id=funder.pk, entry=entry, points=points,
            state=State.PENDING, earned_at=now, available_at=lot_available_at(now),
            expires_at=lot_expires_at(now),
        )
        lines += [
            Line(account_id=funder.pk, amount=-points),
            Line(account_id=customer.pk, amount=points, bucket=PENDING, lot_id=lot.pk),
        ]
    write_lines(entry, lines, accounts)
    return entry


# The service; ``earn`` itself is for services that earn inside their own transaction
# (``points_earn_for_payment``).
points_earn = transaction.atomic(durable=True)(earn)


@transaction.atomic(durable=True)
def points_release_pending(*, account_id: int, now: datetime | None = None) -> list[JournalEntry]:
    """Make the account's pending lots that are due (``available_at <= now``) available.

    One ``make_available`` entry per lot, keyed by the lot: running it twice releases nothing
    twice. Atomic; locks the account.
    """
    now = now or timezone.now()
    accounts = lock_accounts([account_id])
    due = PointsLot.objects.filter(
        account_id=account_id, state=State.PENDING, available_at__lte=now
    ).order_by("available_at", "pk")
    entries = []
    for lot in due:
        if lot.remaining_points == 0:  # cannot happen (cancelling all of a lot closes it)
            continue
        entry, created = new_entry(
            key=f"release:lot:{lot.pk}", kind=Entry.MAKE_AVAILABLE, now=now,
            reason="pending period over", reference_type="lot", reference_id=lot.pk,
        )
        if not created:
            continue
        if PointsLot.objects.filter(pk=lot.pk, state=State.PENDING).update(state=State.AVAILABLE) != 1:
            raise AssertionError(f"lot {lot.pk} changed under the account lock")
        write_lines(entry, [
            Line(account_id=account_id, amount=-lot.remaining_points, bucket=PENDING, lot_id=lot.pk),
            Line(account_id=account_id, amount=lot.remaining_points, bucket=AVAILABLE, lot_id=lot.pk),
        ], accounts)
        entries.append(entry)
    return entries


@transaction.atomic(durable=True)
def points_cancel_pending(
    *,
    earn_entry_id: int,
    points: int | None = None,
    idempotency_key: str,
    reason: str = "",
    actor=None,
    now: datetime | None = None,
) -> JournalEntry:
    """Cancel (part of) the points of an earn that are still pending -- a refund came first.

    ``points`` None cancels everything still pending of that earn. A partial cancel takes from
    the earn's lots in creation order (bank-funded first, then merchant-funded) and gives each
    back to the account that funded it. Refuses ``points_not_pending`` if that many points of
    the earn are no longer pending (they have become available or were cancelled). Atomic,
    idempotent by key; locks the accounts.
    """
    now = now or timezone.now()
    if points is not None:
        check_points(points)
    if (entry := existing_entry(idempotency_key, Entry.CANCEL_PENDING)) is not None:
        return entry
    earn = JournalEntry.objects.filter(pk=earn_entry_id, kind=Entry.EARN).first()
    if earn is None:
        raise EntryNotFound()
    lot_rows = list(earn.lots.order_by("pk").values("pk", "account_id", "funder_id"))
    accounts = lock_accounts({r["account_id"] for r in lot_rows} | {r["funder_id"] for r in lot_rows})
    lots = list(earn.lots.filter(state=State.PENDING, remaining_points__gt=0).order_by("pk"))
    pending = sum(lot.remaining_points for lot in lots)
    if points is None:
        points = pending
    if points == 0 or points > pending:
        raise PointsNotPending(extra={"pending": pending})
    entry, created = new_entry(
        key=idempotency_key, kind=Entry.CANCEL_PENDING, now=now, reason=reason, actor=actor,
        reference_type=earn.reference_type, reference_id=earn.reference_id,
        merchant_id=earn.merchant_id, reverses=earn,
    )
    if not created:
        return entry
    lines, left = [], points
    for lot in lots:
        if left == 0:
            break
        take = min(left, lot.remaining_points)
        take_from_lot(lot.pk, take)
        if take == lot.remaining_points:
            PointsLot.objects.filter(pk=lot.pk).update(state=State.CANCELLED)
        lines += [
            Line(account_id=lot.account_id, amount=-take, bucket=PENDING, lot_id=lot.pk),
            Line(account_id=lot.funder_id, amount=take),
        ]
        left -= take
    write_lines(entry, lines, accounts)
    return entry
