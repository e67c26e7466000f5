"""The merchant's payment pages: takings (live part), a payment and its refund form, QR codes,
posters and one-off QRs -- each only for the merchant's own staff, refunds for the owner."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from payments import services
from payments.models import PaymentQR, Refund
from tests.factories import UserFactory

from .conftest import key, paid_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(payer, qr, earn_rate):
    order = services.order_create(payer=payer, qr_token=qr.token, gross_fen=4321,
                                  channel="wechat", idempotency_key=key())
    order, _ = services.order_apply_trade(trade=paid_report(order), source="gateway")
    return order


def test_takings_show_todays_payments_and_the_live_part_only_new_ones(client, cashier, paid):
    client.force_login(cashier)
    page = client.get(reverse("payments:merchant_takings")).content.decode()
    assert "¥43.21" in page and paid.out_trade_no in page
    mark = int(re.search(r'data-last-id="(\d+)"', page).group(1))
    live = client.get(reverse("payments:merchant_takings_live"), {"after": 0})
    assert f'data-amount-fen="{paid.amount_fen}"' in live.content.decode()
    none_new = client.get(reverse("payments:merchant_takings_live"), {"after": mark})
    assert "data-amount-fen" not in none_new.content.decode()
    assert 'id="today-amount">¥43.21' in none_new.content.decode()


def test_a_payment_made_earlier_but_paid_later_still_arrives_live(client, cashier, payer, qr,
                                                                  paid):
    earlier = services.order_create(payer=payer, qr_token=qr.token, gross_fen=111,
                                    channel="wechat", idempotency_key=key())
    later = services.order_create(payer=payer, qr_token=qr.token, gross_fen=222,
                                  channel="wechat", idempotency_key=key())
    client.force_login(cashier)
    page = client.get(reverse("payments:merchant_takings")).content.decode()
    mark = int(re.search(r'data-last-id="(\d+)"', page).group(1))
    services.order_apply_trade(trade=paid_report(later), source="gateway")
    live = client.get(reverse("payments:merchant_takings_live"), {"after": mark}).content.decode()
    assert 'data-amount-fen="222"' in live and 'data-amount-fen="111"' not in live
    mark = int(re.search(r'data-last-id="(\d+)"', live).group(1))
    services.order_apply_trade(trade=paid_report(earlier), source="gateway")
    live = client.get(reverse("payments:merchant_takings_live"), {"after": mark}).content.decode()
    assert 'data-amount-fen="111"' in live and 'data-amount-fen="222"' not in live


def test_other_merchants_and_customers_see_nothing(client, other_owner, paid, payer):
    client.force_login(other_owner)
    assert client.get(reverse("payments:merchant_payment", args=[paid.out_trade_no])
                      ).status_code == 404
    live = client.get(reverse("payments:merchant_takings_live"), {"after": 0}).content.decode()
    assert "data-amount-fen" not in live and "¥43.21" not in live
    client.force_login(payer)
    answer = client.get(reverse("payments:merchant_takings"))
    assert answer.status_code in (302, 403)


def test_the_owner_refunds_from_the_page_and_a_cashier_cannot(client, owner, cashier, paid):
    url = reverse("payments:merchant_refund", args=[paid.out_trade_no])
    client.force_login(cashier)
    detail = client.get(reverse("payments:merchant_payment", args=[paid.out_trade_no]))
    assert 'id="refund-form"' not in detail.content.decode()
    assert client.post(url, {"amount": "1", "reason": "x", "key": key()}).status_code == 403
    client.force_login(owner)
    detail = client.get(reverse("payments:merchant_payment", args=[paid.out_trade_no]))
    assert 'id="refund-form"' in detail.content.decode()
    answer = client.post(url, {"amount": "50", "reason": "too much", "key": key()}, follow=True)
    assert "剩余可退" in answer.content.decode() or "left to refund" in answer.content.decode()
    assert not Refund.objects.exists()
    client.post(url, {"amount": "10.21", "reason": "a dish was cold", "key": key()})
    assert Refund.objects.get().amount_fen == 1021


def test_qr_page_posters_and_one_off_codes(client, cashier, store, other_shop):
    client.force_login(cashier)
    page = client.get(reverse("payments:merchant_qr")).content.decode()
    qr = PaymentQR.objects.get(store=store, kind="static")
    assert reverse("payments:pay", args=[qr.token]) in page and "<svg" in page
    png = client.get(reverse("payments:merchant_poster", args=[store.pk, "png"]))
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    pdf = client.get(reverse("payments:merchant_poster", args=[store.pk, "pdf"]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    other_store = other_shop.stores.get()
    assert client.get(reverse("payments:merchant_poster", args=[other_store.pk, "png"])
                      ).status_code == 404

    made = client.post(reverse("payments:merchant_one_off"),
                       {"store_id": store.pk, "amount": "66.60", "minutes": "5"})
    one_off = PaymentQR.objects.get(kind="one_off")
    assert one_off.amount_fen == 6660 and made["Location"].endswith(f"?one_off={one_off.token}")
    shown = client.get(made["Location"]).content.decode()
    assert reverse("payments:pay", args=[one_off.token]) in shown and "¥66.60" in shown
    client.post(reverse("payments:merchant_one_off"),
                {"store_id": other_store.pk, "amount": "1", "minutes": "5"})
    client.post(reverse("payments:merchant_one_off"),
                {"store_id": store.pk, "amount": "1.001", "minutes": "5"})
    assert PaymentQR.objects.filter(kind="one_off").count() == 1


def test_merchant_pages_need_a_merchant(client):
    client.force_login(UserFactory(role="customer"))
    for name in ("payments:merchant_takings", "payments:merchant_qr"):
        assert client.get(reverse(name)).status_code in (302, 403)
