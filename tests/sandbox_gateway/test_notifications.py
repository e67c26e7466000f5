"""Notifications: signed, encrypted, delivered over real HTTP on WeChat Pay's retry schedule,
with the faults a real channel shows (duplicates, delay, reordering, bad signatures, lies,
silence)."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from payments.gateways.base import NotificationRejected
from sandbox_gateway import notifications, services, tasks
from sandbox_gateway.models import Delivery
from tests.sandbox_gateway.helpers import create, make_gateway

pytestmark = pytest.mark.django_db


@pytest.fixture
def gateway():
    return make_gateway()


def sweep_until(done, timeout_s=15.0):
    """Sweep due deliveries until ``done()`` (the retries' waits are real, if short)."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "deliveries did not finish in time"
        notifications.deliver_due()
        time.sleep(0.02)


def delivered(*deliveries):
    return lambda: all(
        Delivery.objects.get(pk=d.pk).status == Delivery.Status.DELIVERED for d in deliveries
    )


def test_retried_until_taken_and_accepted_by_the_adapter(gateway, quick, receiver_factory):
    receiver = receiver_factory(500, 500, 204)
    prepay = create(gateway, "P202605020001", amount_fen=1234, notify_url=receiver.url)
    services.pay(prepay.prepay_id)
    (delivery,) = Delivery.objects.filter(trade__out_trade_no="P202605020001")
    sweep_until(delivered(delivery))
    attempts = list(delivery.attempt_rows.values_list("number", "status_code"))
    assert attempts == [(1, 500), (2, 500), (3, 204)]
    gaps = [
        b.at - a.at
        for a, b in zip(
            delivery.attempt_rows.all(), list(delivery.attempt_rows.all())[1:], strict=False
        )
    ]
    assert all(gap >= timedelta(seconds=0.15) for gap in gaps)  # 15 s x 0.01
    assert len({body for _headers, body in receiver.received}) == 1  # the same body each time
    headers, body = receiver.received[-1]
    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    notification = gateway.parse_notification(headers=headers, body=body)
    envelope = json.loads(body)
    assert (
        envelope["event_type"] == "TRANSACTION.SUCCESS"
        and envelope["resource_type"] == "encrypt-resource"
    )
    assert notification.kind == "payment" and notification.event_id == envelope["id"]
    trade = notification.trade
    assert (trade.out_trade_no, trade.status, trade.amount_fen, trade.account) == (
        "P202605020001", "paid", 1234, "M0000001",
    )  # fmt: skip
    assert trade.transaction_id and trade.paid_at is not None
    assert notification.raw["sp_mchid"] == "1900000103"
    # Five minutes later the same headers are stale.
    with pytest.raises(NotificationRejected) as refused:
        gateway.parse_notification(
            headers=headers, body=body, now=timezone.now() + timedelta(minutes=6)
        )
    assert refused.value.code == "timestamp_out_of_window"


def test_a_notification_for_another_channel_is_refused(quick, receiver_factory):
    receiver = receiver_factory(204)
    wechat = make_gateway("wechat")
    services.pay(create(wechat, "P202605020002", notify_url=receiver.url).prepay_id)
    sweep_until(lambda: receiver.received)
    headers, body = receiver.received[0]
    with pytest.raises(NotificationRejected) as refused:
        make_gateway("alipay").parse_notification(headers=headers, body=body)
    assert refused.value.code == "malformed"


def test_it_gives_up_after_wechats_sixteen_attempts(gateway, quick, receiver_factory):
    quick.SANDBOX_GATEWAY_RETRY_SCALE = 0.0
    receiver = receiver_factory(503)
    services.pay(create(gateway, "P202605020003", notify_url=receiver.url).prepay_id)
    (delivery,) = Delivery.objects.filter(trade__out_trade_no="P202605020003")
    sweep_until(lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.GAVE_UP)
    assert delivery.attempt_rows.count() == 16 == len(receiver.received)


def test_an_unreachable_receiver_is_an_attempt_without_status(gateway, quick):
    services.pay(
        create(gateway, "P202605020004", notify_url="http://127.0.0.1:9/notify/").prepay_id
    )
    (delivery,) = Delivery.objects.filter(trade__out_trade_no="P202605020004")
    notifications.deliver_due()
    (attempt,) = delivery.attempt_rows.all()
    assert attempt.status_code is None and attempt.error
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING and delivery.next_attempt_at > attempt.at


def test_corrupt_signature_is_refused_by_the_adapter(gateway, quick, receiver_factory):
    receiver = receiver_factory(204)
    services.misbehave("P202605020005", corrupt_signature=True)
    services.pay(create(gateway, "P202605020005", notify_url=receiver.url).prepay_id)
    sweep_until(lambda: receiver.received)
    headers, body = receiver.received[0]
    with pytest.raises(NotificationRejected) as refused:
        gateway.parse_notification(headers=headers, body=body)
    assert refused.value.code == "signature_invalid"


def test_duplicate_sends_n_plus_one_identical_events(gateway, quick, receiver_factory):
    receiver = receiver_factory(204)
    services.misbehave("P202605020006", duplicate=2)
    services.pay(create(gateway, "P202605020006", notify_url=receiver.url).prepay_id)
    deliveries = list(Delivery.objects.filter(trade__out_trade_no="P202605020006"))
    assert [d.copy for d in deliveries] == [0, 1, 2]
    sweep_until(delivered(*deliveries))
    bodies = [body for _headers, body in receiver.received]
    assert len(bodies) == 3 and len(set(bodies)) == 1
    events = {gateway.parse_notification(headers=h, body=b).event_id for h, b in receiver.received}
    assert len(events) == 1


def test_delay_holds_the_first_attempt(gateway, quick, receiver_factory):
    receiver = receiver_factory(204)
    services.misbehave("P202605020007", delay_s=1)
    services.pay(create(gateway, "P202605020007", notify_url=receiver.url).prepay_id)
    assert notifications.deliver_due() == 0 and not receiver.received
    (delivery,) = Delivery.objects.filter(trade__out_trade_no="P202605020007")
    assert delivery.next_attempt_at >= timezone.now() + timedelta(seconds=0.5)
    sweep_until(delivered(delivery), timeout_s=10)


def test_reorder_delivers_the_refund_before_the_payment(gateway, quick, receiver_factory):
    receiver = receiver_factory(204)
    quick.SANDBOX_GATEWAY_REFUND_DELAY_S = 0
    services.misbehave("P202605020008", reorder=True)
    services.pay(
        create(gateway, "P202605020008", amount_fen=800, notify_url=receiver.url).prepay_id
    )
    (held,) = Delivery.objects.filter(trade__out_trade_no="P202605020008")
    assert held.status == Delivery.Status.HELD
    assert notifications.deliver_due() == 0  # held back
    gateway.refund(
        out_trade_no="P202605020008",
        out_refund_no="R08-1",
        amount_fen=800,
        total_fen=800,
        notify_url=receiver.url,
    )
    sweep_until(lambda: len(receiver.received) == 2)
    kinds = [gateway.parse_notification(headers=h, body=b).kind for h, b in receiver.received]
    assert kinds == ["refund", "payment"]
    refund = gateway.parse_notification(
        headers=receiver.received[0][0], body=receiver.received[0][1]
    ).refund
    assert (refund.out_refund_no, refund.status, refund.amount_fen, refund.out_trade_no) == (
        "R08-1", "succeeded", 800, "P202605020008",
    )  # fmt: skip


def test_a_held_event_goes_out_at_the_latest_after_the_hold(gateway, quick, receiver_factory):
    receiver = receiver_factory(204)
    quick.SANDBOX_GATEWAY_REORDER_HOLD_S = 10  # x 0.01
    services.misbehave("P202605020009", reorder=True)
    services.pay(create(gateway, "P202605020009", notify_url=receiver.url).prepay_id)
    (held,) = Delivery.objects.filter(trade__out_trade_no="P202605020009")
    sweep_until(delivered(held), timeout_s=10)


def test_never_notify_leaves_only_the_query(gateway, quick, receiver_factory):
    receiver = receiver_factory(204)
    services.misbehave("P202605020010", never_notify=True)
    services.pay(create(gateway, "P202605020010", notify_url=receiver.url).prepay_id)
    (delivery,) = Delivery.objects.filter(trade__out_trade_no="P202605020010")
    assert delivery.status == Delivery.Status.SUPPRESSED
    assert notifications.deliver_due() == 0 and not receiver.received
    assert gateway.query(out_trade_no="P202605020010").status == "paid"


def test_report_amount_lies_in_notification_and_query(gateway, quick, receiver_factory):
    receiver = receiver_factory(204)
    services.misbehave("P202605020011", report_amount_fen=1)
    services.pay(
        create(gateway, "P202605020011", amount_fen=5000, notify_url=receiver.url).prepay_id
    )
    sweep_until(lambda: receiver.received)
    headers, body = receiver.received[0]
    assert gateway.parse_notification(headers=headers, body=body).trade.amount_fen == 1
    assert gateway.query(out_trade_no="P202605020011").amount_fen == 1
    services.behave("P202605020011")
    assert gateway.query(out_trade_no="P202605020011").amount_fen == 5000


def test_a_declined_payment_is_notified_as_failed(gateway, quick, receiver_factory):
    receiver = receiver_factory(204)
    services.decline(create(gateway, "P202605020012", notify_url=receiver.url).prepay_id)
    sweep_until(lambda: receiver.received)
    notification = gateway.parse_notification(
        headers=receiver.received[0][0], body=receiver.received[0][1]
    )
    assert json.loads(receiver.received[0][1])["event_type"] == "TRANSACTION.PAYERROR"
    assert (notification.trade.status, notification.trade.amount_fen) == ("failed", None)


def test_an_attempt_is_made_once_however_often_it_is_asked(gateway, quick, receiver_factory):
    receiver = receiver_factory(500)
    services.pay(create(gateway, "P202605020013", notify_url=receiver.url).prepay_id)
    (delivery,) = Delivery.objects.filter(trade__out_trade_no="P202605020013")
    now = timezone.now()
    assert notifications.delivery_attempt(delivery_id=delivery.pk, now=now) == pytest.approx(0.15)
    # A second task, a redelivered message or the sweep: not due, nothing sent.
    assert notifications.delivery_attempt(delivery_id=delivery.pk, now=now) is None
    assert len(receiver.received) == 1


def test_eager_mode_makes_one_attempt_and_leaves_retries_to_the_sweep(
    gateway, quick, receiver_factory, monkeypatch
):
    receiver = receiver_factory(500)
    services.pay(create(gateway, "P202605020014", notify_url=receiver.url).prepay_id)
    (delivery,) = Delivery.objects.filter(trade__out_trade_no="P202605020014")
    chained = []
    monkeypatch.setattr(
        tasks.deliver_notification, "apply_async", lambda *a, **k: chained.append(k)
    )
    tasks.deliver_notification.apply(kwargs={"delivery_id": delivery.pk})  # as eager mode runs it
    assert len(receiver.received) == 1 and chained == []
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING and delivery.attempts == 1


def test_inprocess_transport_posts_through_the_urlconf(gateway, quick, receiver_factory):
    """With SANDBOX_GATEWAY_NOTIFY_TRANSPORT = "inprocess" the POST goes through Django's
    test client to the notify URL's path: here the sandbox's own query path, which refuses
    it unsigned (401): the attempt is recorded as a failure with that status."""
    quick.SANDBOX_GATEWAY_NOTIFY_TRANSPORT = "inprocess"
    notify_url = "http://127.0.0.1:8000/sandbox-gateway/v3/refund/domestic/refunds"
    services.pay(create(gateway, "P202605020015", notify_url=notify_url).prepay_id)
    (delivery,) = Delivery.objects.filter(trade__out_trade_no="P202605020015")
    notifications.deliver_due()
    (attempt,) = delivery.attempt_rows.all()
    assert attempt.status_code == 401 and "SIGN_ERROR" in attempt.response_body
