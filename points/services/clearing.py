"""Monthly points clearing: the funder charge.

A customer's points are funded either by the bank (its own issuance) or by a merchant
(merchant-funded extras: lots whose funder is a ``MERCHANT_FUNDED`` account). The merchant where
points are *spent* is paid their full value, whoever funded them, by the daily settlement
(``payments.services.settlement``, the bank advances it); the clearing never pays it again.
What the month settles is the *funding* side: a merchant owes the bank the value of the points
it funded that were spent in the month, wherever they were spent (at another merchant, at its
own shops, on a coupon exchanged with the bank), net of refunds of those spends. Bank-funded
points are the bank's cost and charge nobody.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from ..errors import ClearingChanged, ClearingPeriodOpen, InvalidPoints
from ..models import (
    ClearingLine,
    ClearingRun,
    ClearingStatement,
    JournalEntry,
    JournalLine,
    PointsAccount,
)
from .ledger import points_zone


def points_to_fen(points: int) -> int:
    """Value of ``points`` in fen at ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN, rounded toward 0."""
    per_yuan = settings.ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN
    fen = abs(points) * 100 // per_yuan
    return fen if points >= 0 else -fen


def _period_bounds(period: date) -> tuple[datetime, datetime]:
    zone = points_zone()
    start = datetime(period.year, period.month, 1, tzinfo=zone)
    year, month = (period.year + 1, 1) if period.month == 12 else (period.year, period.month + 1)
    return start, datetime(year, month, 1, tzinfo=zone)


def clearing_lines(period: date) -> list[tuple[int | None, int | None, int, int]]:
    """(spent at merchant, funder merchant or None for the bank, net points, fen) of a month.

    Net points are what spends at a merchant took from lots, minus what refunds of spends
    there gave back, in entries posted within the month; each lot's funder decides who pays.
    """
    start, end = _period_bounds(period)
    rows = (
        JournalLine.objects.filter(
            entry__kind__in=[JournalEntry.Kind.SPEND, JournalEntry.Kind.REFUND],
            entry__posted_at__gte=start, entry__posted_at__lt=end,
            account__kind=PointsAccount.Kind.CUSTOMER,
        )
        .values("entry__merchant_id", "lot__funder__kind", "lot__funder__merchant_id")
        .annotate(points=Sum("amount"))
    )
    net: dict[tuple[int | None, int | None], int] = defaultdict(int)
    for row in rows:
        funder = (
            row["lot__funder__merchant_id"]
            if row["lot__funder__kind"] == PointsAccount.Kind.MERCHANT_FUNDED else None
        )
        net[row["entry__merchant_id"], funder] -= row["points"]  # spends are negative lines
    return [(s, f, p, points_to_fen(p)) for (s, f), p in sorted(net.items(), key=_nulls_last) if p]


def _nulls_last(item) -> tuple:
    (spent_at, funder), _points = item
    return (spent_at is None, spent_at or 0, funder is None, funder or 0)


@transaction.atomic(durable=True)
def points_clearing_run(*, period: date, now: datetime | None = None) -> ClearingRun:
    """Clear one calendar month (``period`` = its first day, points time zone).

    Writes per (spent-at, funder) pair a ``ClearingLine``, the evidence, and per merchant in
    those lines a ``ClearingStatement`` (in fen, net of refunds of spends):

    - ``funded_fen``: its lines as funder, wherever the points were spent, itself included;
    - ``spent_here_paid_fen``: its lines as spent-at, information only: daily settlement paid it;
    - ``net_fen``: what it owes the bank, = ``funded_fen``; negative when refunds of earlier
      months' spends of its points outweigh this month's spends (the bank owes it back).

    Bank-funded lines charge nobody: the nets sum to the merchant-funded lines. Refuses a month
    that has not ended. Re-running returns the same run; if the ledger of that month changed
    since, refuses ``points_clearing_changed``. Atomic (durable).
    """
    now = now or timezone.now()
    if period.day != 1:
        raise InvalidPoints()
    if _period_bounds(period)[1] > now:
        raise ClearingPeriodOpen()
    lines = clearing_lines(period)
    existing = ClearingRun.objects.filter(period=period).first()
    if existing is None:
        try:
            with transaction.atomic():
                run = ClearingRun.objects.create(period=period)
        except IntegrityError:
            existing = ClearingRun.objects.get(period=period)
    if existing is not None:
        stored = list(existing.lines.values_list(
            "spent_at_merchant_id", "funder_merchant_id", "points", "amount_fen"))
        if sorted(stored, key=str) != sorted(lines, key=str):
            raise ClearingChanged(extra={"period": period.isoformat()})
        return existing
    ClearingLine.objects.bulk_create(
        ClearingLine(run=run, spent_at_merchant_id=s, funder_merchant_id=f, points=p, amount_fen=fen)
        for s, f, p, fen in lines
    )
    funded: dict[int, int] = defaultdict(int)
    spent_here: dict[int, int] = defaultdict(int)
    for spent_at, funder, _points, fen in lines:
        if funder is not None:
            funded[funder] += fen
        if spent_at is not None:
            spent_here[spent_at] += fen
    ClearingStatement.objects.bulk_create(
        ClearingStatement(run=run, merchant_id=m, funded_fen=funded[m],
                          spent_here_paid_fen=spent_here[m], net_fen=funded[m])
        for m in sorted(set(funded) | set(spent_here))
    )
    return run
