"""What the sandbox channel does: trades, refunds, faults and bills.

Services are ``@transaction.atomic`` but not durable, unlike ours: with the in-process
transport (``payments.gateways.wechatpay_v3``) the sandbox's views run on the caller's
connection, inside whatever transaction the caller (or a test) has open.

Every write is here (views and tasks parse and call). Refusals are ``ChannelError`` in the
channel's own words (HTTP status, WeChat Pay error code, message), which the API views send as
``{"code", "message"}``. Notifications are made and delivered in ``notifications``.

Bills are made in ``bills``. Trade states are the channel's: NOTPAY -> USERPAYING (the payer
opened the page) -> SUCCESS (paid) / PAYERROR (declined) / CLOSED (closed or expired);
SUCCESS -> REFUND once a refund is accepted. Amounts are integer fen.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import conf, notifications
from .models import Fault, Refund, Trade

SHANGHAI = ZoneInfo("Asia/Shanghai")
OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
OPEN = (Trade.State.NOTPAY, Trade.State.USERPAYING)
PAID = (Trade.State.SUCCESS, Trade.State.REFUND)


class ChannelError(Exception):
    """A refusal as the channel answers it: ``status`` (4xx), ``code`` (WeChat Pay's),
    ``message`` (translatable)."""

    def __init__(self, status: int, code: str, message):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def rfc3339(moment: datetime | None) -> str:
    """``2026-05-01T12:34:56+08:00``: the channel writes Shanghai time with its offset."""
    if moment is None:
        return ""
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _digest(**fields) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _new_prepay_id(now: datetime) -> str:
    return "wx" + now.astimezone(SHANGHAI).strftime("%d%H%M%S") + secrets.token_hex(13)


def _new_number(prefix: str, now: datetime) -> str:
    """A 28-digit channel number (``4200...`` transactions, ``5030...`` refunds)."""
    digits = "".join(secrets.choice("0123456789") for _ in range(16))
    return prefix + now.astimezone(SHANGHAI).strftime("%Y%m%d") + digits


def fault_for(out_trade_no: str) -> Fault | None:
    return Fault.objects.filter(out_trade_no=out_trade_no).first()


# --- Trades ----------------------------------------------------------------------------------
@transaction.atomic
def trade_create(
    *,
    sp_mchid: str,
    sp_appid: str,
    sub_mchid: str,
    out_trade_no: str,
    description: str,
    total_fen: int,
    currency: str,
    notify_url: str,
    time_expire: datetime | None,
) -> Trade:
    """Open a trade, or return the one already opened with the same number and content
    (the same prepay, so the same h5_url). Refuses the same number with other content
    (``OUT_TRADE_NO_USED``), and a paid or closed one (``ORDERPAID`` / ``ORDER_CLOSED``).
    Atomic; the unique constraint decides between two concurrent creates."""
    if not OUT_TRADE_NO.fullmatch(out_trade_no or ""):
        raise ChannelError(400, "PARAM_ERROR", _("out_trade_no is 6-32 letters, digits or _-|*"))
    if not description or len(description) > 127:
        raise ChannelError(400, "PARAM_ERROR", _("description is 1-127 characters"))
    if isinstance(total_fen, bool) or not isinstance(total_fen, int) or total_fen <= 0:
        raise ChannelError(400, "PARAM_ERROR", _("amount.total is a positive integer (fen)"))
    if currency != "CNY":
        raise ChannelError(400, "PARAM_ERROR", _("amount.currency must be CNY"))
    if not re.match(r"https?://[^/]+", notify_url or ""):
        raise ChannelError(400, "PARAM_ERROR", _("notify_url is an absolute http(s) URL"))
    now = timezone.now()
    if time_expire is not None and time_expire <= now:
        raise ChannelError(400, "PARAM_ERROR", _("time_expire is in the past"))
    digest = _digest(
        sp_appid=sp_appid,
        description=description,
        total_fen=total_fen,
        currency=currency,
        notify_url=notify_url,
        time_expire=rfc3339(time_expire),
    )
    try:
        with transaction.atomic():
            return Trade.objects.create(
                sp_mchid=sp_mchid,
                sp_appid=sp_appid,
                sub_mchid=sub_mchid,
                out_trade_no=out_trade_no,
                prepay_id=_new_prepay_id(now),
                description=description,
                total_fen=total_fen,
                currency=currency,
                notify_url=notify_url,
                time_expire=time_expire,
                request_digest=digest,
            )
    except IntegrityError:
        existing = Trade.objects.get(
            sp_mchid=sp_mchid, sub_mchid=sub_mchid, out_trade_no=out_trade_no
        )
    if existing.request_digest != digest:
        raise ChannelError(403, "OUT_TRADE_NO_USED", _("Duplicate out_trade_no"))
    existing = _expire_if_due(existing)
    if existing.state in PAID:
        raise ChannelError(400, "ORDERPAID", _("The order has been paid"))
    if existing.state == Trade.State.CLOSED:
        raise ChannelError(400, "ORDER_CLOSED", _("The order is closed"))
    return existing


def _expire_if_due(trade: Trade) -> Trade:
    """An unpaid trade past its ``time_expire`` is closed (the payer can no longer pay)."""
    if trade.state in OPEN and trade.time_expire and trade.time_expire <= timezone.now():
        Trade.objects.filter(pk=trade.pk, state__in=OPEN).update(state=Trade.State.CLOSED)
        trade.refresh_from_db()
    return trade


def _one(queryset, missing: ChannelError):
    """The one row of ``queryset``; ``missing`` if none. Without a sub_mchid (see
    ``trade_get``) two sub-merchants' rows may match: the request must then name one."""
    found = list(queryset[:2])
    if not found:
        raise missing
    if len(found) > 1:
        raise ChannelError(400, "PARAM_ERROR", _("sub_mchid is required"))
    return found[0]


def trade_get(*, sp_mchid: str, sub_mchid: str, out_trade_no: str) -> Trade:
    """The trade as the channel answers a query (expired ones closed); ``ORDER_NOT_EXIST``.

    The real channel requires ``sub_mchid`` in partner mode. The sandbox also finds a trade
    without it when the number is unique under the service provider, because
    ``payments.gateways.base.Gateway`` does not pass the account to query, close and refund
    (yet)."""
    trades = Trade.objects.filter(sp_mchid=sp_mchid, out_trade_no=out_trade_no)
    if sub_mchid:
        trades = trades.filter(sub_mchid=sub_mchid)
    trade = _one(trades, ChannelError(404, "ORDER_NOT_EXIST", _("The order does not exist")))
    return _expire_if_due(trade)


def trade_find(ref: str) -> Trade:
    """A trade by prepay id or, failing that, by out_trade_no (for tests and benches); the
    number must name one trade."""
    trade = Trade.objects.filter(prepay_id=ref).first()
    if trade is not None:
        return trade
    found = list(Trade.objects.filter(out_trade_no=ref)[:2])
    if len(found) != 1:
        raise ChannelError(404, "ORDER_NOT_EXIST", _("The order does not exist"))
    return found[0]


@transaction.atomic
def trade_close(*, sp_mchid: str, sub_mchid: str, out_trade_no: str) -> Trade:
    """Close an unpaid trade (NOTPAY, USERPAYING, PAYERROR) so it cannot be paid. Closing a
    closed one is fine; a paid one is refused (``ORDERPAID``). One conditional update."""
    trade = trade_get(sp_mchid=sp_mchid, sub_mchid=sub_mchid, out_trade_no=out_trade_no)
    Trade.objects.filter(pk=trade.pk, state__in=(*OPEN, Trade.State.PAYERROR)).update(
        state=Trade.State.CLOSED, updated_at=timezone.now()
    )
    trade.refresh_from_db()
    if trade.state in PAID:
        raise ChannelError(400, "ORDERPAID", _("The order has been paid"))
    return trade


def trade_open_page(*, trade_id: int) -> Trade:
    """The payer opened the hosted page: NOTPAY -> USERPAYING (an expired trade closes)."""
    trade = _expire_if_due(Trade.objects.get(pk=trade_id))
    Trade.objects.filter(pk=trade.pk, state=Trade.State.NOTPAY).update(
        state=Trade.State.USERPAYING, updated_at=timezone.now()
    )
    trade.refresh_from_db()
    return trade


def _refuse_unpayable(trade: Trade) -> None:
    if trade.state in PAID:
        raise ChannelError(400, "ORDERPAID", _("This order has already been paid."))
    if trade.state == Trade.State.CLOSED:
        raise ChannelError(
            400, "ORDER_CLOSED", _("This order is closed or has expired; it can no longer be paid.")
        )
    if trade.state == Trade.State.PAYERROR:
        raise ChannelError(400, "PAYERROR", _("This payment failed; please place a new order."))


def trade_pay(*, trade_id: int) -> Trade:
    """The payer confirmed: the trade is paid (SUCCESS, a transaction id, payer_total) and its
    TRANSACTION.SUCCESS notification is queued. Refuses a trade that is not open (paid,
    closed, expired, failed). One conditional update decides between two confirms."""
    # Expired first, in its own statement: the refusal below must not undo the closing.
    trade = _expire_if_due(Trade.objects.get(pk=trade_id))
    _refuse_unpayable(trade)
    with transaction.atomic():
        now = timezone.now()
        paid = Trade.objects.filter(pk=trade.pk, state__in=OPEN).update(
            state=Trade.State.SUCCESS,
            transaction_id=_new_number("4200", now),
            payer_total_fen=F("total_fen"),
            paid_at=now,
            updated_at=now,
        )
        trade.refresh_from_db()
        if not paid:
            _refuse_unpayable(trade)
        notifications.notify_trade(trade, event_type="TRANSACTION.SUCCESS", summary="支付成功")
    return trade


def trade_decline(*, trade_id: int) -> Trade:
    """The payer declined: the trade failed (PAYERROR) and a notification says so. (The real
    channel notifies successes only; the sandbox also tells us of a failure, so our side
    meets that state without polling.) Refuses a trade that is not open."""
    trade = _expire_if_due(Trade.objects.get(pk=trade_id))
    _refuse_unpayable(trade)
    with transaction.atomic():
        failed = Trade.objects.filter(pk=trade.pk, state__in=OPEN).update(
            state=Trade.State.PAYERROR, updated_at=timezone.now()
        )
        trade.refresh_from_db()
        if not failed:
            _refuse_unpayable(trade)
        notifications.notify_trade(trade, event_type="TRANSACTION.PAYERROR", summary="支付失败")
    return trade


def pay(ref: str) -> Trade:
    """Settle a trade as paid, as confirming its hosted page does (``ref``: prepay id or
    out_trade_no). For tests and benches."""
    return trade_pay(trade_id=trade_find(ref).pk)


def decline(ref: str) -> Trade:
    """Fail a trade, as declining its hosted page does. For tests and benches."""
    return trade_decline(trade_id=trade_find(ref).pk)


# --- Refunds ---------------------------------------------------------------------------------
@transaction.atomic
def refund_create(
    *,
    sp_mchid: str,
    sub_mchid: str,
    out_trade_no: str,
    out_refund_no: str,
    refund_fen: int,
    total_fen: int,
    currency: str = "CNY",
    reason: str = "",
    notify_url: str = "",
) -> Refund:
    """Accept a refund (PROCESSING; its outcome comes ``SANDBOX_GATEWAY_REFUND_DELAY_S``
    later, with a notification). Idempotent by ``out_refund_no``: the same request again
    returns the same refund, other content under that number is refused. Refuses a refund of
    an unpaid trade, a ``total`` that is not the trade's, and more than is left of the paid
    total: the conditional update on the trade's ``refunded_fen`` decides, the check
    constraint guarantees."""
    if not OUT_REFUND_NO.fullmatch(out_refund_no or ""):
        raise ChannelError(400, "PARAM_ERROR", _("out_refund_no is 1-64 letters, digits or _-|*@"))
    for value in (refund_fen, total_fen):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ChannelError(400, "PARAM_ERROR", _("amounts are positive integers (fen)"))
    if currency != "CNY":
        raise ChannelError(400, "PARAM_ERROR", _("amount.currency must be CNY"))
    if notify_url and not re.match(r"https?://[^/]+", notify_url):
        raise ChannelError(400, "PARAM_ERROR", _("notify_url is an absolute http(s) URL"))
    digest = _digest(out_trade_no=out_trade_no, refund_fen=refund_fen, total_fen=total_fen)
    trades = Trade.objects.filter(sp_mchid=sp_mchid, out_trade_no=out_trade_no)
    if sub_mchid:  # optional in the sandbox only: see trade_get
        trades = trades.filter(sub_mchid=sub_mchid)
    trade = _one(trades, ChannelError(404, "RESOURCE_NOT_EXISTS", _("The order does not exist")))
    sub_mchid = trade.sub_mchid
    existing = Refund.objects.filter(
        sp_mchid=sp_mchid, sub_mchid=sub_mchid, out_refund_no=out_refund_no
    ).first()
    if existing is not None:
        return _same_refund(existing, digest)
    if trade.state not in PAID:
        raise ChannelError(400, "INVALID_REQUEST", _("The order has not been paid"))
    if total_fen != trade.total_fen:
        raise ChannelError(400, "INVALID_REQUEST", _("amount.total is not the order's total"))
    now = timezone.now()
    fault = fault_for(out_trade_no)
    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                trade=trade,
                sp_mchid=sp_mchid,
                sub_mchid=sub_mchid,
                out_refund_no=out_refund_no,
                refund_id=_new_number("5030", now),
                refund_fen=refund_fen,
                reason=reason[:80],
                notify_url=notify_url,
                request_digest=digest,
                settle_at=now + timedelta(seconds=conf.refund_delay_s()),
                outcome=fault.refund_outcome if fault else Refund.Status.SUCCESS,
            )
    except IntegrityError:
        # A concurrent request with the same out_refund_no committed first.
        existing = Refund.objects.get(
            sp_mchid=sp_mchid, sub_mchid=sub_mchid, out_refund_no=out_refund_no
        )
        return _same_refund(existing, digest)
    taken = Trade.objects.filter(
        pk=trade.pk, state__in=PAID, refunded_fen__lte=F("total_fen") - refund_fen
    ).update(refunded_fen=F("refunded_fen") + refund_fen, state=Trade.State.REFUND, updated_at=now)
    if not taken:
        raise ChannelError(
            400, "INVALID_REQUEST", _("The refund exceeds what is left to refund on the order")
        )
    if conf.auto_deliver():
        transaction.on_commit(
            partial(_schedule_refund_settle, refund_id=refund.pk, countdown=conf.refund_delay_s()),
            robust=True,
        )
    return refund


