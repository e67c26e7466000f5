"""Bank staff's payments pages: a branch's staff see the payments at stores of their grid,
head office all; nobody else gets in."""

from __future__ import annotations

import pytest
from django.urls import reverse

from payments import services

from .conftest import key, paid_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(payer, qr, earn_rate):
    order = services.order_create(payer=payer, qr_token=qr.token, gross_fen=6789,
                                  channel="unionpay", idempotency_key=key())
    order, _ = services.order_apply_trade(trade=paid_report(order), source="gateway")
    return order


@pytest.fixture(autouse=True)
def _no_totp(settings):
    settings.ALLIANCE_STAFF_OTP_REQUIRED = False


def test_the_grids_staff_and_head_office_see_the_payment(client, paid, officer, head_office):
    for reader in (officer, head_office):
        client.force_login(reader)
        listing = client.get(reverse("payments:console_payments")).content.decode()
        assert paid.out_trade_no in listing and "¥67.89" in listing
        detail = client.get(reverse("payments:console_payment", args=[paid.out_trade_no]))
        assert detail.status_code == 200
        assert "paying → paid" in detail.content.decode() or "created → paid" in detail.content.decode()


def test_another_grids_staff_see_nothing(client, paid, other_officer):
    client.force_login(other_officer)
    listing = client.get(reverse("payments:console_payments")).content.decode()
    assert paid.out_trade_no not in listing and "¥67.89" not in listing
    assert client.get(reverse("payments:console_payment", args=[paid.out_trade_no])
                      ).status_code == 404


def test_merchants_and_customers_are_turned_away(client, paid, owner, payer):
    for user in (owner, payer):
        client.force_login(user)
        answer = client.get(reverse("payments:console_payments"))
        assert answer.status_code in (302, 403)
        assert paid.out_trade_no not in answer.content.decode()
