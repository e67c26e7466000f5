"""Daily settlement (T+1): per merchant, what the alliance pays it for a business day.

A batch settles one Asia/Shanghai day for every merchant, the day after. For each merchant:

- **paid in** (``gross_fen``): the cash the channels charged (``amount_fen``) for its orders
  paid in the day (``paid_at``); orders paid entirely by coupon and points add 0 here;
- **refunds** (``refunds_fen``): refunds that succeeded in the day (``succeeded_at``);
- **fees**: each paid order's ``fee_fen``, fixed when it was paid: ``fee_for(amount_fen,
  fee_rate_bp)``, i.e. ``amount x rate / 10,000`` rounded half up to the fen, per order (never
  on a day's total). A refund gives fee back by its *cumulative* share, rounded down: after
  refunds totalling R of a charge C, ``floor(fee x R / C)`` has been given back, so several
  partial refunds never give back more than the fee, and a full refund gives back all of it;
- **campaign subsidies**: the coupon discount of orders whose coupon a bank campaign funded
  (``coupon_campaign``), owed to the merchant by the bank; taken back by the refund that gave
  the coupon back to the customer (a full refund while the coupon is valid:
  ``Refund.coupon_restored``, the same moment the campaign's spending is released). A full
  refund that could not give the coupon back (it had expired) leaves the subsidy owed: the
  campaign spent it;
- **points value**: the ``points_fen`` of paid orders, i.e. the part of the bill the customer
  paid with points instead of cash, which the alliance owes the merchant like cash; taken back
  by cumulative share of the points refunds gave back to the customer, rounded down
  (``floor(points_fen x P / points_used)`` after P points were given back, all of it when all
  were);
- **net** = paid in - refunds - fees + fees given back + subsidies - subsidies taken back +
  points value - points value given back - debt carried in; the **payout** is the net when it
  is positive, else 0.

Points and the monthly points clearing (``points.services.clearing``): this settlement pays the
merchant where points were *spent* their full value, day by day, advanced by the bank, whoever
funded them. The monthly clearing answers the other question, who *funded* those points, and
pays nobody: bank-funded points are the bank's cost; a merchant that funded points (its
merchant-funded extras) is charged their value when they are spent, anywhere, its own shops
included (its statement's ``net_fen``, owed to the bank). The statement's
``spent_here_paid_fen`` is only information: the ledger's value of the points spent at the
merchant in the month, which this settlement pays (by the day an order was paid, not the
moment its points were spent). Between the two nothing is counted twice: spent-at is paid here
once, funding is charged there once.

Late payments (``late_payment``: paid after we had closed the order) are settled like any
paid order; their automatic full refund nets the cash and the fee to zero. Their coupon and
points had already been given back when the order closed, so they owe no subsidy and no points
value.

A merchant whose net is negative (refunds of earlier days exceeding today's takings) is paid
nothing; the debt (``carried_out_fen``) is carried into its next settlement, whichever batch
that is, as ``carried_in_fen`` (``carried_from`` names the settlement it came from and is
unique: a debt is carried once). No negative payout instruction is ever written.

Every order and every refund is settled exactly once: a batch takes everything final before
its cutoff (the end of its day) and not settled yet, so an order or refund that became final
after its day's batch had run (a late notification) lands in the next batch that runs, and the
unique item rows (one per order, one per refund) guarantee never twice.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import status

from accounts import roles
from alliance.errors import ApplicationError, Forbidden, NotFound

from ..models import (
    PaymentOrder,
    Refund,
    Settlement,
    SettlementAudit,
    SettlementBatch,
    SettlementItem,
)

Kind = SettlementItem.Kind
# How many missed days one scheduled run catches up at most.
CATCH_UP_DAYS = 31


class SettlementDayOpen(ApplicationError):
    code = "settlement_day_open"
    message = _("This day has not ended yet: it can be settled from midnight.")
    status = status.HTTP_409_CONFLICT


class SettlementDayPassed(ApplicationError):
    code = "settlement_day_passed"
    message = _("A later day is already settled: what this day had went into that batch.")
    status = status.HTTP_409_CONFLICT


class BatchNotFound(NotFound):
    code = "settlement_batch_not_found"
    message = _("No such settlement batch.")


def business_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The start and end (exclusive) of ``day`` in Asia/Shanghai, as aware datetimes."""
    start = datetime.combine(day, time.min, tzinfo=business_zone())
    return start, start + timedelta(days=1)


