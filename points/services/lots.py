"""Helpers over a customer's lots shared by the services (callers hold the account lock)."""

from __future__ import annotations

from datetime import datetime

from ..errors import (
    PointsInsufficient,
    ReasonRequired,
)
from ..models import JournalEntry, LotAllocation, PointsLot
from .ledger import (
    Line,
    take_from_lot,
)

Entry = JournalEntry.Kind
State = PointsLot.State


def required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    return reason


def new_lot(*, account_id, funder_id, entry, points, state, earned_at, available_at, expires_at):
    return PointsLot.objects.create(
        account_id=account_id, funder_id=funder_id, source_entry=entry,
        original_points=points, remaining_points=points, state=state,
        earned_at=earned_at, available_at=available_at, expires_at=expires_at,
    )


def usable_lots(account_id: int, now: datetime):
    """Available, unexpired lots with points left, in the order they are consumed."""
    return list(
        PointsLot.objects.filter(
            account_id=account_id, state=State.AVAILABLE, remaining_points__gt=0, expires_at__gt=now
        ).order_by("expires_at", "pk")
    )


def consume_fifo(*, entry, account_id: int, points: int, now: datetime) -> list[Line]:
    """Take ``points`` from the account's lots, soonest expiry first; record the allocations.

    Returns the customer-side lines (one per lot). Refuses ``points_insufficient``.
    """
    lots = usable_lots(account_id, now)
    usable = sum(lot.remaining_points for lot in lots)
    if usable < points:
        raise PointsInsufficient(extra={"available": usable, "requested": points})
    lines, left = [], points
    for lot in lots:
        if left == 0:
            break
        take = min(left, lot.remaining_points)
        take_from_lot(lot.pk, take)
        LotAllocation.objects.create(entry=entry, lot=lot, points=take)
        lines.append(Line(account_id=account_id, amount=-take, lot_id=lot.pk))
        left -= take
    return lines
