"""Payments under concurrency on PostgreSQL: real connections in threads, the order's row
lock, constraints. Each test asserts the invariant in the database, not only the answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from coupons.models import Coupon, CouponEvent, Verification
from payments import services
from payments.gateways import RefundState, TradeState
from payments.models import OrderEvent, PaymentOrder, Refund
from points.models import JournalEntry
from tests.coupons.test_concurrency import run_concurrently

from .conftest import key, paid_report
from .test_orders import balance, create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_hundred_duplicate_paid_reports_pay_once(payer, qr, coupon, earn_rate):
    order = create(payer, qr, 12_000, coupon_id=coupon.pk, points=3000)
    report = paid_report(order)
    outcomes = []

    def apply():
        outcomes.append(services.order_apply_trade(trade=report, source="gateway")[1])

    assert run_concurrently([apply] * 100) == ["ok"] * 100
    assert sorted(set(outcomes)) == ["applied", "duplicate"] and outcomes.count("applied") == 1
    assert OrderEvent.objects.filter(order=order, to_status="paid").count() == 1
    assert JournalEntry.objects.filter(kind="earn", reference_id=order.pk).count() == 1
    assert Verification.objects.filter(coupon=coupon, undone_at__isnull=True).count() == 1
    assert CouponEvent.objects.filter(coupon=coupon, to_status="verified").count() == 1
    assert balance(payer) == (2000, 70)


def test_closing_and_paying_at_once_end_in_one_consistent_state(payer, qr, coupon, earn_rate):
    """The closing job and a paid report race many times: either the order was paid (coupon
    used, points spent, earned) or closed and then paid late (everything given back, a full
    automatic refund) -- never both given back and kept, never paid twice."""
    later = timezone.now() + timedelta(minutes=16)
    for _ in range(10):
        order = create(payer, qr, 12_000, coupon_id=coupon.pk, points=3000)
        closed = TradeState(out_trade_no=order.out_trade_no, status="closed")
        calls = [
            lambda closed=closed: services.order_apply_trade(trade=closed, source="system",
                                                             now=later),
            lambda order=order: services.order_apply_trade(trade=paid_report(order),
                                                           source="gateway"),
        ]
        assert run_concurrently(calls) == ["ok", "ok"]
        order.refresh_from_db()
        coupon.refresh_from_db()
        assert order.status == "paid"
        if order.late_payment:
            assert coupon.status == Coupon.Status.ISSUED
            assert Refund.objects.get(order=order).amount_fen == order.amount_fen
            assert order.points_earned == 0
            assert balance(payer)[0] == 5000
        else:
            assert coupon.status == Coupon.Status.VERIFIED
            assert not Refund.objects.filter(order=order).exists()
            # Put the coupon and points back for the next round through a full refund.
            refund = services.refund_request(
                actor=order.merchant.staff.get(role="owner").user, out_trade_no=order.out_trade_no,
                amount_fen=order.amount_fen, idempotency_key=key("r"), reason="next round",
            )
            services.refund_apply_state(
                state=RefundState(out_refund_no=refund.out_refund_no, status="succeeded",
                                  amount_fen=refund.amount_fen),
                source="gateway",
            )
            coupon.refresh_from_db()
            assert coupon.status == Coupon.Status.ISSUED


def test_one_key_sent_many_times_at_once_makes_one_order(payer, qr, coupon):
    k = key("order")
    calls = [lambda: create(payer, qr, 12_000, coupon_id=coupon.pk, points=1000,
                            idempotency_key=k)] * 20
    assert run_concurrently(calls) == ["ok"] * 20
    assert PaymentOrder.objects.count() == 1
    assert balance(payer) == (4000, 0)


def test_two_orders_for_one_coupon_hold_it_once(payer, qr, coupon):
    calls = [lambda: create(payer, qr, 12_000, coupon_id=coupon.pk)] * 10
    results = run_concurrently(calls)
    assert results.count("ok") == 1
    assert set(results) == {"ok", "coupon_already_used"}
    assert PaymentOrder.objects.count() == 1


def test_refunds_at_once_never_pass_what_was_paid(payer, qr, owner, earn_rate):
    order = create(payer, qr, 10_000)
    services.order_apply_trade(trade=paid_report(order), source="gateway")
    calls = [
        lambda: services.refund_request(actor=owner, out_trade_no=order.out_trade_no,
                                        amount_fen=3000, idempotency_key=key("r"), reason="x")
    ] * 10
    results = run_concurrently(calls)
    assert results.count("ok") == 3
    assert set(results) == {"ok", "refund_exceeds_paid"}
    order.refresh_from_db()
    assert order.refund_pending_fen == 9000


def test_a_hundred_duplicate_notifications_over_http_at_once_pay_once(
    settings, live_server, payer, qr, coupon, earn_rate
):
    """The sandbox sends the paid notification 100 times (signed, over HTTP to the live
    server's notify URL), all at once from 40 threads: one paid transition, one points award,
    one coupon verification; every copy is answered success and recorded."""
    from payments.models import GatewayNotification
    from sandbox_gateway import services as sandbox
    from sandbox_gateway.models import Delivery, DeliveryAttempt
    from sandbox_gateway.notifications import delivery_attempt

    settings.ALLIANCE_PUBLIC_BASE_URL = live_server.url
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    settings.SANDBOX_GATEWAY_NOTIFY_TRANSPORT = "http"
    order = create(payer, qr, 12_000, coupon_id=coupon.pk, points=3000)
    order = services.order_start_payment(order_id=order.pk)
    sandbox.misbehave(order.out_trade_no, duplicate=99)
    sandbox.pay(order.out_trade_no)
    ids = list(Delivery.objects.filter(trade__out_trade_no=order.out_trade_no)
               .values_list("pk", flat=True))
    assert len(ids) == 100
    results = run_concurrently([lambda i=i: delivery_attempt(delivery_id=i) for i in ids])
    assert results == ["ok"] * 100
    # The live server's listen backlog is small (Django's WSGIServer keeps 10): under 40 connections at
    # once an attempt can be refused before it reaches us. A channel tries such a copy again,
    # so does the test, a few times; every copy must end answered with success.
    for _round in range(5):
        left = list(Delivery.objects.filter(pk__in=ids).exclude(status="delivered")
                    .values_list("pk", flat=True))
        for delivery_id in left:  # due now: the retry schedule's wait is skipped
            delivery_attempt(delivery_id=delivery_id, now=timezone.now() + timedelta(minutes=1))
    failed = list(DeliveryAttempt.objects.filter(delivery_id__in=ids)
                  .exclude(status_code=204).values_list("status_code", "error"))
    assert Delivery.objects.filter(pk__in=ids, status="delivered").count() == 100, failed
    assert all(code is None for code, _error in failed), failed  # refused, never answered 4xx/5xx
    outcomes = list(GatewayNotification.objects.filter(order=order)
                    .values_list("outcome", flat=True))
    # One applied -- or none, when the poll job (a worker of the session may be running)
    # asked the channel first and found it paid: then every copy is a duplicate.
    assert len(outcomes) == 100 and set(outcomes) <= {"applied", "duplicate"}
    assert outcomes.count("applied") <= 1
    assert OrderEvent.objects.filter(order=order, to_status="paid").count() == 1
    assert JournalEntry.objects.filter(kind="earn", reference_id=order.pk).count() == 1
    assert Verification.objects.filter(coupon=coupon, undone_at__isnull=True).count() == 1
    assert balance(payer) == (2000, 70)