def yesterday(now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), business_zone()).date() - timedelta(days=1)


def advisory_lock(name: str) -> None:
    """Hold a PostgreSQL advisory lock named ``name`` until the transaction ends (runs of the
    same job wait for each other). SQLite serialises writers itself."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])


def reference_for(day: date, merchant_code: str) -> str:
    return f"ST{day:%Y%m%d}{merchant_code}"


# --- The figures -------------------------------------------------------------------------------
@dataclass
class _Prior:
    """What earlier settled refunds of an order already gave back."""

    amount_fen: int = 0
    fee_fen: int = 0
    points: int = 0
    points_fen: int = 0
    subsidy_fen: int = 0


@dataclass
class _Merchant:
    merchant_id: int
    items: list[SettlementItem] = field(default_factory=list)
    parts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def payment_item(order: PaymentOrder, *, late: bool) -> SettlementItem:
    """What a paid order adds to its merchant's settlement."""
    subsidy = order.coupon_discount_fen if order.coupon_campaign_id and not order.late_payment else 0
    points = 0 if order.late_payment else order.points_fen
    return SettlementItem(
        kind=Kind.PAYMENT, order=order, at=order.paid_at, late=late,
        amount_fen=order.amount_fen, fee_fen=order.fee_fen, subsidy_fen=subsidy,
        points_fen=points, net_fen=order.amount_fen - order.fee_fen + subsidy + points,
    )


def refund_item(refund: Refund, order: PaymentOrder, prior: _Prior, *, late: bool) -> SettlementItem:
    """What a succeeded refund takes back, by cumulative share over ``prior`` (the refunds of
    the order settled before it); ``prior`` is advanced by this one."""
    refunded = prior.amount_fen + refund.amount_fen
    fee_target = order.fee_fen * refunded // order.amount_fen if order.amount_fen else 0
    fee_back = fee_target - prior.fee_fen
    points_back = 0
    points = prior.points + refund.points_returned
    if order.points_used and not order.late_payment:
        points_back = order.points_fen * points // order.points_used - prior.points_fen
    subsidy_back = 0
    if refund.coupon_restored and order.coupon_campaign_id and not order.late_payment:
        subsidy_back = order.coupon_discount_fen - prior.subsidy_fen
    prior.amount_fen, prior.fee_fen, prior.points = refunded, fee_target, points
    prior.points_fen += points_back
    prior.subsidy_fen += subsidy_back
    return SettlementItem(
        kind=Kind.REFUND, order=order, refund=refund, at=refund.succeeded_at, late=late,
        amount_fen=refund.amount_fen, fee_fen=fee_back, subsidy_fen=subsidy_back,
        points_fen=points_back, net_fen=fee_back - refund.amount_fen - subsidy_back - points_back,
    )


def unsettled(cutoff: datetime) -> tuple[list[PaymentOrder], list[Refund]]:
    """Paid orders and succeeded refunds final before ``cutoff`` and not settled yet.

    Reads final rows only: a paid order's amounts, fee and discounts, and a succeeded refund's
    figures never change after, so nothing needs locking; a row that becomes final while this
    reads is simply left for the next batch."""
    settled_order = SettlementItem.objects.filter(order=OuterRef("pk"), kind=Kind.PAYMENT)
    settled_refund = SettlementItem.objects.filter(refund=OuterRef("pk"))
    refunds = list(
        Refund.objects.filter(status=Refund.Status.SUCCEEDED, succeeded_at__lt=cutoff)
        .filter(~Exists(settled_refund))
        .order_by("succeeded_at", "pk")
    )
    # An order with a refund to settle is settled with it if it was not yet (a channel's
    # clocks may put a refund before its payment).
    orders = list(
        PaymentOrder.objects.filter(status__in=PaymentOrder.PAID_STATES)
        .filter(Q(paid_at__lt=cutoff) | Q(pk__in={r.order_id for r in refunds}))
        .filter(~Exists(settled_order))
        .order_by("paid_at", "pk")
    )
    return orders, refunds


def _prior(order_ids) -> dict[int, _Prior]:
    rows = (
        SettlementItem.objects.filter(kind=Kind.REFUND, order_id__in=order_ids)
        .values("order_id")
        .annotate(amount=Sum("amount_fen"), fee=Sum("fee_fen"), points=Sum("refund__points_returned"),
                  points_fen=Sum("points_fen"), subsidy=Sum("subsidy_fen"))
    )
    return {
        r["order_id"]: _Prior(r["amount"] or 0, r["fee"] or 0, r["points"] or 0,
                              r["points_fen"] or 0, r["subsidy"] or 0)
        for r in rows
    }


