"""The notification and retry flow end to end with a real Celery worker: the sandbox's worker
POSTs signed notifications over HTTP to the live server's notify URL (duplicates included);
with no notification our poll job asks the channel; a refund goes to the channel and comes
back as a notification."""

from __future__ import annotations

import time

import pytest

from payments import services
from payments.models import GatewayNotification, OrderEvent, PaymentOrder, Refund
from sandbox_gateway import services as sandbox

from .conftest import key
from .test_orders import create

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def over_http(settings, live_server, celery_worker_process):
    """Our notify URL is the live server's; the worker (started once per session) delivers."""
    settings.ALLIANCE_PUBLIC_BASE_URL = live_server.url
    return live_server


def wait_for(check, *, seconds: float = 45.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    from sandbox_gateway.models import DeliveryAttempt

    seen = [(n.kind, n.outcome, n.code) for n in GatewayNotification.objects.order_by("pk")]
    tries = list(DeliveryAttempt.objects.order_by("pk").values_list(
        "delivery__event_type", "status_code", "error", "response_body"))[-5:]
    raise AssertionError(f"not within {seconds} s: {check.__doc__ or check}; "
                         f"received {seen}; last attempts {tries}")


def started(payer, qr, amount_fen=8800, **kwargs) -> PaymentOrder:
    order = create(payer, qr, amount_fen, **kwargs)
    return services.order_start_payment(order_id=order.pk)


def test_duplicated_notifications_over_http_pay_once(over_http, payer, qr, earn_rate):
    order = started(payer, qr)
    assert order.status == "paying"
    sandbox.misbehave(order.out_trade_no, duplicate=4)
    sandbox.pay(order.out_trade_no)

    def all_five_received():
        """five notifications received"""
        return GatewayNotification.objects.filter(out_trade_no=order.out_trade_no).count() == 5

    wait_for(all_five_received)
    outcomes = list(GatewayNotification.objects.values_list("outcome", flat=True))
    # One applied, unless the poll job found the payment first (then all five are duplicates).
    assert set(outcomes) <= {"applied", "duplicate"} and outcomes.count("applied") <= 1
    assert OrderEvent.objects.filter(order=order, to_status="paid").count() == 1
    order.refresh_from_db()
    assert order.status == "paid" and order.points_earned == 88


def test_without_a_notification_the_poll_job_finds_the_payment(over_http, payer, qr):
    order = started(payer, qr)
    sandbox.misbehave(order.out_trade_no, never_notify=True)
    sandbox.pay(order.out_trade_no)

    def paid():
        """the poll job marked it paid"""
        return PaymentOrder.objects.get(pk=order.pk).status == "paid"

    wait_for(paid)
    assert not GatewayNotification.objects.filter(out_trade_no=order.out_trade_no).exists()


def test_a_refund_goes_to_the_channel_and_comes_back_as_a_notification(over_http, payer, qr,
                                                                      owner, earn_rate):
    order = started(payer, qr, 10_000, points=2000)
    sandbox.pay(order.out_trade_no)
    wait_for(lambda: PaymentOrder.objects.get(pk=order.pk).status == "paid")
    refund = services.refund_request(actor=owner, out_trade_no=order.out_trade_no,
                                     amount_fen=4000, idempotency_key=key("r"), reason="returned")

    def refunded():
        """the refund succeeded"""
        return Refund.objects.get(pk=refund.pk).status == "succeeded"

    wait_for(refunded)
    refund.refresh_from_db()
    assert refund.points_returned == 2000 * 4000 // 8000
    order.refresh_from_db()
    assert order.status == "partly_refunded" and order.refunded_fen == 4000
    assert GatewayNotification.objects.filter(kind="refund", outcome="applied").count() == 1
