"""Head-office adjustments of a customer's points."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import roles
from alliance.errors import Forbidden

from ..errors import InvalidPoints
from ..locks import lock_accounts
from ..models import JournalEntry
from .ledger import (
    Kind,
    Line,
    check_points,
    customer_account,
    existing_entry,
    lot_expires_at,
    new_entry,
    system_account,
    write_lines,
)
from .lots import Entry, State, consume_fifo, new_lot, required_reason


@transaction.atomic(durable=True)
def points_adjust(
    *,
    actor,
    customer_id: int,
    points: int,
    reason: str,
    idempotency_key: str,
    now: datetime | None = None,
) -> JournalEntry:
    """Head office corrects a balance: ``points`` > 0 credits a new available lot (standard
    expiry from ``now``), < 0 takes points FIFO like a spend (refusing ``points_insufficient``).

    The other side is the bank's adjustment account. Head office only; the reason is
    mandatory and kept on the entry. Atomic, idempotent by key; locks the accounts.
    """
    now = now or timezone.now()
    if not roles.is_head_office(actor):
        raise Forbidden(_("Only head office can adjust points."))
    reason = required_reason(reason)
    if isinstance(points, bool) or not isinstance(points, int):
        raise InvalidPoints()
    check_points(abs(points))
    if (entry := existing_entry(idempotency_key, Entry.ADJUST)) is not None:
        return entry
    customer = customer_account(customer_id=customer_id)
    adjustment = system_account(kind=Kind.ADJUSTMENT)
    accounts = lock_accounts([customer.pk, adjustment.pk])
    entry, created = new_entry(
        key=idempotency_key, kind=Entry.ADJUST, now=now, reason=reason, actor=actor,
        reference_type="adjustment",
    )
    if not created:
        return entry
    if points > 0:
        lot = new_lot(
            account_id=customer.pk, funder_id=adjustment.pk, entry=entry, points=points,
            state=State.AVAILABLE, earned_at=now, available_at=now, expires_at=lot_expires_at(now),
        )
        lines = [Line(account_id=customer.pk, amount=points, lot_id=lot.pk)]
    else:
        lines = consume_fifo(entry=entry, account_id=customer.pk, points=-points, now=now)
    write_lines(entry, [*lines, Line(account_id=adjustment.pk, amount=-points)], accounts)
    return entry
