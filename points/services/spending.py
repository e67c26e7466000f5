"""Spending points (FIFO by expiry), refunding spends, and member-to-member transfers."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import roles
from alliance.errors import Forbidden

from ..errors import (
    EntryNotFound,
    InvalidPoints,
    PointsInsufficient,
    PointsTransferDisabled,
    RefundExceedsSpend,
)
from ..locks import lock_accounts
from ..models import JournalEntry, LotAllocation, PointsLot, PointsPolicy
from .ledger import (
    Kind,
    Line,
    check_points,
    customer_account,
    existing_entry,
    give_to_lot,
    lot_expires_at,
    new_entry,
    system_account,
    write_lines,
)
from .lots import Entry, State, consume_fifo, new_lot


@transaction.atomic
def points_spend_within(
    *,
    customer_id: int,
    points: int,
    idempotency_key: str,
    merchant_id: int | None = None,
    reference_type: str = "payment",
    reference_id: int | None = None,
    reason: str = "",
    actor=None,
    now: datetime | None = None,
) -> JournalEntry:
    """Spend available points, soonest-expiring lot first (then oldest lot), at ``merchant_id``.

    The points go to that merchant's clearing account (the bank's own one when there is no
    merchant, e.g. a coupon exchanged for points); ``LotAllocation`` rows record which lots
    paid. Lots past their expiry are never spent, even before the expiry job has run. Refuses
    ``points_insufficient`` and never overdraws: the account row is locked, the balance
    update is conditional, and the database refuses a negative balance. Atomic, idempotent by
    key. Runs inside the caller's transaction (a coupon exchanged for points commits with the
    coupon or not at all); :func:`points_spend` is the same as a transaction of its own.
    """
    now = now or timezone.now()
    check_points(points)
    if (entry := existing_entry(idempotency_key, Entry.SPEND)) is not None:
        return entry
    customer = customer_account(customer_id=customer_id)
    clearing = system_account(kind=Kind.CLEARING, merchant_id=merchant_id)
    accounts = lock_accounts([customer.pk, clearing.pk])
    if (entry := existing_entry(idempotency_key, Entry.SPEND)) is not None:
        return entry
    if accounts[customer.pk].balance < points:  # quick refusal before any write
        raise PointsInsufficient(extra={"available": accounts[customer.pk].balance, "requested": points})
    entry, created = new_entry(
        key=idempotency_key, kind=Entry.SPEND, now=now, reason=reason, actor=actor,
        reference_type=reference_type, reference_id=reference_id, merchant_id=merchant_id,
    )
    if not created:
        return entry
    lines = consume_fifo(entry=entry, account_id=customer.pk, points=points, now=now)
    write_lines(entry, [*lines, Line(account_id=clearing.pk, amount=points)], accounts)
    return entry


# The same as a transaction of its own: committed when it returns.
points_spend = transaction.atomic(durable=True)(points_spend_within)


@transaction.atomic
def points_refund_spend_within(
    *,
    spend_entry_id: int,
    points: int | None = None,
    idempotency_key: str,
    reason: str = "",
    actor=None,
    now: datetime | None = None,
) -> JournalEntry:
    """Give back (part of) a spend's points; ``points`` None gives back all that is left.

    Where the points go: **into the very lots they came from** while a lot has not expired
    (``expires_at > now``); the points of lots that have expired (swept or not) go into **one
    new available lot per funder, with the standard expiry counted from ``now``** -- a refund
    never hands back points that are already dead, and never loses them either. Lots are
    refilled in reverse spending order (latest expiry first). Refuses
    ``points_refund_exceeds_spend`` beyond what is left of the spend. Atomic, idempotent by
    key; locks the customer's and the clearing account.
    """
    now = now or timezone.now()
    if points is not None:
        check_points(points)
    if (entry := existing_entry(idempotency_key, Entry.REFUND)) is not None:
        return entry
    spend = JournalEntry.objects.filter(pk=spend_entry_id, kind=Entry.SPEND).first()
    if spend is None:
        raise EntryNotFound()
    clearing_line = spend.lines.get(amount__gt=0)
    customer_id = spend.lines.filter(amount__lt=0).values_list("account_id", flat=True)[0]
    accounts = lock_accounts([customer_id, clearing_line.account_id])
    if (entry := existing_entry(idempotency_key, Entry.REFUND)) is not None:
        return entry
    allocations = list(
        spend.allocations.select_related("lot").order_by("-lot__expires_at", "-lot_id")
    )
    left_to_refund = sum(a.points - a.refunded_points for a in allocations)
    if points is None:
        points = left_to_refund
    if points == 0 or points > left_to_refund:
        raise RefundExceedsSpend(extra={"refundable": left_to_refund})
    entry, created = new_entry(
        key=idempotency_key, kind=Entry.REFUND, now=now, reason=reason, actor=actor,
        reference_type=spend.reference_type, reference_id=spend.reference_id,
        merchant_id=spend.merchant_id, reverses=spend,
    )
    if not created:
        return entry
    lines, left = [], points
    to_new_lot: dict[int, int] = defaultdict(int)  # funder id -> points
    for allocation in allocations:
        if left == 0:
            break
        give = min(left, allocation.points - allocation.refunded_points)
        if give == 0:
            continue
        if LotAllocation.objects.filter(
            pk=allocation.pk, refunded_points__lte=F("points") - give
        ).update(refunded_points=F("refunded_points") + give) != 1:
            raise AssertionError("allocation changed under the account lock")
        lot = allocation.lot
        if lot.state == State.AVAILABLE and lot.expires_at > now:
            give_to_lot(lot.pk, give)
            lines.append(Line(account_id=customer_id, amount=give, lot_id=lot.pk))
        else:
            to_new_lot[lot.funder_id] += give
        left -= give
    for funder_id, give in sorted(to_new_lot.items()):
        lot = new_lot(
            account_id=customer_id, funder_id=funder_id, entry=entry, points=give,
            state=State.AVAILABLE, earned_at=now, available_at=now, expires_at=lot_expires_at(now),
        )
        lines.append(Line(account_id=customer_id, amount=give, lot_id=lot.pk))
    lines.append(Line(account_id=clearing_line.account_id, amount=-points))
    write_lines(entry, lines, accounts)
    return entry




# The same as a transaction of its own (``points_refund_spend_within`` runs in the caller's: a payment refund).
points_refund_spend = transaction.atomic(durable=True)(points_refund_spend_within)


@transaction.atomic(durable=True)
def points_transfer(
    *,
    actor,
    from_customer_id: int,
    to_customer_id: int,
    points: int,
    idempotency_key: str,
    now: datetime | None = None,
) -> JournalEntry:
    """Move points from one member to another, when head office has turned transfers on
    (``PointsPolicy.transfer_enabled``).

    Refuses ``points_transfer_disabled`` otherwise. The sender's lots are consumed FIFO; the
    receiver gets one lot per consumed lot with the same expiry and funder (a transfer does
    not extend points' life). Only the sender or head office may transfer. Atomic,
    idempotent by key; locks both accounts in pk order.
    """
    now = now or timezone.now()
    if not PointsPolicy.current().transfer_enabled:
        raise PointsTransferDisabled()
    if not (roles.is_head_office(actor) or getattr(actor, "pk", None) == from_customer_id):
        raise Forbidden()
    check_points(points)
    if from_customer_id == to_customer_id:
        raise InvalidPoints(_("Points cannot be transferred to the same member."))
    if (entry := existing_entry(idempotency_key, Entry.TRANSFER)) is not None:
        return entry
    sender = customer_account(customer_id=from_customer_id)
    receiver = customer_account(customer_id=to_customer_id)
    accounts = lock_accounts([sender.pk, receiver.pk])
    entry, created = new_entry(
        key=idempotency_key, kind=Entry.TRANSFER, now=now, reason="transfer", actor=actor,
        reference_type="customer", reference_id=to_customer_id,
    )
    if not created:
        return entry
    out_lines = consume_fifo(entry=entry, account_id=sender.pk, points=points, now=now)
    in_lines = []
    for line in out_lines:
        source = PointsLot.objects.get(pk=line.lot_id)
        lot = new_lot(
            account_id=receiver.pk, funder_id=source.funder_id, entry=entry, points=-line.amount,
            state=State.AVAILABLE, earned_at=now, available_at=now, expires_at=source.expires_at,
        )
        in_lines.append(Line(account_id=receiver.pk, amount=-line.amount, lot_id=lot.pk))
    write_lines(entry, [*out_lines, *in_lines], accounts)
    return entry