def _same_refund(existing: Refund, digest: str) -> Refund:
    if existing.request_digest != digest:
        raise ChannelError(400, "INVALID_REQUEST", _("out_refund_no was used with other content"))
    return existing


def _schedule_refund_settle(*, refund_id: int, countdown: float) -> None:
    from .tasks import settle_refund

    settle_refund.apply_async(kwargs={"refund_id": refund_id}, countdown=countdown)


@transaction.atomic
def refund_settle(*, refund_id: int) -> Refund:
    """A PROCESSING refund reaches its outcome (SUCCESS unless a fault said ABNORMAL or
    CLOSED; then the amount is refundable again) and its REFUND.* notification is queued if
    it had a notify URL. Idempotent: a settled refund is returned as it is."""
    refund = Refund.objects.select_related("trade").get(pk=refund_id)
    now = timezone.now()
    outcome = refund.outcome
    settled = Refund.objects.filter(pk=refund.pk, status=Refund.Status.PROCESSING).update(
        status=outcome, succeeded_at=now if outcome == Refund.Status.SUCCESS else None
    )
    refund.refresh_from_db()
    if not settled:
        return refund
    if outcome != Refund.Status.SUCCESS:
        Trade.objects.filter(pk=refund.trade_id).update(
            refunded_fen=F("refunded_fen") - refund.refund_fen, updated_at=now
        )
        Trade.objects.filter(pk=refund.trade_id, refunded_fen=0).update(state=Trade.State.SUCCESS)
    if refund.notify_url:
        summary = {"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}[outcome]
        notifications.notify_refund(refund, event_type=f"REFUND.{outcome}", summary=summary)
    return refund


def refund_settle_if_due(*, refund_id: int) -> float | None:
    """Settle a refund if its moment has come; else the seconds until it does (None: settled
    already). Eager mode runs the settle task at once, before that moment."""
    refund = Refund.objects.get(pk=refund_id)
    if refund.status != Refund.Status.PROCESSING:
        return None
    wait = (refund.settle_at - timezone.now()).total_seconds()
    if wait > 0:
        return wait
    refund_settle(refund_id=refund_id)
    return None


def refunds_settle_due(*, now: datetime | None = None) -> int:
    """Settle every PROCESSING refund whose moment has come; how many."""
    now = now or timezone.now()
    due = Refund.objects.filter(status=Refund.Status.PROCESSING, settle_at__lte=now)
    count = 0
    for refund_id in due.order_by("settle_at", "pk").values_list("pk", flat=True)[:200]:
        refund_settle(refund_id=refund_id)
        count += 1
    return count


def refund_get(*, sp_mchid: str, sub_mchid: str, out_refund_no: str) -> Refund:
    """The refund as the channel answers a query (settled first if its moment has come)."""
    refunds = Refund.objects.filter(sp_mchid=sp_mchid, out_refund_no=out_refund_no)
    if sub_mchid:  # optional in the sandbox only: see trade_get
        refunds = refunds.filter(sub_mchid=sub_mchid)
    refund = _one(refunds, ChannelError(404, "RESOURCE_NOT_EXISTS", _("The refund does not exist")))
    if refund.status == Refund.Status.PROCESSING and refund.settle_at <= timezone.now():
        refund = refund_settle(refund_id=refund.pk)
    return refund


# --- Faults ----------------------------------------------------------------------------------
def misbehave(
    out_trade_no: str,
    *,
    duplicate: int = 0,
    delay_s: int = 0,
    reorder: bool = False,
    corrupt_signature: bool = False,
    report_amount_fen: int | None = None,
    statement_amount_fen: int | None = None,
    drop_from_statement: bool = False,
    never_notify: bool = False,
    refund_outcome: str = "SUCCESS",
) -> Fault:
    """Make the sandbox misbehave for one trade number, from now on (it may be set before the
    trade exists), replacing any fault set before:

    - ``duplicate=N``: every notification of the trade is sent N extra times (same id, same
      body; each copy delivered and retried on its own);
    - ``delay_s``: each notification's first attempt is this many seconds late;
    - ``reorder``: the next notification is held back until the one after it (a refund's,
      say) has been delivered, so the later event arrives first (held at most
      ``SANDBOX_GATEWAY_REORDER_HOLD_S``); used once;
    - ``corrupt_signature``: notifications carry a signature that does not verify;
    - ``report_amount_fen``: notifications and query answers say the trade was paid this
      amount (``amount.total`` and ``payer_total``);
    - ``statement_amount_fen``: the bill's payment line shows this amount;
    - ``drop_from_statement``: the trade's lines (payment and refunds) are left off the bill;
    - ``never_notify``: no notification is sent (the delivery row says ``suppressed``);
      our side must query;
    - ``refund_outcome``: refunds of the trade end ABNORMAL or CLOSED instead of SUCCESS
      (applies to refunds asked for after this call).
    """
    if refund_outcome not in Refund.Status.values or refund_outcome == "PROCESSING":
        raise ValueError(f"refund_outcome {refund_outcome!r}")
    fault, _created = Fault.objects.update_or_create(
        out_trade_no=out_trade_no,
        defaults={
            "duplicate": duplicate,
            "delay_s": delay_s,
            "reorder": reorder,
            "corrupt_signature": corrupt_signature,
            "report_amount_fen": report_amount_fen,
            "statement_amount_fen": statement_amount_fen,
            "drop_from_statement": drop_from_statement,
            "never_notify": never_notify,
            "refund_outcome": refund_outcome,
        },
    )
    return fault


def behave(out_trade_no: str) -> None:
    """Clear the fault of a trade number."""
    Fault.objects.filter(out_trade_no=out_trade_no).delete()


def reported_amount_fen(trade: Trade, fault: Fault | None) -> int:
    """What the channel says was paid: the truth unless a fault makes it lie."""
    if fault is not None and fault.report_amount_fen is not None:
        return fault.report_amount_fen
    return trade.payer_total_fen if trade.payer_total_fen is not None else trade.total_fen
