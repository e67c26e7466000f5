"""Reconciliation: a channel's daily statement against our records of the same day.

Per (day, channel): download the channel's statement file (``gateway.statement``), keep it,
parse it (``gateway.parse_statement``) and compare it with our orders of that channel paid in
the day (``paid_at``, Asia/Shanghai) and our refunds of it that succeeded in the day. Every
difference is listed, one row per line or record:

- ``missing_ours``: on the statement, and we have no such order / refund;
- ``missing_channel``: paid / refunded in our records of the day, not on the statement;
- ``amount_mismatch``: both have it, the amounts differ (a broken line, a wrong report);
- ``status_mismatch``: both have it, they disagree on what happened (the channel says refunded,
  closed or still processing, we say paid or refunded; or it says paid and we closed it);
- ``account_mismatch``: the line names another merchant account (sub-merchant) than ours;
- ``other_day``: we have it final, but on another day (a payment near midnight, a refund the
  channel lists on the day it accepted it and we record on the day it succeeded).

Re-runs: each run is a row of its own with the file it compared (the evidence), numbered by
``attempt`` per (day, channel); the latest attempt is the current state. Running again when
the file is the same and the same differences come out returns the latest run instead of
writing a copy, so the scheduled job and a head-office re-run are idempotent; a corrected file
or corrected records give a new attempt, and the old one stays as it was. A statement that
cannot be downloaded gives a ``failed`` run (the task tries again later); a day on which the
channel has no statement at all (``NO_STATEMENT_EXIST``) is compared as an empty file.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..gateways import GatewayError, StatementLine, gateway_for
from ..models import (
    DifferenceKind,
    PaymentOrder,
    ReconciliationDifference,
    ReconciliationRun,
    Refund,
)
from .settlement import advisory_lock, day_bounds, yesterday

log = logging.getLogger(__name__)
Kind = DifferenceKind
NO_STATEMENT = {"NO_STATEMENT_EXIST", "no_statement"}

# The channels' words for what a line says happened, in ours. Payments: paid, refunded (all
# of it), or not paid (closed/revoked/failed); refunds: succeeded, processing, failed.
PAYMENT_WORDS = {
    "paid": "paid", "success": "paid",
    "refunded": "refunded", "refund": "refunded",
    "closed": "closed", "revoked": "closed", "failed": "closed", "payerror": "closed",
    "notpay": "closed",
}
REFUND_WORDS = {
    "refunded": "succeeded", "success": "succeeded", "succeeded": "succeeded",
    "processing": "processing",
    "abnormal": "failed", "closed": "failed", "failed": "failed",
}


def _payment_agrees(channel_word: str, order: PaymentOrder) -> bool:
    said = PAYMENT_WORDS.get(channel_word.lower(), channel_word.lower())
    if said == "paid":
        return order.status in PaymentOrder.PAID_STATES
    if said == "refunded":
        return order.status in (PaymentOrder.Status.REFUNDED, PaymentOrder.Status.PARTLY_REFUNDED)
    return order.status not in PaymentOrder.PAID_STATES


def _refund_agrees(channel_word: str, refund: Refund) -> bool:
    said = REFUND_WORDS.get(channel_word.lower(), channel_word.lower())
    if said == "processing":
        return refund.status in (Refund.Status.PENDING, Refund.Status.PROCESSING)
    return refund.status == said


@dataclass(frozen=True)
class OurSide:
    payments: dict[str, PaymentOrder]
    refunds: dict[str, Refund]


def our_side(*, day: date, channel: str) -> OurSide:
    """Our orders of ``channel`` paid in ``day`` and our refunds of them that succeeded in it."""
    start, end = day_bounds(day)
    orders = PaymentOrder.objects.select_related("merchant").filter(
        channel=channel, status__in=PaymentOrder.PAID_STATES, paid_at__gte=start, paid_at__lt=end
    )
    refunds = Refund.objects.select_related("order", "order__merchant").filter(
        order__channel=channel, status=Refund.Status.SUCCEEDED,
        succeeded_at__gte=start, succeeded_at__lt=end,
    )
    return OurSide({o.out_trade_no: o for o in orders}, {r.out_refund_no: r for r in refunds})


def _diff(kind, line_kind, *, line: StatementLine | None = None, order=None, refund=None,
          our_amount=None, our_status="", our_at=None) -> ReconciliationDifference:
    order = order or (refund.order if refund is not None else None)
    return ReconciliationDifference(
        kind=kind, line_kind=line_kind,
        out_trade_no=(line.out_trade_no if line else order.out_trade_no)[:32],
        out_refund_no=((line.out_refund_no if line else refund.out_refund_no) if line_kind == "refund"
                       else "")[:32],
        order=order, refund=refund, merchant_id=order.merchant_id if order else None,
        our_amount_fen=our_amount, channel_amount_fen=line.amount_fen if line else None,
        our_status=our_status, channel_status=(line.status if line else "")[:32],
        our_at=our_at, channel_at=line.at if line else None,
        channel_account=(line.account if line else "")[:32],
    )


def compare(
    *, day: date, channel: str, lines: list[StatementLine], ours: OurSide | None = None
) -> list[ReconciliationDifference]:
    """Every difference between ``lines`` (a parsed statement of ``day`` and ``channel``) and
    our records (``ours``, read if not given): unsaved rows, in the statement's order, then
    what only we have. Reads only."""
    ours = ours or our_side(day=day, channel=channel)
    payments, refunds = dict(ours.payments), dict(ours.refunds)
    start, end = day_bounds(day)
    diffs: list[ReconciliationDifference] = []
    pay_lines = [x for x in lines if x.kind == "payment"]
    refund_lines = [x for x in lines if x.kind == "refund"]
    elsewhere_orders = {
        o.out_trade_no: o
        for o in PaymentOrder.objects.select_related("merchant").filter(
            out_trade_no__in={x.out_trade_no for x in lines} - set(payments)
        )
    }
    elsewhere_refunds = {
        r.out_refund_no: r
        for r in Refund.objects.select_related("order").filter(
            out_refund_no__in={x.out_refund_no for x in refund_lines} - set(refunds)
        )
    }

    for line in pay_lines:
        order = payments.pop(line.out_trade_no, None)
        if order is not None:
            mine = dict(order=order, our_amount=order.amount_fen, our_status=order.status,
                        our_at=order.paid_at)
            if not _payment_agrees(line.status, order):
                diffs.append(_diff(Kind.STATUS, "payment", line=line, **mine))
            elif line.amount_fen != order.amount_fen:
                diffs.append(_diff(Kind.AMOUNT, "payment", line=line, **mine))
            elif line.account and line.account != order.merchant.code:
                diffs.append(_diff(Kind.ACCOUNT, "payment", line=line, **mine))
            continue
        order = elsewhere_orders.get(line.out_trade_no)
        if order is None:
            diffs.append(_diff(Kind.MISSING_OURS, "payment", line=line))
            continue
        mine = dict(order=order, our_amount=order.amount_fen, our_status=order.status,
                    our_at=order.paid_at)
        if not _payment_agrees(line.status, order):
            diffs.append(_diff(Kind.STATUS, "payment", line=line, **mine))
        elif order.status in PaymentOrder.PAID_STATES and (
            order.channel != channel or not start <= order.paid_at < end
        ):
            diffs.append(_diff(Kind.OTHER_DAY, "payment", line=line, **mine))
        # Else the channel lists a trade that did not happen, and we agree: no difference.

    for line in refund_lines:
        refund = refunds.pop(line.out_refund_no, None)
        if refund is not None:
            mine = dict(refund=refund, our_amount=refund.amount_fen, our_status=refund.status,
                        our_at=refund.succeeded_at)
            if not _refund_agrees(line.status, refund):
                diffs.append(_diff(Kind.STATUS, "refund", line=line, **mine))
            elif line.amount_fen != refund.amount_fen:
                diffs.append(_diff(Kind.AMOUNT, "refund", line=line, **mine))
            continue
        refund = elsewhere_refunds.get(line.out_refund_no)
        if refund is None:
            order = ours.payments.get(line.out_trade_no) or elsewhere_orders.get(line.out_trade_no)
            diffs.append(_diff(Kind.MISSING_OURS, "refund", line=line, order=order))
            continue
        mine = dict(refund=refund, our_amount=refund.amount_fen, our_status=refund.status,
                    our_at=refund.succeeded_at)
        if not _refund_agrees(line.status, refund):
            diffs.append(_diff(Kind.STATUS, "refund", line=line, **mine))
        elif refund.status == Refund.Status.SUCCEEDED:
            diffs.append(_diff(Kind.OTHER_DAY, "refund", line=line, **mine))

    for order in payments.values():
        diffs.append(_diff(Kind.MISSING_CHANNEL, "payment", order=order, our_amount=order.amount_fen,
                           our_status=order.status, our_at=order.paid_at))
    for refund in refunds.values():
        diffs.append(_diff(Kind.MISSING_CHANNEL, "refund", refund=refund,
                           our_amount=refund.amount_fen, our_status=refund.status,
                           our_at=refund.succeeded_at))
    return diffs


def _signature(diffs) -> list[tuple]:
    return sorted(
        (d.kind, d.line_kind, d.out_trade_no, d.out_refund_no, d.our_amount_fen,
         d.channel_amount_fen, d.our_status, d.channel_status)
        for d in diffs
    )


@transaction.atomic(durable=True)
def reconciliation_record(
    *,
    day: date,
    channel: str,
    statement_text: str,
    lines: list[StatementLine] | None,
    error: str = "",
    actor=None,
    source: str = ReconciliationRun.Source.SYSTEM,
) -> ReconciliationRun:
    """Compare ``lines`` (None: the statement could not be had, ``error`` says why) with our
    records and keep the run, its file and its differences.

    Atomic (durable); runs of the same (day, channel) wait for each other (an advisory lock on
    PostgreSQL; the unique attempt number is the guarantee). Idempotent: when the latest run
    of the (day, channel) had the same file, status and differences, it is returned and
    nothing is written."""
    advisory_lock(f"payments.reconciliation:{day.isoformat()}:{channel}")
    sha = hashlib.sha256(statement_text.encode()).hexdigest() if statement_text else ""
    if lines is None:
        diffs, status = [], ReconciliationRun.Status.FAILED
        ours = OurSide({}, {})
    else:
        ours = our_side(day=day, channel=channel)
        diffs = compare(day=day, channel=channel, lines=lines, ours=ours)
        status = ReconciliationRun.Status.DIFFERENCES if diffs else ReconciliationRun.Status.MATCHED
    runs = ReconciliationRun.objects.filter(day=day, channel=channel)
    latest = runs.order_by("-attempt").first()
    if (
        latest is not None and latest.status == status and latest.statement_sha256 == sha
        and latest.error == error[:200]
        and _signature(latest.differences.all()) == _signature(diffs)
    ):
        return latest
    lines = lines or []
    run = ReconciliationRun.objects.create(
        day=day, channel=channel, attempt=(runs.aggregate(n=Max("attempt"))["n"] or 0) + 1,
        status=status, error=error[:200], statement_text=statement_text, statement_sha256=sha,
        channel_payments=sum(1 for x in lines if x.kind == "payment"),
        channel_refunds=sum(1 for x in lines if x.kind == "refund"),
        channel_paid_fen=sum(x.amount_fen for x in lines if x.kind == "payment"),
        channel_refunded_fen=sum(x.amount_fen for x in lines if x.kind == "refund"),
        our_payments=len(ours.payments), our_refunds=len(ours.refunds),
        our_paid_fen=sum(o.amount_fen for o in ours.payments.values()),
        our_refunded_fen=sum(r.amount_fen for r in ours.refunds.values()),
        differences_count=len(diffs), source=source, run_by=actor,
    )
    for diff in diffs:
        diff.run = run
    ReconciliationDifference.objects.bulk_create(diffs)
    return run


def reconciliation_run(
    *, day: date, channel: str, actor=None, source: str = ReconciliationRun.Source.SYSTEM,
    now: datetime | None = None,
) -> ReconciliationRun:
    """Download, parse and compare the statement of ``day`` on ``channel``; returns the run.

    Not one transaction: the channel is asked first, outside any (its answer may take
    seconds), then ``reconciliation_record`` compares and keeps the result in one. A download
    or a file that fails gives a ``failed`` run with the error (and the file, if one came)."""
    gateway = gateway_for(channel)
    text, lines, error = "", None, ""
    try:
        text = gateway.statement(day=day)
    except GatewayError as exc:
        if exc.code not in NO_STATEMENT:
            log.warning("reconciliation %s %s: download failed: %s", day, channel, exc)
            error = f"{exc.code}: {exc}"
    if not text and not error:
        lines = []  # no statement for the day: nothing happened on the channel
    elif text:
        try:
            lines = gateway.parse_statement(text)
        except GatewayError as exc:
            log.error("reconciliation %s %s: statement unreadable: %s", day, channel, exc)
            error = f"{exc.code}: {exc}"
    return reconciliation_record(day=day, channel=channel, statement_text=text, lines=lines,
                                 error=error, actor=actor, source=source)


def channels() -> list[str]:
    return [code for code, _label in settings.ALLIANCE_PAYMENT_CHANNELS]


def reconciliation_run_due(*, now: datetime | None = None) -> list[ReconciliationRun]:
    """The scheduled job: yesterday's statement of every channel."""
    day = yesterday(now or timezone.now())
    return [reconciliation_run(day=day, channel=channel) for channel in channels()]
