"""Payment fixtures: a merchant in the ``branch`` grid with its owner, cashier and store QR, a
customer with available points and a coupon, an earning rate -- all made through services."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from coupons.services import coupon_claim
from payments import services
from points.models import EarnRate
from tests.coupons.conftest import (  # noqa: F401  (fixtures re-exported)
    cashier,
    other_owner,
    other_shop,
    owner,
    shop,
    store,
)
from tests.coupons.factories import live_template
from tests.merchants.conftest import sms_outbox  # noqa: F401  (autouse)
from tests.points.factories import earn_available


def key(prefix: str = "k") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


@pytest.fixture
def earn_rate(db):
    """1 point per yuan, in force since long ago."""
    return EarnRate.objects.create(
        points_per_yuan=1, valid_from=timezone.now() - timedelta(days=3650)
    )


@pytest.fixture
def qr(store):  # noqa: F811
    return services.qr_for_store(store=store)


@pytest.fixture
def other_qr(other_shop):  # noqa: F811
    return services.qr_for_store(store=other_shop.stores.get())


@pytest.fixture
def payer(customer):
    """A customer with 5,000 available points (¥50 at 100 points a yuan)."""
    earn_available(customer, 5000, now=timezone.now() - timedelta(days=30))
    return customer


@pytest.fixture
def coupon(owner, officer, payer):  # noqa: F811
    """The payer's 满100减20 coupon at ``shop``."""
    template = live_template(owner=owner, reviewer=officer)
    return coupon_claim(customer=payer, template_id=template.pk, claim_key=key("claim"))


def paid_report(order, **overrides):
    """What a channel reports for ``order`` once paid (the notification's content)."""
    from payments.gateways import TradeState

    values = dict(out_trade_no=order.out_trade_no, status="paid", amount_fen=order.amount_fen,
                  transaction_id=f"T{order.pk:012d}", paid_at=timezone.now(),
                  account=order.merchant.code)
    values.update(overrides)
    return TradeState(**values)
