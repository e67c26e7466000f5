"""The double-entry core: accounts, the posting primitive, expiry dates, ``points_post``.

Every service that moves points follows the same steps, so that retries and concurrent calls
change nothing twice and nothing goes negative:

1. return the existing entry if its idempotency key is already used (cheap path);
2. lock every account the entry touches (``locks.lock_accounts``: pk order);
3. look for the key again (a concurrent twin may have committed while we waited for the lock);
4. write the entry inside a savepoint -- the unique key is the guarantee -- then its lines and
   the balance changes, as conditional updates whose row counts are checked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..errors import (
    CustomerLinesNeedService,
    IdempotencyKeyReused,
    InvalidPoints,
    PointsInsufficient,
    UnbalancedEntry,
)
from ..locks import lock_accounts
from ..models import JournalEntry, JournalLine, PointsAccount, PointsLot

Kind = PointsAccount.Kind
AVAILABLE = JournalLine.Bucket.AVAILABLE
PENDING = JournalLine.Bucket.PENDING


@dataclass(frozen=True)
class Line:
    """One line of an entry to post: ``amount`` points (signed) in one bucket of one account."""

    account_id: int
    amount: int
    bucket: str = AVAILABLE
    lot_id: int | None = None


# --- Accounts -----------------------------------------------------------------------------------


def _get_or_create(lookup: dict) -> PointsAccount:
    account = PointsAccount.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():  # savepoint: a concurrent twin may win the unique constraint
            return PointsAccount.objects.create(**lookup)
    except IntegrityError:
        return PointsAccount.objects.get(**lookup)


def customer_account(*, customer_id: int) -> PointsAccount:
    """The customer's points account, opened on first use (idempotent under races)."""
    return _get_or_create({"kind": Kind.CUSTOMER, "customer_id": customer_id})


def system_account(*, kind: str, merchant_id: int | None = None) -> PointsAccount:
    """The bank's account of ``kind``, or the one of ``merchant_id`` (opened on first use)."""
    if kind == Kind.CUSTOMER:
        raise ValueError("customer accounts belong to a customer")
    return _get_or_create({"kind": kind, "merchant_id": merchant_id})


# --- Time ---------------------------------------------------------------------------------------


def points_zone() -> ZoneInfo:
    return ZoneInfo(settings.ALLIANCE_POINTS_TIME_ZONE)


def lot_expires_at(earned_at: datetime) -> datetime:
    """End of the Nth month after the month of ``earned_at``, in the points time zone.

    Returned as the first instant of the following month (an exclusive bound): earned at
    2026-01-31 23:30 Shanghai -> 2027-02-01 00:00 Shanghai with N = 12.
    """
    local = timezone.localtime(earned_at, points_zone())
    index = local.year * 12 + (local.month - 1) + settings.ALLIANCE_POINTS_EXPIRY_MONTHS + 1
    year, month0 = divmod(index, 12)
    return datetime(year, month0 + 1, 1, tzinfo=points_zone())


def lot_available_at(earned_at: datetime) -> datetime:
    return earned_at + timedelta(days=settings.ALLIANCE_POINTS_PENDING_DAYS)


# --- Posting ------------------------------------------------------------------------------------


def check_points(points: int) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise InvalidPoints()
    return points


def existing_entry(key: str, kind: str) -> JournalEntry | None:
    entry = JournalEntry.objects.filter(idempotency_key=key).first()
    if entry is not None and entry.kind != kind:
        raise IdempotencyKeyReused(extra={"idempotency_key": key})
    return entry


def check_lines(lines: Sequence[Line]) -> None:
    if len(lines) < 2 or sum(line.amount for line in lines) != 0:
        raise UnbalancedEntry()
    for line in lines:
        if isinstance(line.amount, bool) or not isinstance(line.amount, int) or line.amount == 0:
            raise UnbalancedEntry()


def new_entry(*, key: str, kind: str, now: datetime, **fields) -> tuple[JournalEntry, bool]:
    """Insert the entry in a savepoint; on a key collision return the row that won instead."""
    try:
        with transaction.atomic():
            return JournalEntry.objects.create(
                idempotency_key=key, kind=kind, posted_at=now, **fields
            ), True
    except IntegrityError:
        entry = existing_entry(key, kind)
        if entry is None:
            raise
        return entry, False


def write_lines(entry: JournalEntry, lines: Sequence[Line], accounts: dict[int, PointsAccount]) -> None:
    """Write the lines and move the stored balances (the accounts must be locked by the caller).

    A customer bucket that would go below zero is refused with ``points_insufficient`` (the
    check constraint would refuse it too; the conditional update gives the friendly error).
    """
    check_lines(lines)
    JournalLine.objects.bulk_create(
        JournalLine(
            entry=entry, account_id=line.account_id, bucket=line.bucket,
            amount=line.amount, lot_id=line.lot_id,
        )
        for line in lines
    )
    deltas: dict[tuple[int, str], int] = defaultdict(int)
    for line in lines:
        deltas[line.account_id, line.bucket] += line.amount
    for (account_id, bucket), delta in sorted(deltas.items()):
        if delta == 0:
            continue
        field = "balance" if bucket == AVAILABLE else "pending"
        rows = PointsAccount.objects.filter(pk=account_id)
        if accounts[account_id].kind == Kind.CUSTOMER and delta < 0:
            rows = rows.filter(**{f"{field}__gte": -delta})
        if rows.update(**{field: F(field) + delta}) != 1:
            raise PointsInsufficient()


def take_from_lot(lot_id: int, points: int) -> None:
    if PointsLot.objects.filter(pk=lot_id, remaining_points__gte=points).update(
        remaining_points=F("remaining_points") - points
    ) != 1:
        raise PointsInsufficient()


def give_to_lot(lot_id: int, points: int) -> None:
    if PointsLot.objects.filter(
        pk=lot_id, remaining_points__lte=F("original_points") - points
    ).update(remaining_points=F("remaining_points") + points) != 1:
        raise AssertionError(f"lot {lot_id} cannot take back {points} points")


# --- Generic posting between system accounts -----------------------------------------------------


@transaction.atomic(durable=True)
def points_post(
    *,
    lines: Sequence[Line],
    idempotency_key: str,
    reason: str,
    actor=None,
    reference_type: str = "",
    reference_id: int | None = None,
    now: datetime | None = None,
) -> JournalEntry:
    """Post a balanced entry between *system* accounts (e.g. settling a clearing position).

    Atomic and committed on return; idempotent by key (a repeat returns the first entry).
    Locks the accounts in pk order. Refuses ``unbalanced_entry`` unless there are two or more
    non-zero lines summing to zero, and lines on customer accounts (their points live in lots,
    which only the customer services keep in step).
    """
    now = now or timezone.now()
    kind = JournalEntry.Kind.POST
    check_lines(lines)
    if (entry := existing_entry(idempotency_key, kind)) is not None:
        return entry
    accounts = lock_accounts(line.account_id for line in lines)
    if len(accounts) != len({line.account_id for line in lines}):
        raise UnbalancedEntry()
    if any(a.kind == Kind.CUSTOMER for a in accounts.values()) or any(
        line.bucket != AVAILABLE or line.lot_id for line in lines
    ):
        raise CustomerLinesNeedService()
    entry, created = new_entry(
        key=idempotency_key, kind=kind, now=now, reason=reason, actor=actor,
        reference_type=reference_type, reference_id=reference_id,
    )
    if created:
        write_lines(entry, lines, accounts)
    return entry
