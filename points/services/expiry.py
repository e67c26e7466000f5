"""Expiry of lots whose time has come (the daily job calls this per account)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..locks import lock_accounts
from ..models import JournalEntry, PointsLot
from .ledger import (
    Kind,
    Line,
    new_entry,
    system_account,
    take_from_lot,
    write_lines,
)
from .lots import Entry, State


@transaction.atomic(durable=True)
def points_expire(*, account_id: int, now: datetime | None = None) -> list[JournalEntry]:
    """Expire the account's available lots whose expiry has come (``expires_at <= now``).

    What is left of each lot goes to the expiry account in one entry per lot, keyed by the lot
    (so a re-run expires nothing twice); empty lots are just marked expired. Atomic; locks the
    customer's and the expiry account.
    """
    now = now or timezone.now()
    expiry = system_account(kind=Kind.EXPIRY)
    accounts = lock_accounts([account_id, expiry.pk])
    due = PointsLot.objects.filter(
        account_id=account_id, state=State.AVAILABLE, expires_at__lte=now
    ).order_by("expires_at", "pk")
    entries = []
    for lot in due:
        if lot.remaining_points == 0:
            PointsLot.objects.filter(pk=lot.pk).update(state=State.EXPIRED)
            continue
        entry, created = new_entry(
            key=f"expire:lot:{lot.pk}", kind=Entry.EXPIRE, now=now, reason="expired",
            reference_type="lot", reference_id=lot.pk,
        )
        if not created:
            continue
        take_from_lot(lot.pk, lot.remaining_points)
        PointsLot.objects.filter(pk=lot.pk).update(state=State.EXPIRED)
        write_lines(entry, [
            Line(account_id=account_id, amount=-lot.remaining_points, lot_id=lot.pk),
            Line(account_id=expiry.pk, amount=lot.remaining_points),
        ], accounts)
        entries.append(entry)
    return entries
