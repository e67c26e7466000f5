"""Paid vouchers (代金券) bought through the unified payment: stock taken when the order is
made and given back if it is not paid, the voucher issued once paid, refunds by its policy
(while unused, and automatically on expiry), and using it at the pay page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alliance.errors import ApplicationError
from coupons.models import Coupon, CouponTemplate
from coupons.services import coupons_expire_due
from payments import services
from payments.gateways import TradeState
from payments.models import PaymentOrder, Refund
from tests.coupons.factories import live_template
from tests.factories import UserFactory

from .conftest import key, paid_report
from .test_orders import create

pytestmark = pytest.mark.django_db


@pytest.fixture
def voucher(owner, officer):
    """Pay ¥80, worth ¥100; 2 in stock, one per customer."""
    return live_template(
        owner=owner, reviewer=officer, kind=CouponTemplate.Kind.PAID_VOUCHER,
        obtain=CouponTemplate.Obtain.PURCHASE, title="¥80买¥100", price_fen=8000,
        discount_fen=10_000, min_spend_fen=0, total_stock=2,
    )


def buy(customer, voucher, **kwargs):
    kwargs.setdefault("channel", "wechat")
    kwargs.setdefault("idempotency_key", key("buy"))
    return services.order_buy_voucher(customer=customer, template_id=voucher.pk, **kwargs)


def stock(voucher) -> int:
    voucher.refresh_from_db()
    return voucher.stock_left


def test_buying_takes_stock_and_paying_issues_the_voucher(payer, voucher, earn_rate):
    order = buy(payer, voucher)
    assert (order.kind, order.amount_fen, order.status) == ("voucher", 8000, "created")
    assert stock(voucher) == 1
    assert not Coupon.objects.filter(template=voucher).exists()
    order, _ = services.order_apply_trade(trade=paid_report(order), source="gateway")
    coupon = order.voucher_coupon
    assert coupon.customer_id == payer.pk and coupon.status == "issued"
    assert order.points_earned == 80
    # Paid twice (a duplicate): still one voucher.
    services.order_apply_trade(trade=paid_report(order), source="gateway")
    assert Coupon.objects.filter(template=voucher).count() == 1


def test_an_unpaid_purchase_gives_its_stock_back(payer, voucher):
    order = buy(payer, voucher)
    services.order_apply_trade(trade=TradeState(out_trade_no=order.out_trade_no,
                                                status="closed"), source="system")
    assert stock(voucher) == 2
    buy(payer, voucher)  # may buy again


def test_sold_out_and_the_limit_count_unpaid_purchases(payer, voucher):
    buy(payer, voucher)
    with pytest.raises(ApplicationError) as exc:
        buy(payer, voucher)
    assert exc.value.code == "coupon_limit_reached"
    buy(UserFactory(role="customer"), voucher)
    with pytest.raises(ApplicationError) as exc:
        buy(UserFactory(role="customer"), voucher)
    assert exc.value.code == "coupon_out_of_stock"
    assert stock(voucher) == 0


def test_only_customers_buy_and_only_vouchers_are_bought(owner, officer, cashier, voucher):
    with pytest.raises(ApplicationError) as exc:
        buy(cashier, voucher)
    assert exc.value.status == 403
    free = live_template(owner=owner, reviewer=officer)
    with pytest.raises(ApplicationError) as exc:
        buy(UserFactory(role="customer"), free)
    assert exc.value.code == "coupon_not_claimable"


def paid_voucher(payer, voucher):
    order = buy(payer, voucher)
    order, _ = services.order_apply_trade(trade=paid_report(order), source="gateway")
    return order


def test_the_buyer_refunds_an_unused_voucher_in_full(payer, voucher, earn_rate):
    order = paid_voucher(payer, voucher)
    with pytest.raises(ApplicationError) as exc:
        services.refund_request(actor=payer, out_trade_no=order.out_trade_no, amount_fen=4000,
                                idempotency_key=key(), reason="changed my mind")
    assert exc.value.code == "refund_not_allowed"
    refund = services.refund_request(actor=payer, out_trade_no=order.out_trade_no,
                                     amount_fen=8000, idempotency_key=key(), reason="changed")
    assert refund.requested_by == payer
    coupon = Coupon.objects.get(pk=order.voucher_coupon_id)
    assert coupon.status == "refunded"  # out of use at once, while the money goes back
    with pytest.raises(ApplicationError) as exc:
        services.refund_request(actor=UserFactory(role="customer"), out_trade_no=order.out_trade_no,
                                amount_fen=8000, idempotency_key=key(), reason="x")
    assert exc.value.code == "payment_not_found"


def test_a_used_voucher_is_not_refunded(payer, voucher, qr, owner):
    order = paid_voucher(payer, voucher)
    used = create(payer, qr, 15_000, coupon_id=order.voucher_coupon_id)
    assert used.coupon_discount_fen == 10_000 and used.amount_fen == 5000
    with pytest.raises(ApplicationError) as exc:
        services.refund_request(actor=owner, out_trade_no=order.out_trade_no, amount_fen=8000,
                                idempotency_key=key(), reason="x")
    assert exc.value.code == "refund_not_allowed"
    assert not Refund.objects.filter(order=order).exists()


def test_a_voucher_that_refunds_only_on_expiry_is_refused_to_its_buyer(payer, owner, officer):
    strict = live_template(
        owner=owner, reviewer=officer, kind=CouponTemplate.Kind.PAID_VOUCHER,
        obtain=CouponTemplate.Obtain.PURCHASE, price_fen=8000, discount_fen=10_000,
        min_spend_fen=0, refund_any_time=False,
    )
    order = paid_voucher(payer, strict)
    with pytest.raises(ApplicationError) as exc:
        services.refund_request(actor=payer, out_trade_no=order.out_trade_no, amount_fen=8000,
                                idempotency_key=key(), reason="x")
    assert exc.value.code == "refund_not_allowed"


def test_an_expired_unused_voucher_is_refunded_automatically(payer, voucher):
    order = paid_voucher(payer, voucher)
    later = Coupon.objects.get(pk=order.voucher_coupon_id).valid_until + timedelta(minutes=1)
    assert services.vouchers_refund_expired(now=later) == 0  # not expired yet
    coupons_expire_due(now=later)
    assert services.vouchers_refund_expired(now=later) == 1
    assert services.vouchers_refund_expired(now=later) == 0  # once
    refund = Refund.objects.get(order=order)
    assert refund.automatic and refund.amount_fen == 8000
    assert Coupon.objects.get(pk=order.voucher_coupon_id).status == "refunded"


def test_buying_through_the_pages(client, payer, voucher):
    client.force_login(payer)
    page = client.get(reverse("coupons:offer_coupon", args=[voucher.pk]))
    assert reverse("payments:buy_voucher", args=[voucher.pk]) in page.content.decode()
    answer = client.post(reverse("payments:buy_voucher", args=[voucher.pk]),
                         {"channel": "alipay", "key": key()})
    order = PaymentOrder.objects.get()
    assert answer.status_code == 302 and answer["Location"] == order.pay_url
    assert client.get(reverse("payments:buy_voucher", args=[voucher.pk])).status_code == 200
    anonymous = client.__class__().get(reverse("payments:buy_voucher", args=[voucher.pk]))
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    assert timezone.now() < order.expires_at


def test_the_buyer_refunds_from_the_receipt_and_sees_only_their_payments(client, payer, voucher):
    order = paid_voucher(payer, voucher)
    receipt = reverse("payments:receipt", args=[order.out_trade_no])
    client.force_login(payer)
    assert 'id="voucher-refund"' in client.get(receipt).content.decode()
    mine = client.get(reverse("payments:my_payments")).content.decode()
    assert order.out_trade_no in mine

    stranger = UserFactory(role="customer")
    client.force_login(stranger)
    assert order.out_trade_no not in client.get(reverse("payments:my_payments")).content.decode()
    answer = client.post(reverse("payments:refund_voucher", args=[order.out_trade_no]))
    assert answer.status_code == 404
    assert not Refund.objects.exists()

    client.force_login(payer)
    client.post(reverse("payments:refund_voucher", args=[order.out_trade_no]))
    client.post(reverse("payments:refund_voucher", args=[order.out_trade_no]))  # twice: once
    refund = Refund.objects.get()
    assert refund.amount_fen == 8000 and refund.requested_by == payer
    assert 'id="voucher-refund"' not in client.get(receipt).content.decode()