# --- Running a batch -------------------------------------------------------------------------
@transaction.atomic(durable=True)
def settlement_run(
    *, day: date, actor=None, source: str = SettlementBatch.Source.SYSTEM,
    now: datetime | None = None,
) -> SettlementBatch:
    """Settle ``day`` (Asia/Shanghai) for every merchant; returns its batch.

    Atomic (durable: when it returns, the batch is committed, or nothing is). Idempotent: a day
    that has a batch returns it unchanged (a ``rerun`` audit row notes who asked). Runs of any
    day wait for each other (a PostgreSQL advisory lock for the whole job), and the unique
    batch day and item rows make a second batch or a second settling of an order impossible
    even without it. Refuses a day that has not ended (``settlement_day_open``) and a day
    older than the latest batch (``settlement_day_passed``: its orders went into that batch).
    Writes an audit row: who (``actor``, None for the scheduled job) and how (``source``).
    """
    now = now or timezone.now()
    start, cutoff = day_bounds(day)
    if cutoff > now:
        raise SettlementDayOpen(extra={"day": day.isoformat()})
    advisory_lock("payments.settlement")
    existing = SettlementBatch.objects.filter(day=day).first()
    if existing is not None:
        SettlementAudit.objects.create(batch=existing, action=SettlementAudit.Action.RERUN,
                                       source=source, actor=actor)
        return existing
    latest = SettlementBatch.objects.order_by("-day").first()
    if latest is not None and latest.day > day:
        raise SettlementDayPassed(extra={"day": day.isoformat(), "latest": latest.day.isoformat()})

    orders, refunds = unsettled(cutoff)
    by_id = {o.pk: o for o in orders}
    missing = {r.order_id for r in refunds} - set(by_id)
    by_id |= PaymentOrder.objects.in_bulk(missing)
    prior = _prior({r.order_id for r in refunds})
    merchants: dict[int, _Merchant] = {}

    def add(item: SettlementItem, merchant_id: int) -> None:
        m = merchants.setdefault(merchant_id, _Merchant(merchant_id))
        m.items.append(item)
        parts = m.parts
        if item.kind == Kind.PAYMENT:
            parts["payments"] += 1
            parts["gross_fen"] += item.amount_fen
            parts["fee_fen"] += item.fee_fen
            parts["subsidy_fen"] += item.subsidy_fen
            parts["points_fen"] += item.points_fen
        else:
            parts["refunds"] += 1
            parts["refunds_fen"] += item.amount_fen
            parts["fee_back_fen"] += item.fee_fen
            parts["subsidy_back_fen"] += item.subsidy_fen
            parts["points_back_fen"] += item.points_fen

    for order in orders:
        add(payment_item(order, late=order.paid_at < start), order.merchant_id)
    for refund in refunds:
        order = by_id[refund.order_id]
        item = refund_item(refund, order, prior.setdefault(order.pk, _Prior()),
                           late=refund.succeeded_at < start)
        add(item, order.merchant_id)

    debts = {
        s.merchant_id: s
        for s in Settlement.objects.filter(
            merchant_id__in=list(merchants), carried_out_fen__gt=0, carried_to__isnull=True
        )
    }
    from merchants.models import Merchant

    accounts = Merchant.objects.in_bulk(list(merchants))
    settlements = []
    for merchant_id in sorted(merchants):
        parts = merchants[merchant_id].parts
        debt = debts.get(merchant_id)
        carried_in = debt.carried_out_fen if debt else 0
        net = (parts["gross_fen"] - parts["refunds_fen"] - parts["fee_fen"] + parts["fee_back_fen"]
               + parts["subsidy_fen"] - parts["subsidy_back_fen"] + parts["points_fen"]
               - parts["points_back_fen"] - carried_in)
        merchant = accounts[merchant_id]
        settlements.append(Settlement(
            merchant=merchant, reference=reference_for(day, merchant.code),
            **{k: parts[k] for k in (
                "payments", "refunds", "gross_fen", "refunds_fen", "fee_fen", "fee_back_fen",
                "subsidy_fen", "subsidy_back_fen", "points_fen", "points_back_fen")},
            carried_in_fen=carried_in, carried_from=debt, net_fen=net,
            payout_fen=max(net, 0), carried_out_fen=max(-net, 0),
            settlement_bank=merchant.settlement_bank,
            account_name=merchant.settlement_account_name,
            account_number=merchant.settlement_account_number,
        ))

    def total(name: str) -> int:
        return sum(getattr(s, name) for s in settlements)

    batch = SettlementBatch(
        day=day, cutoff=cutoff, source=source, run_by=actor, merchants=len(settlements),
        payments=total("payments"), refunds=total("refunds"), gross_fen=total("gross_fen"),
        refunds_fen=total("refunds_fen"), fee_fen=total("fee_fen") - total("fee_back_fen"),
        subsidy_fen=total("subsidy_fen") - total("subsidy_back_fen"),
        points_fen=total("points_fen") - total("points_back_fen"),
        payout_fen=total("payout_fen"), carried_out_fen=total("carried_out_fen"),
    )
    try:
        with transaction.atomic():
            batch.save(force_insert=True)
    except IntegrityError:
        # Another run of the day committed first (only without the advisory lock: SQLite).
        return SettlementBatch.objects.get(day=day)
    for settlement in settlements:
        settlement.batch = batch
    Settlement.objects.bulk_create(settlements)
    saved = {s.merchant_id: s for s in Settlement.objects.filter(batch=batch)}
    items = []
    for merchant_id, m in merchants.items():
        for item in m.items:
            item.batch, item.settlement = batch, saved[merchant_id]
            items.append(item)
    SettlementItem.objects.bulk_create(items)
    SettlementAudit.objects.create(
        batch=batch, action=SettlementAudit.Action.RUN, source=source, actor=actor,
        detail=f"{len(settlements)} merchants, {len(orders)} payments, {len(refunds)} refunds",
    )
    return batch


