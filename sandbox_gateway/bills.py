"""The channel's daily trade bill (交易账单, type ALL), as WeChat Pay writes it.

A bill is a snapshot made when it is asked for (``GET /v3/bill/tradebill``) and downloaded by
its token; its SHA1 goes in the signed answer. Amounts are written in yuan with two decimals
(``wechatpay_crypto.fen_to_yuan``), every field after a backtick; days are Asia/Shanghai.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from payments.gateways.wechatpay_crypto import fen_to_yuan, yuan_to_fen

from . import conf
from .models import Bill, Fault, Refund, Trade
from .services import PAID, SHANGHAI, ChannelError

BILL_HEADER = [
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号",
    "用户标识", "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额",
    "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态",
    "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注",
]  # fmt: skip
BILL_SUMMARY_HEADER = [
    "总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额",
    "订单总金额", "申请退款总金额",
]  # fmt: skip


def _fee_fen(amount_fen: int, rate_bp: int) -> int:
    """The channel's fee, rounded half up, in integers."""
    return (amount_fen * rate_bp + 5000) // 10000


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


def bill_text(*, sp_mchid: str, sub_mchid: str, bill_date: date) -> tuple[str, int]:
    """The ALL trade bill of a Shanghai day as the channel writes it, and its number of lines.

    One line per payment (by the time it was paid) and per refund (by the time it was
    accepted, with its status then), every field prefixed with a backtick, amounts in yuan
    with two decimals; then the summary header and the summary (lines, totals). Faults of a
    trade may change its payment line's amount or leave its lines off."""
    start, end = _day_bounds(bill_date)
    rate_bp = conf.fee_rate_bp()
    scope = Q(sp_mchid=sp_mchid) & (Q(sub_mchid=sub_mchid) if sub_mchid else Q())
    faults = {f.out_trade_no: f for f in Fault.objects.all()}

    def dropped(out_trade_no: str) -> bool:
        fault = faults.get(out_trade_no)
        return bool(fault and fault.drop_from_statement)

    rows: list[tuple[datetime, list[str]]] = []
    payments = Trade.objects.filter(scope, state__in=PAID, paid_at__gte=start, paid_at__lt=end)
    for trade in payments.order_by("paid_at", "pk"):
        if dropped(trade.out_trade_no):
            continue
        fault = faults.get(trade.out_trade_no)
        amount_fen = trade.total_fen
        if fault and fault.statement_amount_fen is not None:
            amount_fen = fault.statement_amount_fen
        fee = _fee_fen(amount_fen, rate_bp)
        rows.append((trade.paid_at, _line(trade, "SUCCESS", amount_fen, 0, fee, None, rate_bp)))
    refunds = Refund.objects.select_related("trade").filter(
        scope, created_at__gte=start, created_at__lt=end
    )
    for refund in refunds.order_by("created_at", "pk"):
        if dropped(refund.trade.out_trade_no):
            continue
        fee = -_fee_fen(refund.refund_fen, rate_bp)  # the fee is given back with a refund
        rows.append(
            (
                refund.created_at,
                _line(refund.trade, "REFUND", 0, refund.refund_fen, fee, refund, rate_bp),
            )
        )
    rows.sort(key=lambda row: row[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BILL_HEADER)
    totals = {"settle": 0, "refund": 0, "fee": 0}
    for _at, row in rows:
        writer.writerow(row)
        # The summary adds up the lines as written (a fault's amount included).
        totals["settle"] += yuan_to_fen(row[12])
        totals["refund"] += yuan_to_fen(row[16])
        totals["fee"] += yuan_to_fen(row[22])
    writer.writerow(BILL_SUMMARY_HEADER)
    writer.writerow(
        [
            f"`{len(rows)}",
            f"`{fen_to_yuan(totals['settle'])}",
            f"`{fen_to_yuan(totals['refund'])}",
            "`0.00",
            f"`{fen_to_yuan(totals['fee'])}",
            f"`{fen_to_yuan(totals['settle'])}",
            f"`{fen_to_yuan(totals['refund'])}",
        ]
    )
    return out.getvalue(), len(rows)


def _line(
    trade: Trade,
    state: str,
    settle_fen: int,
    refund_fen: int,
    fee_fen: int,
    refund: Refund | None,
    rate_bp: int,
) -> list[str]:
    at = refund.created_at if refund else trade.paid_at
    fields = [
        at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
        trade.sp_appid,
        trade.sp_mchid,
        trade.sub_mchid,
        "",
        trade.transaction_id,
        trade.out_trade_no,
        "oSandboxPayer",
        "MWEB",
        state,
        "OTHERS",
        trade.currency,
        fen_to_yuan(settle_fen),
        "0.00",
        refund.refund_id if refund else "0",
        refund.out_refund_no if refund else "0",
        fen_to_yuan(refund_fen),
        "0.00",
        "ORIGINAL" if refund else "",
        refund.status if refund else "",
        trade.description,
        "",
        fen_to_yuan(fee_fen),
        f"{rate_bp // 100}.{rate_bp % 100:02d}%",
        fen_to_yuan(settle_fen),
        fen_to_yuan(refund_fen),
        "",
    ]
    return ["`" + field for field in fields]


@transaction.atomic
def bill_make(*, sp_mchid: str, sub_mchid: str, bill_date: date) -> Bill:
    """Make the bill of a day (a snapshot, kept for download by token). Refuses a day still
    to come (``INVALID_REQUEST``) and one without any line (``NO_STATEMENT_EXIST``), as the
    channel does. Unlike the channel (bills after 9:00 the next day) today's bill so far can
    be had: tests and the demo need it now."""
    today = timezone.now().astimezone(SHANGHAI).date()
    if bill_date > today:
        raise ChannelError(400, "INVALID_REQUEST", _("bill_date is in the future"))
    content, lines = bill_text(sp_mchid=sp_mchid, sub_mchid=sub_mchid, bill_date=bill_date)
    if not lines:
        raise ChannelError(400, "NO_STATEMENT_EXIST", _("There is no bill for this day"))
    return Bill.objects.create(
        token=secrets.token_urlsafe(24),
        sp_mchid=sp_mchid,
        sub_mchid=sub_mchid,
        bill_date=bill_date,
        content=content,
        sha1=hashlib.sha1(content.encode()).hexdigest(),  # noqa: S324 - the protocol's hash
    )
