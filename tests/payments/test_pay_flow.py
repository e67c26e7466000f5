"""The whole payment through pages and the sandbox gateway's real protocol (in-process): the
pay page, the channel's hosted page, the signed notification to our notify URL, the receipt,
the merchant's takings; and the notify endpoint's refusals."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from coupons.models import Coupon
from payments.models import GatewayNotification, PaymentOrder
from sandbox_gateway import services as sandbox
from sandbox_gateway.models import Delivery
from sandbox_gateway.notifications import delivery_attempt

from .conftest import key

pytestmark = pytest.mark.django_db

ACK = 204  # how our notify URL answers a notification it took (WeChat Pay v3: 200 or 204)


@pytest.fixture(autouse=True)
def _deliver_by_hand(settings):
    """Notifications wait for the test to deliver them (``deliver``), in-process."""
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False


def deliver(out_trade_no: str | None = None) -> list[int]:
    """Send every due notification (of one trade) to our notify URL; the status codes."""
    rows = Delivery.objects.filter(status__in=["pending", "failing"]).order_by("pk")
    if out_trade_no:
        rows = rows.filter(trade__out_trade_no=out_trade_no)
    codes = []
    for delivery in rows:
        delivery_attempt(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        codes.append(delivery.attempt_rows.order_by("-number").first().status_code)
    return codes


def pay_page(client, qr):
    return reverse("payments:pay", args=[qr.token])


def test_scan_pay_with_coupon_and_points_to_the_receipt(client, payer, qr, coupon, earn_rate,
                                                         cashier):
    client.force_login(payer)
    page = client.get(pay_page(client, qr), {"amount": "120"})
    assert page.status_code == 200
    body = page.content.decode()
    assert qr.merchant.business_name in body and "满100减20" in body

    answer = client.post(pay_page(client, qr), {
        "amount": "120", "coupon": str(coupon.pk), "use_points": "on", "points": "3000",
        "points_seen": "1", "channel": "wechat", "key": key(), "action": "pay",
    })
    assert answer.status_code == 302
    order = PaymentOrder.objects.get()
    assert (order.status, order.amount_fen, order.points_used) == ("paying", 7000, 3000)
    assert answer["Location"] == order.pay_url
    assert order.pay_url.startswith("http://testserver/sandbox-gateway/pay/")

    hosted = client.get(order.pay_url)
    assert hosted.status_code == 200 and "70.00" in hosted.content.decode()
    back = client.post(order.pay_url.split("?")[0], {
        "action": "confirm", "redirect_url": "http://testserver"
        + reverse("payments:receipt", args=[order.out_trade_no]),
    })
    assert back.status_code == 302
    assert deliver(order.out_trade_no) == [ACK]

    order.refresh_from_db()
    assert order.status == "paid" and order.points_earned == 70
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.VERIFIED
    receipt = client.get(back["Location"])
    text = receipt.content.decode()
    assert receipt.status_code == 200 and 'data-status="paid"' in text and "¥70.00" in text

    note = GatewayNotification.objects.get()
    assert (note.outcome, note.kind, note.order_id) == ("applied", "payment", order.pk)

    client.force_login(cashier)
    live = client.get(reverse("payments:merchant_takings_live"), {"after": 0})
    assert 'data-amount-fen="7000"' in live.content.decode()
    takings = client.get(reverse("payments:merchant_takings"))
    assert "¥70.00" in takings.content.decode()


def test_the_receipt_asks_the_channel_when_no_notification_came(client, payer, qr):
    client.force_login(payer)
    client.post(pay_page(client, qr), {"amount": "12.34", "channel": "alipay", "key": key(),
                                       "action": "pay", "points_seen": "1"})
    order = PaymentOrder.objects.get()
    sandbox.misbehave(order.out_trade_no, never_notify=True)
    sandbox.pay(order.out_trade_no)
    receipt = client.get(reverse("payments:receipt", args=[order.out_trade_no]))
    assert 'data-status="paid"' in receipt.content.decode()
    order.refresh_from_db()
    assert order.status == "paid" and order.amount_fen == 1234


def test_declined_on_the_channel_gives_everything_back(client, payer, qr, coupon):
    client.force_login(payer)
    client.post(pay_page(client, qr), {"amount": "120", "coupon": str(coupon.pk),
                                       "channel": "unionpay", "key": key(), "action": "pay",
                                       "points_seen": "1"})
    order = PaymentOrder.objects.get()
    client.post(order.pay_url.split("?")[0], {"action": "decline"})
    deliver(order.out_trade_no)
    order.refresh_from_db()
    coupon.refresh_from_db()
    assert order.status == "failed" and coupon.status == Coupon.Status.ISSUED


def test_an_anonymous_payer_sees_only_their_own_receipt(client, qr):
    client.post(pay_page(client, qr), {"amount": "8", "channel": "wechat", "key": key(),
                                       "action": "pay"})
    order = PaymentOrder.objects.get()
    assert order.customer is None
    assert client.get(reverse("payments:receipt", args=[order.out_trade_no])).status_code == 200
    from django.test import Client

    assert Client().get(reverse("payments:receipt", args=[order.out_trade_no])).status_code == 404


def test_the_pay_page_refuses_bad_amounts_in_the_payers_language(client, qr):
    answer = client.post(pay_page(client, qr), {"amount": "12.345", "channel": "wechat",
                                                "key": key(), "action": "pay"},
                         HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert answer.status_code == 400
    assert not PaymentOrder.objects.exists()
    assert client.get(reverse("payments:pay", args=["no-such-qr"])).status_code == 404


# --- The notify endpoint ---------------------------------------------------------------------


def _paid_order(client, payer, qr, amount="50"):
    client.force_login(payer)
    client.post(pay_page(client, qr), {"amount": amount, "channel": "wechat", "key": key(),
                                       "action": "pay", "points_seen": "1"})
    order = PaymentOrder.objects.latest("pk")
    return order


@pytest.mark.parametrize(
    "fault, code",
    [
        ({"corrupt_signature": True}, "signature_invalid"),
        ({"report_amount_fen": 1}, "amount_mismatch"),
    ],
)
def test_forged_or_wrong_notifications_are_refused_recorded_and_change_nothing(
    client, payer, qr, fault, code
):
    order = _paid_order(client, payer, qr)
    sandbox.misbehave(order.out_trade_no, **fault)
    sandbox.pay(order.out_trade_no)
    codes = deliver(order.out_trade_no)
    assert codes and all(c >= 400 for c in codes)
    order.refresh_from_db()
    assert order.status == "paying"
    note = GatewayNotification.objects.get()
    assert (note.outcome, note.code) == ("rejected", code)


def test_a_stale_timestamp_and_an_unknown_order_are_refused(client, payer, qr):
    from payments.gateways import wechatpay_crypto as crypto
    from sandbox_gateway import conf

    url = reverse("api:payments:notify", args=["wechat"])
    body = json.dumps({"id": "EV-1", "event_type": "TRANSACTION.SUCCESS", "resource": {}})
    stale = crypto.signed_headers(private_key_pem=conf.platform_private_key(),
                                  serial=conf.platform_serial(), body=body,
                                  timestamp=int(timezone.now().timestamp()) - 600)
    answer = client.post(url, data=body, content_type="application/json", headers=stale)
    assert answer.status_code >= 400
    assert json.loads(answer.content)["code"] == "FAIL"
    assert GatewayNotification.objects.get().code == "timestamp_out_of_window"

    resource = crypto.encrypt_resource(
        conf.api_v3_key(),
        json.dumps({"out_trade_no": "P-UNKNOWN", "trade_state": "SUCCESS", "sp_mchid": "1900000103",
                    "sub_mchid": "X", "transaction_id": "T1", "amount": {"total": 1, "payer_total": 1},
                    "success_time": "2026-12-06T10:00:00+08:00"}),
        associated_data="transaction",
    )
    body = json.dumps({"id": "EV-2", "create_time": "2026-12-06T10:00:00+08:00",
                       "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS",
                       "summary": "ok", "resource": resource})
    fresh = crypto.signed_headers(private_key_pem=conf.platform_private_key(),
                                  serial=conf.platform_serial(), body=body)
    answer = client.post(url, data=body, content_type="application/json", headers=fresh)
    assert answer.status_code >= 400
    assert GatewayNotification.objects.latest("pk").code == "unknown_order"
    assert client.post(reverse("api:payments:notify", args=["paypal"]), data=body,
                       content_type="application/json").status_code == 404


def test_duplicated_notifications_answer_success_and_change_nothing(client, payer, qr, earn_rate):
    order = _paid_order(client, payer, qr)
    sandbox.misbehave(order.out_trade_no, duplicate=3)
    sandbox.pay(order.out_trade_no)
    assert deliver(order.out_trade_no) == [ACK] * 4
    outcomes = sorted(GatewayNotification.objects.values_list("outcome", flat=True))
    assert outcomes == ["applied", "duplicate", "duplicate", "duplicate"]
    order.refresh_from_db()
    assert order.status == "paid" and order.points_earned == 50


def test_without_javascript_a_new_amount_is_quoted_with_the_best_coupon_again(
    client, payer, qr, coupon
):
    client.force_login(payer)
    small = client.post(pay_page(client, qr), {"amount": "50", "action": "quote",
                                                "key": key()}).content.decode()
    assert 'value="" checked' in small.replace("\n", " ")  # nothing applies to ¥50
    # The no-coupon choice made at ¥50 does not stick once the amount is ¥120.
    bigger = client.post(pay_page(client, qr), {"amount": "120", "coupon": "",
                                                 "quoted_amount": "5000", "action": "quote",
                                                 "key": key()}).content.decode()
    assert f'value="{coupon.pk}" checked' in bigger.replace("\n", " ")
    kept = client.post(pay_page(client, qr), {"amount": "120", "coupon": "",
                                               "quoted_amount": "12000", "action": "quote",
                                               "key": key()}).content.decode()
    assert f'value="{coupon.pk}" checked' not in kept.replace("\n", " ")
