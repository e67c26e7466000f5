"""Reads of settlement and reconciliation for pages and files, through the reader's scope.

Who sees what:
- head office: every batch, settlement and reconciliation run, and the payout files;
- branch staff: the settlements of merchants with a store in their grid (read-only; no payout
  file, no reconciliation: those carry other grids' merchants and full account numbers);
- a merchant's owner: its own settlements and statements. Cashiers see none: a statement is
  the business's money (takings, fees, debts, payouts, the settlement account), which the
  owner keeps, like refunds; the counter has the live takings page for what it needs;
- anybody else: nothing. A scope that cannot be resolved is empty, never everything, and a row
  outside it is a 404, so ids cannot be probed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, QuerySet, Sum
from django.utils import timezone

from accounts import roles
from accounts.access import second_factor_ok
from alliance.errors import NotFound
from merchants.models import MerchantStaff, Store

from .models import (
    ReconciliationRun,
    Settlement,
    SettlementBatch,
    SettlementItem,
)
from .services.settlement import BatchNotFound, yuan


class SettlementNotFound(NotFound):
    code = "settlement_not_found"


def _signed_in(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def may_see_statements(user) -> bool:
    """Head office, branch staff and merchant owners (not cashiers)."""
    return roles.is_bank_staff(user) or roles.is_merchant_owner(user)


def settlements_visible_to(user) -> QuerySet[Settlement]:
    qs = Settlement.objects.select_related("batch", "merchant")
    if not _signed_in(user):
        return qs.none()
    if roles.is_merchant_owner(user):
        mine = MerchantStaff.objects.filter(
            merchant=OuterRef("merchant_id"), user=user, role=MerchantStaff.Role.OWNER
        )
        return qs.filter(Exists(mine))
    if not roles.is_bank_staff(user) or not second_factor_ok(user):
        return qs.none()
    if roles.is_head_office(user):
        return qs
    if roles.is_branch_staff(user) and user.branch_id:
        in_grid = Store.objects.filter(merchant=OuterRef("merchant_id"), branch_id=user.branch_id)
        return qs.filter(Exists(in_grid))
    return qs.none()


def settlement_for_viewer(user, settlement_id: int) -> Settlement:
    settlement = settlements_visible_to(user).filter(pk=settlement_id).first()
    if settlement is None:
        raise SettlementNotFound()
    return settlement


@dataclass(frozen=True)
class BatchRow:
    batch: SettlementBatch
    merchants: int
    gross_fen: int
    refunds_fen: int
    payout_fen: int
    carried_out_fen: int


def batch_rows(user, *, limit: int = 60) -> list[BatchRow]:
    """The latest batches with the totals of the settlements this user may see (head office:
    the batch's own totals; branch staff: their grid's share only)."""
    visible = settlements_visible_to(user)
    sums = {
        r["batch_id"]: r
        for r in visible.values("batch_id").annotate(
            n=Count("pk"), gross=Sum("gross_fen"), refunds=Sum("refunds_fen"),
            payout=Sum("payout_fen"), carried=Sum("carried_out_fen"),
        )
    }
    if roles.is_head_office(user) and second_factor_ok(user):
        batches = SettlementBatch.objects.all()
    else:
        batches = SettlementBatch.objects.filter(pk__in=list(sums))
    rows = []
    for batch in batches.select_related("run_by").order_by("-day")[:limit]:
        s = sums.get(batch.pk, {})
        rows.append(BatchRow(batch, s.get("n") or 0, s.get("gross") or 0, s.get("refunds") or 0,
                             s.get("payout") or 0, s.get("carried") or 0))
    return rows


def batch_for_viewer(user, batch_id: int) -> tuple[SettlementBatch, list[Settlement]]:
    """A batch and the settlements of it this user may see; 404 when they may see none (head
    office sees every batch, even one without settlements)."""
    batch = SettlementBatch.objects.filter(pk=batch_id).first()
    settlements = list(
        settlements_visible_to(user).filter(batch_id=batch_id).order_by("merchant__code")
    )
    if batch is None or (not settlements and not (roles.is_head_office(user) and second_factor_ok(user))):
        raise BatchNotFound()
    return batch, settlements


def merchant_settlements(user, *, limit: int = 90) -> list[Settlement]:
    return list(settlements_visible_to(user).order_by("-batch__day")[:limit])


# --- Statement ---------------------------------------------------------------------------------
def statement_items(settlement: Settlement) -> list[SettlementItem]:
    return list(
        SettlementItem.objects.filter(settlement=settlement)
        .select_related("order", "order__store", "refund")
        .order_by("at", "pk")
    )


STATEMENT_HEADER = [
    "reference", "time", "kind", "order_number", "refund_number", "store", "bill_yuan",
    "cash_yuan", "fee_yuan", "subsidy_yuan", "points_value_yuan", "net_yuan", "from_earlier_day",
]


def _text(value: str) -> str:
    """A text cell that a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def statement_csv(settlement: Settlement) -> str:
    """The statement as CSV: one line per payment and refund (a refund's cash, subsidy and
    points value negative, its fee given back negative too, as it reduces the fee), then the
    totals, the debt carried in, the payout and the debt carried forward. Amounts in yuan with
    two decimals from integer fen."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(STATEMENT_HEADER)
    for item in statement_items(settlement):
        sign = 1 if item.kind == SettlementItem.Kind.PAYMENT else -1
        writer.writerow([
            settlement.reference,
            timezone.localtime(item.at).strftime("%Y-%m-%d %H:%M:%S"),
            item.kind,
            item.order.out_trade_no,
            item.refund.out_refund_no if item.refund_id else "",
            _text(item.order.store.name),
            yuan(item.order.gross_fen) if sign > 0 else "",
            yuan(sign * item.amount_fen),
            yuan(sign * item.fee_fen),
            yuan(sign * item.subsidy_fen),
            yuan(sign * item.points_fen),
            yuan(item.net_fen),
            "1" if item.late else "0",
        ])
    s = settlement
    for label, fen in (
        ("total_paid_in", s.gross_fen), ("total_refunded", -s.refunds_fen),
        ("total_fee", s.fee_fen - s.fee_back_fen), ("total_subsidy", s.subsidy_fen - s.subsidy_back_fen),
        ("total_points_value", s.points_fen - s.points_back_fen),
        ("debt_carried_in", -s.carried_in_fen), ("net", s.net_fen), ("payout", s.payout_fen),
        ("debt_carried_forward", s.carried_out_fen),
    ):
        writer.writerow([s.reference, "", label, "", "", "", "", "", "", "", "", yuan(fen), ""])
    return out.getvalue()


# --- Reconciliation ------------------------------------------------------------------------------
def reconciliation_runs(user, *, limit: int = 100) -> QuerySet[ReconciliationRun]:
    """Head office only (with its second factor); anybody else nothing."""
    if not (roles.is_head_office(user) and second_factor_ok(user)):
        return ReconciliationRun.objects.none()
    return ReconciliationRun.objects.select_related("run_by").order_by("-day", "channel", "-attempt")[:limit]


def reconciliation_run_get(user, run_id: int) -> ReconciliationRun:
    if not (roles.is_head_office(user) and second_factor_ok(user)):
        raise NotFound()
    run = ReconciliationRun.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound()
    return run
