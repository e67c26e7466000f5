"""Refunds: full or partial, several up to what was paid, to the channel the order was paid
with, asynchronous like the payment.

What a refund gives back besides money, counted on the *cumulative* refunded share so that
several partial refunds never round away a point: after refunds totalling R of a charge C,
the customer has had ``floor(points_used x R / C)`` of the points they paid with given back,
and ``floor(points_earned x R / C)`` of the points the payment earned taken back (a full
refund: all of both). Earned points the customer has already spent are taken from their other
points, and what cannot be taken is recorded as the refund's ``points_shortfall`` (balances
never go negative). The coupon comes back only with a full refund, and only while it is still
valid (``valid_until`` in the future): an expired coupon is not revived by a refund.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import roles
from alliance.errors import NotFound
from coupons.errors import CouponAlreadyUsed
from coupons.models import Verification
from coupons.services.paying import coupon_release_from_payment, voucher_refund
from merchants.services._common import membership_of
from points.services import points_refund_spend_within, points_reverse_earn_within
from points.services.tiers import evaluate_tier, record_spending

from ..errors import (
    IdempotencyKeyReused,
    InvalidInput,
    OrderNotFound,
    RefundExceedsPaid,
    RefundNotAllowed,
    RefundWindowPassed,
)
from ..gateways import GatewayError, RefundState, gateway_for
from ..models import PaymentOrder, Refund
from ._common import check_key, lock_order, new_number, record
from .orders import PaymentMismatch, notify_url_for

Status = PaymentOrder.Status


def _refunder_may(actor, order: PaymentOrder) -> None:
    """The merchant's owner refunds its own payments; head office any (a cashier: 403;
    another merchant's payment: 404). The buyer of a paid voucher that is refundable while
    unused asks for its refund themselves."""
    if roles.is_head_office(actor):
        return
    if (
        order.kind == PaymentOrder.Kind.VOUCHER
        and roles.is_customer(actor)
        and order.customer_id == actor.pk
    ):
        if not order.voucher_template.refund_any_time:
            raise RefundNotAllowed(_("This voucher cannot be refunded."))
        return
    try:
        membership_of(actor, merchant_id=order.merchant_id, owner=True)
    except NotFound:  # not this merchant's staff
        raise OrderNotFound() from None


@transaction.atomic(durable=True)
def refund_request(
    *,
    actor,
    out_trade_no: str,
    amount_fen: int,
    idempotency_key: str,
    reason: str,
    now: datetime | None = None,
) -> Refund:
    """Ask for a refund of ``amount_fen`` of a paid order.

    Atomic and idempotent by (order, ``idempotency_key``). Locks the order; refuses beyond what
    is left to refund (``refund_exceeds_paid``, refunds in progress count), after the refund
    window (``refund_window_passed``) and for an order that was not paid. The channel is asked
    after the commit (``payments.tasks.submit_refund``). An order paid entirely by coupon and
    points is refunded at once (``amount_fen`` 0: everything it used is given back).
    """
    now = now or timezone.now()
    key = check_key(idempotency_key)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": _("Say why the payment is refunded.")})
    order = PaymentOrder.objects.filter(out_trade_no=out_trade_no or "").first()
    if order is None:
        raise OrderNotFound()
    _refunder_may(actor, order)
    order = lock_order(order_id=order.pk)
    existing = Refund.objects.filter(order=order, idempotency_key=key).first()
    if existing is not None:
        if existing.amount_fen != amount_fen:
            raise IdempotencyKeyReused()
        return existing
    return refund_create_within(
        order=order, amount_fen=amount_fen, idempotency_key=key, reason=reason, actor=actor,
        automatic=False, now=now,
    )


def refund_create_within(
    *, order: PaymentOrder, amount_fen: int, idempotency_key: str, reason: str, actor,
    automatic: bool, now: datetime,
) -> Refund:
    """The refund row and the order's hold on the amount, in the caller's transaction with the
    order locked; the channel is asked after the commit."""
    if order.status not in (Status.PAID, Status.PARTLY_REFUNDED):
        raise RefundNotAllowed()
    if not automatic and order.paid_at + timedelta(days=settings.ALLIANCE_REFUND_WINDOW_DAYS) < now:
        raise RefundWindowPassed()
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InvalidInput({"amount_fen": _("Enter the amount in fen.")})
    zero_cash = order.amount_fen == 0
    if zero_cash and amount_fen != 0 or not zero_cash and not 0 < amount_fen <= order.refundable_fen:
        raise RefundExceedsPaid(extra={"refundable_fen": order.refundable_fen})
    if order.kind == PaymentOrder.Kind.VOUCHER:
        # A voucher is refunded whole and only while unused: it is taken out of use now.
        if amount_fen != order.amount_fen:
            raise RefundNotAllowed(_("A voucher is refunded in full or not at all."))
        if order.voucher_coupon_id:
            try:
                voucher_refund(coupon_id=order.voucher_coupon_id, reason=reason, now=now)
            except CouponAlreadyUsed:
                raise RefundNotAllowed(_("This voucher has been used.")) from None
    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                out_refund_no=new_number("R", now=now), idempotency_key=idempotency_key,
                order=order, amount_fen=amount_fen, reason=reason[:200], requested_by=actor,
                automatic=automatic,
            )
    except IntegrityError:
        raise IdempotencyKeyReused() from None
    if PaymentOrder.objects.filter(
        pk=order.pk, refunded_fen__lte=F("amount_fen") - F("refund_pending_fen") - amount_fen
    ).update(refund_pending_fen=F("refund_pending_fen") + amount_fen) != 1:
        raise RefundExceedsPaid(extra={"refundable_fen": order.refundable_fen})
    order.refund_pending_fen += amount_fen
    record(order, from_status=order.status, to_status=order.status, actor=actor,
           source="system" if automatic else "merchant", reason=f"refund {refund.out_refund_no} asked")
    if zero_cash:
        _apply_success(order, refund, refund_id="", now=now)
    else:
        from ..tasks import submit_refund

        transaction.on_commit(partial(submit_refund.delay, refund_id=refund.pk))
    return refund


def refund_submit(*, refund_id: int, now: datetime | None = None) -> Refund:
    """Ask the channel for the refund (outside any transaction), then apply its answer. A
    channel that cannot be reached raises ``GatewayError`` (the task retries); one that
    refuses fails the refund and frees its amount."""
    refund = Refund.objects.select_related("order", "order__merchant").get(pk=refund_id)
    if refund.status not in (Refund.Status.PENDING, Refund.Status.PROCESSING):
        return refund
    order = refund.order
    try:
        state = gateway_for(order.channel).refund(
            out_trade_no=order.out_trade_no, out_refund_no=refund.out_refund_no,
            amount_fen=refund.amount_fen, total_fen=order.amount_fen,
            notify_url=notify_url_for(order.channel), reason=refund.reason,
            account=order.merchant.code,
        )
    except GatewayError as exc:
        if exc.retryable:
            raise
        state = RefundState(out_refund_no=refund.out_refund_no, status="failed",
                            amount_fen=refund.amount_fen)
        return refund_apply_state(state=state, source="gateway", failure=str(exc), now=now)[0]
    return refund_apply_state(state=state, source="gateway", now=now)[0]


@transaction.atomic(durable=True)
def refund_apply_state(
    *, state: RefundState, source: str, failure: str = "", now: datetime | None = None
) -> tuple[Refund, str]:
    """Apply what the channel says of a refund: ``succeeded`` gives the money back on the
    order and the points and coupon as the module says; ``failed``/``closed`` frees the amount
    for another try; ``processing`` is noted. Returns (refund, ``applied`` | ``duplicate``).

    Atomic; locks the order, then the refund; idempotent (a refund is decided once). A
    succeeded report for another amount is refused (``payment_mismatch``)."""
    now = now or timezone.now()
    refund = Refund.objects.filter(out_refund_no=state.out_refund_no).first()
    if refund is None:
        raise OrderNotFound()
    order = lock_order(order_id=refund.order_id)
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if refund.status in (Refund.Status.SUCCEEDED, Refund.Status.FAILED):
        return refund, "duplicate"
    if state.status == "succeeded":
        if state.amount_fen != refund.amount_fen:
            raise PaymentMismatch(extra={"reason": "amount", "expected": refund.amount_fen,
                                         "reported": state.amount_fen})
        _apply_success(order, refund, refund_id=state.refund_id,
                       now=state.succeeded_at or now)
        return refund, "applied"
    if state.status in ("failed", "closed"):
        refund.status, refund.failure = Refund.Status.FAILED, failure[:200] or state.status
        refund.save(update_fields=["status", "failure"])
        PaymentOrder.objects.filter(pk=order.pk).update(
            refund_pending_fen=F("refund_pending_fen") - refund.amount_fen
        )
        record(order, from_status=order.status, to_status=order.status, source=source,
               reason=f"refund {refund.out_refund_no} failed")
        return refund, "applied"
    if refund.status == Refund.Status.PENDING:
        refund.status, refund.refund_id = Refund.Status.PROCESSING, state.refund_id
        refund.save(update_fields=["status", "refund_id"])
        return refund, "applied"
    return refund, "duplicate"


def _apply_success(order: PaymentOrder, refund: Refund, *, refund_id: str, now) -> None:
    """Money back, then points and coupon by the cumulative share (see the module's text).
    In the caller's transaction, order and refund locked."""
    order.refresh_from_db()
    refunded = order.refunded_fen + refund.amount_fen
    full = refunded == order.amount_fen
    no = refund.out_refund_no
    if order.points_used and order.points_spend_entry_id and not order.late_payment:
        target = order.points_used if full else order.points_used * refunded // order.amount_fen
        give = target - order.points_returned
        if give > 0:
            points_refund_spend_within(
                spend_entry_id=order.points_spend_entry_id, points=give,
                idempotency_key=f"refund:{no}:points-back", reason=refund.reason, now=now,
            )
            refund.points_returned, order.points_returned = give, order.points_returned + give
    if order.points_earned and order.points_earn_entry_id:
        target = order.points_earned if full else order.points_earned * refunded // order.amount_fen
        take = target - order.points_reversed
        if take > 0:
            reversal = points_reverse_earn_within(
                earn_entry_id=order.points_earn_entry_id, points=take,
                idempotency_key=f"refund:{no}:earn-back", reason=refund.reason, now=now,
            )
            refund.points_reversed, refund.points_shortfall = take, reversal.shortfall
            order.points_reversed += take
    if order.customer_id and refund.amount_fen and not order.late_payment:
        record_spending(customer_id=order.customer_id, amount_fen=-refund.amount_fen,
                        idempotency_key=f"refund:{no}:spend", now=now)
        evaluate_tier(customer_id=order.customer_id, now=now)
    if full and order.coupon_verification_id and not order.late_payment:
        verification = Verification.objects.select_related("coupon").get(
            pk=order.coupon_verification_id
        )
        if verification.coupon.valid_until > now:
            refund.coupon_restored = coupon_release_from_payment(
                verification_id=verification.pk, reason=f"refund {no}", now=now
            )
    refund.status, refund.succeeded_at, refund.refund_id = Refund.Status.SUCCEEDED, now, refund_id
    refund.save(update_fields=["status", "succeeded_at", "refund_id", "points_returned",
                               "points_reversed", "points_shortfall", "coupon_restored"])
    from_status = order.status
    order.refunded_fen = refunded
    order.refund_pending_fen -= refund.amount_fen
    order.status = Status.REFUNDED if full or order.amount_fen == 0 else Status.PARTLY_REFUNDED
    order.save(update_fields=["refunded_fen", "refund_pending_fen", "status", "points_returned",
                              "points_reversed", "updated_at"])
    record(order, from_status=from_status, to_status=order.status, source="gateway",
           reason=f"refund {no}")


def vouchers_refund_expired(*, now: datetime | None = None, limit: int = 500) -> int:
    """Refund automatically the paid vouchers that expired unused, where the voucher says so
    (``refund_on_expiry``): the beat job, after the coupons' expiry job. Each in its own
    transaction; idempotent (one automatic refund per order). Returns how many."""
    now = now or timezone.now()
    ids = list(
        PaymentOrder.objects.filter(
            kind=PaymentOrder.Kind.VOUCHER, status=Status.PAID,
            voucher_coupon__status="expired", voucher_template__refund_on_expiry=True,
        ).values_list("pk", flat=True)[:limit]
    )
    done = 0
    for order_id in ids:
        with transaction.atomic(durable=True):
            order = lock_order(order_id=order_id)
            if order.status != Status.PAID or order.refunds.filter(idempotency_key="expired").exists():
                continue
            refund_create_within(
                order=order, amount_fen=order.amount_fen, idempotency_key="expired",
                reason=str(_("The voucher expired unused: refunded automatically.")),
                actor=None, automatic=True, now=now,
            )
            done += 1
    return done
