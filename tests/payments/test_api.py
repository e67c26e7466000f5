"""The payments API: create an order from a QR (token auth), read it within one's scope, the
merchant's owner refunds; every refusal has the common error body."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from payments import services
from payments.models import PaymentOrder, Refund
from tests.factories import UserFactory

from .conftest import key, paid_report

pytestmark = pytest.mark.django_db

ORDERS = reverse("api:payments:order_create")


def as_user(user) -> APIClient:
    api = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


def post_order(api, qr, **data):
    body = {"qr_token": qr.token, "amount_fen": 12_000, "channel": "wechat", **data}
    return api.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY=data.pop("key", key()))


def test_a_customer_creates_an_order_and_is_sent_to_the_channel(payer, qr, coupon):
    answer = post_order(as_user(payer), qr, coupon_id=coupon.pk, points=3000)
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["status"] == "paying"
    assert (body["gross_fen"], body["coupon_discount_fen"], body["points_fen"],
            body["amount_fen"]) == (12_000, 2000, 3000, 7000)
    assert body["pay_url"].startswith("http://testserver/sandbox-gateway/pay/")


def test_the_same_key_answers_the_same_order(payer, qr):
    k = key()
    api = as_user(payer)
    first = api.post(ORDERS, {"qr_token": qr.token, "amount_fen": 500, "channel": "wechat"},
                     format="json", HTTP_IDEMPOTENCY_KEY=k).json()
    again = api.post(ORDERS, {"qr_token": qr.token, "amount_fen": 500, "channel": "wechat"},
                     format="json", HTTP_IDEMPOTENCY_KEY=k).json()
    assert first["out_trade_no"] == again["out_trade_no"]
    assert PaymentOrder.objects.count() == 1


@pytest.mark.parametrize(
    "data, status, code",
    [
        ({"amount_fen": -1}, 400, "payment_amount_invalid"),
        ({"amount_fen": "12.5"}, 400, "invalid"),
        ({"qr_token": "nope"}, 404, "payment_qr_not_found"),
        ({"points": 999_999}, 400, "points_over_cap"),
        ({"channel": ""}, 400, "invalid"),
    ],
)
def test_refusals_have_the_common_body(payer, qr, data, status, code):
    answer = post_order(as_user(payer), qr, **data)
    assert answer.status_code == status
    body = answer.json()
    assert body["code"] == code and body["message"] and "extra" in body
    assert not PaymentOrder.objects.exists()


def test_without_a_key_nothing_is_made(payer, qr):
    answer = as_user(payer).post(ORDERS, {"qr_token": qr.token, "amount_fen": 100,
                                          "channel": "wechat"}, format="json")
    assert answer.status_code == 400 and "idempotency_key" in answer.json()["extra"]["fields"]


def test_anybody_may_pay_but_only_customers_use_coupons(qr, coupon):
    assert post_order(as_user(None), qr, amount_fen=300).status_code == 201
    answer = post_order(as_user(None), qr, coupon_id=coupon.pk)
    assert answer.status_code == 403 and answer.json()["code"] == "permission_denied"


def test_reading_an_order_is_scoped(payer, qr, cashier, other_owner, officer, other_officer,
                                    head_office, settings):
    settings.ALLIANCE_STAFF_OTP_REQUIRED = False
    out_trade_no = post_order(as_user(payer), qr).json()["out_trade_no"]
    url = reverse("api:payments:order", args=[out_trade_no])
    for reader in (payer, cashier, officer, head_office):
        assert as_user(reader).get(url).status_code == 200, reader.role
    for outsider in (UserFactory(role="customer"), other_owner, other_officer):
        answer = as_user(outsider).get(url)
        assert answer.status_code == 404 and answer.json()["code"] == "payment_not_found"
    assert as_user(None).get(url).status_code in (401, 403)


def test_the_owner_refunds_through_the_api(payer, qr, owner, cashier, other_owner, earn_rate):
    order = services.order_create(payer=payer, qr_token=qr.token, gross_fen=5000,
                                  channel="wechat", idempotency_key=key())
    services.order_apply_trade(trade=paid_report(order), source="gateway")
    url = reverse("api:payments:refund_create", args=[order.out_trade_no])

    answer = as_user(cashier).post(url, {"amount_fen": 100, "reason": "x"}, format="json",
                                   HTTP_IDEMPOTENCY_KEY=key())
    assert answer.status_code == 403
    answer = as_user(other_owner).post(url, {"amount_fen": 100, "reason": "x"}, format="json",
                                       HTTP_IDEMPOTENCY_KEY=key())
    assert answer.status_code == 404 and answer.json()["code"] == "payment_not_found"
    answer = as_user(owner).post(url, {"amount_fen": 5001, "reason": "x"}, format="json",
                                 HTTP_IDEMPOTENCY_KEY=key())
    assert answer.status_code == 409 and answer.json()["code"] == "refund_exceeds_paid"
    assert not Refund.objects.exists()

    answer = as_user(owner).post(url, {"amount_fen": 2000, "reason": "returned"}, format="json",
                                 HTTP_IDEMPOTENCY_KEY=key())
    assert answer.status_code == 201
    assert answer.json()["status"] == "pending" and answer.json()["amount_fen"] == 2000


def test_the_schema_documents_the_payment_endpoints(client):
    schema = client.get(reverse("api:schema")).content.decode()
    assert "/api/payments/orders/" in schema and "refund_exceeds_paid" in schema