def settlement_run_due(*, now: datetime | None = None) -> list[SettlementBatch]:
    """The scheduled job: settle every day from the one after the latest batch through
    yesterday, oldest first, each in its own transaction (a worker that was down catches up;
    at most ``CATCH_UP_DAYS``). The first run ever settles yesterday. Idempotent like
    ``settlement_run``."""
    now = now or timezone.now()
    last_day = yesterday(now)
    latest = SettlementBatch.objects.order_by("-day").values_list("day", flat=True).first()
    first_day = latest + timedelta(days=1) if latest else last_day
    first_day = max(first_day, last_day - timedelta(days=CATCH_UP_DAYS - 1))
    batches = []
    day = first_day
    while day <= last_day:
        batches.append(settlement_run(day=day, now=now))
        day += timedelta(days=1)
    return batches


# --- The payout instruction file ---------------------------------------------------------------
PAYOUT_HEADER = ["batch", "merchant_code", "settlement_bank", "account_name", "account_number",
                 "amount_yuan", "reference"]


def yuan(fen: int) -> str:
    """``123456`` -> ``"1234.56"``: integer arithmetic, no float."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


@transaction.atomic(durable=True)
def payout_file_export(
    *, actor, batch_id: int, source: str = SettlementBatch.Source.CONSOLE
) -> tuple[str, str]:
    """The payout instruction file of a batch for the bank's payout system: (file name, CSV
    text), one line per settlement with a payout (zero payouts and carried debts have none),
    with the full, decrypted account number. Head office only (anyone else: 403); every
    download writes an audit row in the same transaction. The file is the same every time
    (the accounts were copied into the settlements when the batch ran)."""
    if not roles.is_head_office(actor):
        raise Forbidden(_("Only head office may download payout files."))
    batch = SettlementBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise BatchNotFound()
    rows = (
        Settlement.objects.filter(batch=batch, payout_fen__gt=0)
        .select_related("merchant").order_by("merchant__code")
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PAYOUT_HEADER)
    count = 0
    for s in rows:
        writer.writerow([
            f"{batch.day:%Y%m%d}", s.merchant.code, s.settlement_bank, s.account_name,
            "".join(s.account_number.split()), yuan(s.payout_fen), s.reference,
        ])
        count += 1
    SettlementAudit.objects.create(
        batch=batch, action=SettlementAudit.Action.PAYOUT_FILE, source=source, actor=actor,
        detail=f"{count} payouts, {yuan(batch.payout_fen)} yuan",
    )
    return f"payout-{batch.day:%Y%m%d}.csv", out.getvalue()
