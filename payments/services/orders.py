"""Payment orders: create one from a payment QR (coupon and points held), send the payer to
the channel, apply what the channel says (paid, failed, closed), close what nobody paid.

The order row is the lock: every change of an order locks it first, so a paid notification, a
duplicate of it, the closing job and a query's answer arriving together apply once, in some
order, and each later one sees the state the first left. A channel is never called inside a
database transaction (its answer may take seconds, and a transaction must not wait on it).
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import roles
from alliance.errors import ApplicationError, Forbidden
from coupons.models import Coupon
from coupons.services.paying import (
    coupon_release_from_payment,
    coupon_use_for_payment,
    discount_fen,
    voucher_issue,
    voucher_return_stock,
    voucher_take_stock,
)
from points.errors import NoEarnRate
from points.models import JournalLine
from points.services import (
    points_earn_for_payment_within,
    points_refund_spend_within,
    points_spend_within,
    points_to_fen,
)

from ..errors import (
    AmountInvalid,
    ChannelUnavailable,
    IdempotencyKeyReused,
    InvalidInput,
    MerchantNotAccepting,
    OrderNotPayable,
    PointsOverCap,
    QRExpired,
    QRNotFound,
    QRUsed,
)
from ..gateways import GatewayError, TradeState, gateway_for
from ..models import PaymentOrder, PaymentQR
from ._common import MAX_GROSS_FEN, check_key, fee_for, lock_order, new_number, record

log = logging.getLogger(__name__)
Status = PaymentOrder.Status


class PaymentMismatch(ApplicationError):
    """What a channel reported does not match the order (amount or merchant account)."""

    code = "payment_mismatch"
    message = _("The channel's report does not match the order.")


def channel_codes() -> list[str]:
    return [code for code, _label in settings.ALLIANCE_PAYMENT_CHANNELS]


def points_cap(*, gross_fen: int, discount_fen: int) -> int:
    """The most points (in points) that may pay a bill after its coupon: the deduction share
    (``ALLIANCE_POINTS_MAX_DEDUCTION_PERCENT``) of what is left, in whole fen of points."""
    per_yuan = settings.ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN
    max_fen = (gross_fen - discount_fen) * settings.ALLIANCE_POINTS_MAX_DEDUCTION_PERCENT // 100
    return max_fen * per_yuan // 100


def _points_value(points: int) -> int:
    """The fen that ``points`` pay; only amounts of points that are whole fen are taken, so
    no point is spent for nothing."""
    per_yuan = settings.ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN
    if points < 0 or (points * 100) % per_yuan:
        raise InvalidInput(
            {"points": _("Use points in steps of %(step)d.") % {"step": per_yuan // 100 or 1}}
        )
    return points_to_fen(points)


def active_qr(token: str, *, now: datetime) -> PaymentQR:
    """The payment QR of ``token`` as the pay page uses it: active, its merchant taking
    payments, a one-off QR not expired and not paid yet."""
    qr = (
        PaymentQR.objects.select_related("merchant", "store", "merchant__fee_plan")
        .filter(token=(token or "").strip(), is_active=True)
        .first()
    )
    if qr is None:
        raise QRNotFound()
    if qr.merchant.status != "active":
        raise MerchantNotAccepting()
    if qr.kind == PaymentQR.Kind.ONE_OFF:
        if qr.expires_at <= now:
            raise QRExpired()
        if PaymentOrder.objects.filter(
            qr=qr, status__in=PaymentOrder.PAID_STATES, late_payment=False
        ).exists():
            raise QRUsed()
    return qr


@transaction.atomic(durable=True)
def order_create(
    *,
    payer,
    qr_token: str,
    gross_fen: int | None,
    channel: str,
    idempotency_key: str,
    coupon_id: int | None = None,
    points: int = 0,
    now: datetime | None = None,
) -> PaymentOrder:
    """A payment order at the QR's store, with the coupon and points the payer chose.

    Atomic and idempotent by ``idempotency_key`` (the same key from the same payer gives the
    same order; from anybody else, or for another bill, ``idempotency_key_reused``). Holds the
    coupon (verified against the order; see ``coupons.services.paying``) and spends the points
    in the same transaction: if either is refused, no order exists. The points may pay at most
    ``points_cap`` of the bill. An order that coupon and points pay entirely is paid at once
    (channel ``none``); any other is ``created``, and ``order_start_payment`` sends the payer to
    the channel. Only a signed-in customer can use coupons and points.
    """
    now = now or timezone.now()
    key = check_key(idempotency_key)
    customer = payer if roles.is_customer(payer) else None
    existing = PaymentOrder.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return _same_request(existing, customer=customer, qr_token=qr_token, gross_fen=gross_fen)
    qr = active_qr(qr_token, now=now)
    if qr.kind == PaymentQR.Kind.ONE_OFF:
        gross_fen = qr.amount_fen
    if isinstance(gross_fen, bool) or not isinstance(gross_fen, int) or not (
        0 < gross_fen <= MAX_GROSS_FEN
    ):
        raise AmountInvalid()
    if (coupon_id or points) and customer is None:
        raise Forbidden(_("Sign in as a customer to use coupons and points."))
    points = points or 0
    if isinstance(points, bool) or not isinstance(points, int):
        raise InvalidInput({"points": _("Enter a whole number of points.")})

    discount = 0
    if coupon_id:
        coupon = (
            Coupon.objects.select_related("template")
            .filter(pk=coupon_id, customer=customer, template__merchant_id=qr.merchant_id)
            .first()
        )
        # Refusals (someone else's coupon, not usable here) come from the hold below.
        discount = discount_fen(coupon.template, gross_fen) if coupon else 0
    points_fen = _points_value(points)
    if points and points > points_cap(gross_fen=gross_fen, discount_fen=discount):
        raise PointsOverCap(
            extra={"max_points": points_cap(gross_fen=gross_fen, discount_fen=discount)}
        )
    amount = gross_fen - discount - points_fen
    if amount > 0 and channel not in channel_codes():
        raise InvalidInput({"channel": _("Choose how to pay.")})

    order = PaymentOrder(
        out_trade_no=new_number("P", now=now),
        idempotency_key=key,
        merchant=qr.merchant,
        store=qr.store,
        qr=qr if qr.kind == PaymentQR.Kind.ONE_OFF else None,
        customer=customer,
        gross_fen=gross_fen,
        coupon_discount_fen=discount,
        points_used=points,
        points_fen=points_fen,
        amount_fen=amount,
        channel=channel if amount > 0 else PaymentOrder.Channel.NONE,
        expires_at=now + settings.ALLIANCE_PAYMENT_TIMEOUT,
    )
    try:
        with transaction.atomic():
            order.save(force_insert=True)
    except IntegrityError:
        # The same key, sent twice at once: the twin committed first (the insert waited).
        existing = PaymentOrder.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return _same_request(existing, customer=customer, qr_token=qr_token, gross_fen=gross_fen)

    changed = []
    if coupon_id:
        verification, held_discount = coupon_use_for_payment(
            customer_id=customer.pk,
            coupon_id=coupon_id,
            merchant_id=qr.merchant_id,
            store_id=qr.store_id,
            amount_fen=gross_fen,
            order_number=order.out_trade_no,
            now=now,
        )
        if held_discount != discount:
            raise AssertionError("a coupon's terms changed while it was held")
        order.coupon_verification = verification
        coupon = verification.coupon
        if coupon.template.funded_by == coupon.template.FundedBy.CAMPAIGN:
            order.coupon_campaign_id = coupon.template.campaign_id
        changed += ["coupon_verification", "coupon_campaign"]
    if points:
        entry = points_spend_within(
            customer_id=customer.pk,
            points=points,
            idempotency_key=f"payment:{order.out_trade_no}:points",
            merchant_id=qr.merchant_id,
            reference_type="payment",
            reference_id=order.pk,
            reason=qr.merchant.business_name[:200],
            actor=customer,
            now=now,
        )
        order.points_spend_entry_id = entry.pk
        changed.append("points_spend_entry_id")
    if changed:
        order.save(update_fields=changed)
    record(order, to_status=Status.CREATED, source="customer" if customer else "payer", actor=customer)
    if amount == 0:
        _mark_paid(order, transaction_id="", paid_at=now, source="system", now=now)
    return order


def _same_request(order: PaymentOrder, *, customer, qr_token: str, gross_fen) -> PaymentOrder:
    """The order a retried request made, if it is this request (same payer, same QR, same
    bill); ``idempotency_key_reused`` for anything else."""
    same_payer = order.customer_id == (customer.pk if customer else None)
    token = (qr_token or "").strip()
    if order.qr_id is not None:
        same_qr = order.qr.token == token
    else:  # a store's static QR (not kept on the order): the same store's
        same_qr = PaymentQR.objects.filter(
            token=token, store_id=order.store_id, kind=PaymentQR.Kind.STATIC
        ).exists()
    same_bill = order.qr_id is not None or gross_fen == order.gross_fen
    if not (same_payer and same_qr and same_bill):
        raise IdempotencyKeyReused()
    return order


@transaction.atomic(durable=True)
def order_buy_voucher(
    *, customer, template_id: int, channel: str, idempotency_key: str,
    now: datetime | None = None,
) -> PaymentOrder:
    """An order to buy a paid voucher (代金券) at its price, paid like any payment.

    Atomic and idempotent by ``idempotency_key``. Takes one voucher from the template's stock
    at once (locks the template; refuses sold out, not on sale, or the customer at the limit
    counting unpaid purchases), so nobody pays for a voucher that is not there; failing or
    closing gives it back. The coupon is issued when the payment is paid.
    """
    now = now or timezone.now()
    key = check_key(idempotency_key)
    if not roles.is_customer(customer):
        raise Forbidden(_("Sign in as a customer to buy vouchers."))
    existing = PaymentOrder.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.customer_id != customer.pk or existing.voucher_template_id != template_id:
            raise IdempotencyKeyReused()
        return existing
    if channel not in channel_codes():
        raise InvalidInput({"channel": _("Choose how to pay.")})
    pending = PaymentOrder.objects.filter(
        customer=customer, voucher_template_id=template_id, status__in=PaymentOrder.OPEN
    ).count()
    template = voucher_take_stock(customer_id=customer.pk, template_id=template_id,
                                  pending=pending, now=now)
    if template.merchant.status != "active":
        raise MerchantNotAccepting()
    store = template.stores.order_by("pk").first()
    if store is None or template.price_fen <= 0:
        raise MerchantNotAccepting()
    order = PaymentOrder.objects.create(
        out_trade_no=new_number("P", now=now), idempotency_key=key,
        kind=PaymentOrder.Kind.VOUCHER, voucher_template=template,
        merchant=template.merchant, store=store, customer=customer,
        gross_fen=template.price_fen, amount_fen=template.price_fen, channel=channel,
        expires_at=now + settings.ALLIANCE_PAYMENT_TIMEOUT,
    )
    record(order, to_status=Status.CREATED, source="customer", actor=customer,
           reason=f"voucher {template.pk}")
    return order


def return_url_for(order: PaymentOrder) -> str:
    from django.urls import reverse

    base = settings.ALLIANCE_PUBLIC_BASE_URL.rstrip("/")
    return base + reverse("payments:receipt", args=[order.out_trade_no])


def notify_url_for(channel: str) -> str:
    from django.urls import reverse

    base = settings.ALLIANCE_PUBLIC_BASE_URL.rstrip("/")
    return base + reverse("api:payments:notify", args=[channel])


def order_start_payment(*, order_id: int, now: datetime | None = None) -> PaymentOrder:
    """Open the order's trade on its channel and keep where to send the payer.

    Not one transaction: the channel is called between two (see the module's text). Calling it
    again for an order that is already paying gives the same ``pay_url`` (the channel is
    idempotent by the order number too). Refuses ``payment_not_payable`` for an order that is
    no longer open and ``payment_channel_unavailable`` when the channel cannot be reached; the
    order then stays ``created`` and the payer may try again until it expires.
    """
    now = now or timezone.now()
    order = PaymentOrder.objects.select_related("merchant", "store").get(pk=order_id)
    if order.status == Status.PAYING and order.pay_url:
        return order
    if order.status != Status.CREATED or order.expires_at <= now:
        raise OrderNotPayable()
    try:
        prepay = gateway_for(order.channel).create(
            out_trade_no=order.out_trade_no,
            amount_fen=order.amount_fen,
            description=f"{order.merchant.business_name} {order.store.name}"[:127],
            account=order.merchant.code,
            notify_url=notify_url_for(order.channel),
            return_url=return_url_for(order),
            expires_at=order.expires_at,
        )
    except GatewayError as exc:
        log.warning("payment %s: channel %s create failed: %s", order.out_trade_no, order.channel, exc)
        raise ChannelUnavailable() from exc
    with transaction.atomic(durable=True):
        order = lock_order(order_id=order_id)
        if order.status == Status.CREATED:
            order.status, order.pay_url = Status.PAYING, prepay.pay_url
            order.save(update_fields=["status", "pay_url", "updated_at"])
            record(order, from_status=Status.CREATED, to_status=Status.PAYING, source="system")
            if not settings.CELERY_TASK_ALWAYS_EAGER:  # the demo: the receipt page asks instead
                from ..tasks import poll_order

                transaction.on_commit(partial(
                    poll_order.apply_async, kwargs={"order_id": order.pk, "attempt": 0},
                    countdown=poll_delay(0),
                ), robust=True)
    return order


# How long after sending the payer to the channel we ask it, if no notification came: the
# seconds before each query, times ``ALLIANCE_PAYMENT_POLL_SCALE`` (tests compress it).
POLL_SCHEDULE_S = (10, 20, 30, 60, 120, 300, 600)


def poll_delay(attempt: int) -> float | None:
    if attempt >= len(POLL_SCHEDULE_S):
        return None
    return POLL_SCHEDULE_S[attempt] * getattr(settings, "ALLIANCE_PAYMENT_POLL_SCALE", 1.0)


@transaction.atomic(durable=True)
def order_apply_trade(
    *, trade: TradeState, source: str, now: datetime | None = None
) -> tuple[PaymentOrder, str]:
    """Apply what the channel says of a trade (a notification or a query's answer) to its
    order; returns the order and what happened: ``applied``, ``duplicate`` (nothing to change:
    a repeated or stale report) or ``late`` (paid after we had closed it).

    Atomic; locks the order; idempotent: the same report twice changes nothing the second time.
    A ``paid`` report must carry the order's amount and merchant account, or it is refused
    (``payment_mismatch``) and nothing changes. Paid after closing: the coupon and points were
    already given back and may be in use elsewhere, so the payment is accepted as money
    received (``late_payment``) and refunded in full automatically; it earns no points.
    """
    now = now or timezone.now()
    order = lock_order(out_trade_no=trade.out_trade_no)
    if trade.status == "paid":
        if trade.amount_fen != order.amount_fen:
            raise PaymentMismatch(extra={"reason": "amount", "expected": order.amount_fen,
                                         "reported": trade.amount_fen})
        if trade.account and trade.account != order.merchant.code:
            raise PaymentMismatch(extra={"reason": "account"})
        if order.status in PaymentOrder.PAID_STATES:
            return order, "duplicate"
        if order.status in PaymentOrder.OPEN:
            _mark_paid(order, transaction_id=trade.transaction_id,
                       paid_at=trade.paid_at or now, source=source, now=now)
            return order, "applied"
        _accept_late(order, trade=trade, source=source, now=now)
        return order, "late"
    if trade.status in ("failed", "closed") and order.status in PaymentOrder.OPEN:
        to = Status.FAILED if trade.status == "failed" else Status.CLOSED
        _release(order, to_status=to, source=source, now=now,
                 reason=_("The payment failed.") if to == Status.FAILED else _("The payment was closed."))
        return order, "applied"
    return order, "duplicate"


def _mark_paid(order: PaymentOrder, *, transaction_id: str, paid_at: datetime, source: str, now):
    """The order is paid: record it, take the fee, award the points (pending). The coupon and
    points it uses were taken when it was created. In the caller's transaction, order locked."""
    from_status = order.status
    order.status = Status.PAID
    order.paid_at = paid_at
    order.transaction_id = transaction_id
    order.fee_rate_bp = order.merchant.fee_plan.rate_bp
    order.fee_fen = fee_for(order.amount_fen, order.fee_rate_bp)
    if order.customer_id:
        order.points_earn_entry_id, order.points_earned = _earn(order, now=now)
    issue_failed = None
    if order.kind == PaymentOrder.Kind.VOUCHER:
        try:
            with transaction.atomic():
                order.voucher_coupon = voucher_issue(
                    customer_id=order.customer_id, template_id=order.voucher_template_id,
                    order_number=order.out_trade_no, now=now,
                )
        except ApplicationError as exc:  # the buyer reached the limit meanwhile
            issue_failed = exc
    order.save(update_fields=["status", "paid_at", "transaction_id", "fee_rate_bp", "fee_fen",
                              "points_earn_entry_id", "points_earned", "voucher_coupon",
                              "updated_at"])
    record(order, from_status=from_status, to_status=Status.PAID, source=source)
    if issue_failed is not None:
        from .refunds import refund_create_within

        refund_create_within(
            order=order, amount_fen=order.amount_fen, idempotency_key="voucher-not-issued",
            reason=str(_("The voucher could not be issued: refunded automatically.")),
            actor=None, automatic=True, now=now,
        )


def _earn(order: PaymentOrder, *, now) -> tuple[int | None, int]:
    """Points for the cash part of the payment (not what coupon and points paid)."""
    try:
        entry = points_earn_for_payment_within(
            customer_id=order.customer_id, payment_id=order.pk, amount_fen=order.amount_fen,
            merchant_id=order.merchant_id, category=order.merchant.category, now=now,
        )
    except NoEarnRate:
        log.warning("payment %s earns no points: no earning rate is set", order.out_trade_no)
        return None, 0
    if entry is None:
        return None, 0
    earned = JournalLine.objects.filter(
        entry=entry, account__customer_id=order.customer_id
    ).aggregate(n=Sum("amount"))["n"] or 0
    return entry.pk, earned


def _release(order: PaymentOrder, *, to_status: str, source: str, now, reason) -> None:
    """Failed or closed: give the coupon and the points back. In the caller's transaction."""
    from_status = order.status
    if order.coupon_verification_id:
        coupon_release_from_payment(
            verification_id=order.coupon_verification_id, reason=str(reason), now=now
        )
    if order.points_spend_entry_id:
        points_refund_spend_within(
            spend_entry_id=order.points_spend_entry_id, points=order.points_used,
            idempotency_key=f"payment:{order.out_trade_no}:points-back", reason=str(reason)[:200],
            now=now,
        )
        order.points_returned = order.points_used
    if order.kind == PaymentOrder.Kind.VOUCHER:
        voucher_return_stock(template_id=order.voucher_template_id)
    order.status, order.closed_at = to_status, now
    order.save(update_fields=["status", "closed_at", "points_returned", "updated_at"])
    record(order, from_status=from_status, to_status=to_status, source=source, reason=str(reason))


def _accept_late(order: PaymentOrder, *, trade: TradeState, source: str, now) -> None:
    from .refunds import refund_create_within

    from_status = order.status
    order.status, order.late_payment = Status.PAID, True
    order.paid_at = trade.paid_at or now
    order.transaction_id = trade.transaction_id
    order.fee_rate_bp = order.merchant.fee_plan.rate_bp
    order.fee_fen = fee_for(order.amount_fen, order.fee_rate_bp)
    order.save(update_fields=["status", "late_payment", "paid_at", "transaction_id",
                              "fee_rate_bp", "fee_fen", "updated_at"])
    record(order, from_status=from_status, to_status=Status.PAID, source=source,
           reason="paid after the order was closed")
    refund_create_within(
        order=order, amount_fen=order.amount_fen, idempotency_key="late-payment",
        reason=str(_("Paid after the order had closed: refunded automatically.")),
        actor=None, automatic=True, now=now,
    )


def order_settle_open(*, order_id: int, now: datetime | None = None) -> PaymentOrder:
    """Decide an open order by asking its channel: paid or failed as the channel says; past
    its time and still unpaid, closed on the channel and here (coupon and points given back).
    An order the channel cannot be asked about is left for the next run unless it has
    expired: then it is closed here, and a payment that still comes is a late payment.
    """
    now = now or timezone.now()
    order = PaymentOrder.objects.select_related("merchant").get(pk=order_id)
    if not order.is_open:
        return order
    # Only an order we sent to its channel exists there; a ``created`` one never reached it.
    gateway = gateway_for(order.channel) if order.status == Status.PAYING else None
    trade = None
    if gateway is not None:
        try:
            trade = gateway.query(out_trade_no=order.out_trade_no, account=order.merchant.code)
        except GatewayError as exc:
            log.info("payment %s: query failed: %s", order.out_trade_no, exc)
    if trade is not None and trade.status in ("paid", "failed", "closed"):
        try:
            return order_apply_trade(trade=trade, source="gateway", now=now)[0]
        except PaymentMismatch:
            log.error("payment %s: the channel's answer does not match the order", order.out_trade_no)
            return order
    if order.expires_at > now:
        return order
    if gateway is not None:
        try:
            gateway.close(out_trade_no=order.out_trade_no, account=order.merchant.code)
        except GatewayError as exc:
            if exc.code == "trade_paid":  # paid in the meantime: the query will say so
                try:
                    trade = gateway.query(out_trade_no=order.out_trade_no, account=order.merchant.code)
                    return order_apply_trade(trade=trade, source="gateway", now=now)[0]
                except (GatewayError, PaymentMismatch):
                    return order
            log.warning("payment %s: close failed, closing here: %s", order.out_trade_no, exc)
    closed = TradeState(out_trade_no=order.out_trade_no, status="closed")
    return order_apply_trade(trade=closed, source="system", now=now)[0]


def orders_close_expired(*, now: datetime | None = None, limit: int = 500) -> int:
    """Close the open orders past their time (the beat job, every minute). Each order in its
    own transaction; returns how many were closed."""
    now = now or timezone.now()
    ids = list(
        PaymentOrder.objects.filter(status__in=PaymentOrder.OPEN, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    closed = 0
    for order_id in ids:
        order = order_settle_open(order_id=order_id, now=now)
        closed += order.status == Status.CLOSED
    return closed
