"""Refunds: partial and full, never past what was paid; points given back and taken back by
cumulative share; the coupon back on a full refund while it is valid; who may refund."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alliance.errors import ApplicationError
from coupons.models import Coupon
from payments import services
from payments.gateways import RefundState
from payments.models import PaymentOrder, Refund
from tests.factories import UserFactory

from .conftest import key, paid_report
from .test_orders import balance, create

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(payer, qr, coupon, earn_rate):
    """¥120 with the ¥20 coupon and 3,000 points: ¥70.00 charged, 70 points earned."""
    order = create(payer, qr, 12_000, coupon_id=coupon.pk, points=3000)
    order, _ = services.order_apply_trade(trade=paid_report(order), source="gateway")
    assert (order.amount_fen, order.points_earned) == (7000, 70)
    return order


def refund(actor, order, amount_fen, **kwargs):
    kwargs.setdefault("idempotency_key", key("refund"))
    kwargs.setdefault("reason", "customer returned the goods")
    return services.refund_request(actor=actor, out_trade_no=order.out_trade_no,
                                   amount_fen=amount_fen, **kwargs)


def succeed(refund_row, **overrides):
    values = dict(out_refund_no=refund_row.out_refund_no, status="succeeded",
                  amount_fen=refund_row.amount_fen, refund_id=f"RF{refund_row.pk}")
    values.update(overrides)
    return services.refund_apply_state(state=RefundState(**values), source="gateway")


def test_partial_refunds_give_points_back_by_cumulative_share(paid, owner, payer, coupon):
    assert balance(payer) == (2000, 70)
    first = refund(owner, paid, 2500)
    paid.refresh_from_db()
    assert (paid.refund_pending_fen, paid.refundable_fen) == (2500, 4500)
    first, outcome = succeed(first)
    assert outcome == "applied"
    # 2,500 of 7,000: floor(3,000 x 2500/7000) = 1,071 back, floor(70 x 2500/7000) = 25 taken.
    assert (first.points_returned, first.points_reversed) == (1071, 25)
    paid.refresh_from_db()
    assert paid.status == "partly_refunded" and paid.refunded_fen == 2500
    assert balance(payer) == (2000 + 1071, 70 - 25)

    second = refund(owner, paid, 2500)
    second, _ = succeed(second)
    # 5,000 of 7,000: floor(3,000 x 5/7) = 2,142 in all, so 1,071 more; floor(50) = 50, 25 more.
    assert (second.points_returned, second.points_reversed) == (1071, 25)

    last = refund(owner, paid, 2000)
    last, _ = succeed(last)
    assert (last.points_returned, last.points_reversed) == (3000 - 2142, 70 - 50)
    paid.refresh_from_db()
    assert paid.status == "refunded" and paid.refunded_fen == 7000 and paid.refund_pending_fen == 0
    assert (paid.points_returned, paid.points_reversed) == (3000, 70)
    assert balance(payer) == (5000, 0)
    assert last.coupon_restored
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED


def test_more_than_paid_is_refused_counting_refunds_in_progress(paid, owner):
    with pytest.raises(ApplicationError) as exc:
        refund(owner, paid, 7001)
    assert exc.value.code == "refund_exceeds_paid"
    refund(owner, paid, 6000)  # in progress, not yet succeeded
    with pytest.raises(ApplicationError) as exc:
        refund(owner, paid, 1001)
    assert exc.value.code == "refund_exceeds_paid"
    assert exc.value.extra == {"refundable_fen": 1000}
    with pytest.raises(ApplicationError) as exc:
        refund(owner, paid, 0)
    assert exc.value.code == "refund_exceeds_paid"


def test_a_failed_refund_frees_its_amount(paid, owner):
    row = refund(owner, paid, 7000)
    row, _ = services.refund_apply_state(
        state=RefundState(out_refund_no=row.out_refund_no, status="failed", amount_fen=7000),
        source="gateway",
    )
    assert row.status == "failed"
    paid.refresh_from_db()
    assert paid.refundable_fen == 7000 and paid.status == "paid"
    refund(owner, paid, 7000)  # may be asked again


def test_a_refund_is_decided_once(paid, owner, payer):
    row = refund(owner, paid, 7000)
    succeed(row)
    _, outcome = succeed(row)
    assert outcome == "duplicate"
    paid.refresh_from_db()
    assert paid.refunded_fen == 7000
    assert balance(payer) == (5000, 0)


def test_a_report_of_another_amount_is_refused(paid, owner):
    row = refund(owner, paid, 3000)
    with pytest.raises(services.PaymentMismatch):
        succeed(row, amount_fen=3001)
    row.refresh_from_db()
    assert row.status == "pending"


def test_the_same_key_is_the_same_refund(paid, owner):
    k = key("refund")
    assert refund(owner, paid, 1000, idempotency_key=k).pk == refund(
        owner, paid, 1000, idempotency_key=k
    ).pk
    assert Refund.objects.count() == 1
    with pytest.raises(ApplicationError) as exc:
        refund(owner, paid, 2000, idempotency_key=k)
    assert exc.value.code == "idempotency_key_reused"


def test_an_expired_coupon_is_not_given_back(paid, owner, coupon):
    row = refund(owner, paid, 7000)
    later = coupon.valid_until + timedelta(minutes=1)
    services.refund_apply_state(
        state=RefundState(out_refund_no=row.out_refund_no, status="succeeded", amount_fen=7000,
                          succeeded_at=later),
        source="gateway", now=later,
    )
    row.refresh_from_db()
    assert not row.coupon_restored
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.VERIFIED


def test_spent_earned_points_are_a_recorded_shortfall(paid, owner, payer, earn_rate):
    # The 70 earned points became available and were spent: nothing else to take them from.
    from points.services import customer_account, points_release_pending, points_spend

    later = timezone.now() + timedelta(days=8)
    points_release_pending(account_id=customer_account(customer_id=payer.pk).pk, now=later)
    points_spend(customer_id=payer.pk, points=2070, idempotency_key=key("spend"), now=later)
    row = refund(owner, paid, 7000, now=later)
    row, _ = services.refund_apply_state(
        state=RefundState(out_refund_no=row.out_refund_no, status="succeeded", amount_fen=7000,
                          succeeded_at=later),
        source="gateway", now=later,
    )
    # The 3,000 used points come back first; the 70 earned are then taken from them.
    assert row.points_returned == 3000 and row.points_reversed == 70
    assert row.points_shortfall == 0
    assert balance(payer) == (3000 - 70, 0)


def test_who_may_refund(paid, cashier, other_owner, head_office, officer):
    with pytest.raises(ApplicationError) as exc:
        refund(cashier, paid, 100)
    assert exc.value.status == 403
    for outsider in (other_owner, officer, UserFactory(role="customer")):
        with pytest.raises(ApplicationError) as exc:
            refund(outsider, paid, 100)
        assert exc.value.code == "payment_not_found"
    assert refund(head_office, paid, 100).requested_by == head_office
    assert not Refund.objects.filter(requested_by__in=[cashier, other_owner, officer]).exists()


def test_only_paid_orders_within_the_window_are_refunded(payer, qr, owner, paid, settings):
    unpaid = create(payer, qr, 3000)
    with pytest.raises(ApplicationError) as exc:
        refund(owner, unpaid, 100)
    assert exc.value.code == "refund_not_allowed"
    with pytest.raises(ApplicationError) as exc:
        refund(owner, paid, 100, now=timezone.now() + timedelta(days=366))
    assert exc.value.code == "refund_window_passed"
    with pytest.raises(ApplicationError) as exc:
        refund(owner, paid, 100, reason="  ")
    assert exc.value.code == "invalid"


def test_a_zero_cash_order_is_refunded_at_once(owner, officer, payer, qr):
    from coupons.services import coupon_claim
    from tests.coupons.factories import live_template

    template = live_template(owner=owner, reviewer=officer, discount_fen=5000, min_spend_fen=0)
    coupon = coupon_claim(customer=payer, template_id=template.pk, claim_key=key("claim"))
    order = create(payer, qr, 5000, coupon_id=coupon.pk, channel="")
    row = refund(owner, order, 0)
    assert row.status == "succeeded" and row.coupon_restored
    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.REFUNDED
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED
