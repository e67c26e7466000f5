"""Payment orders: creating one holds the coupon and the points; the channel's reports apply
once; failing or closing gives everything back; a payment after closing is refunded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alliance.errors import ApplicationError
from coupons.models import Coupon, Verification
from coupons.services import coupon_verify
from merchants import services as merchant_services
from payments import services
from payments.gateways import TradeState
from payments.models import OrderEvent, PaymentOrder, Refund
from points.models import JournalEntry
from points.services import customer_account
from tests.coupons.factories import live_template, typed
from tests.factories import UserFactory

from .conftest import key, paid_report

pytestmark = pytest.mark.django_db


def balance(user) -> tuple[int, int]:
    account = customer_account(customer_id=user.pk)
    account.refresh_from_db()
    return account.balance, account.pending


def create(payer, qr, gross_fen=12_000, **kwargs):
    kwargs.setdefault("channel", "wechat")
    kwargs.setdefault("idempotency_key", key("order"))
    return services.order_create(payer=payer, qr_token=qr.token, gross_fen=gross_fen, **kwargs)


def code(exc_info) -> str:
    return exc_info.value.code


def test_an_order_holds_the_coupon_and_spends_the_points(payer, qr, coupon, earn_rate):
    order = create(payer, qr, 12_000, coupon_id=coupon.pk, points=3000)

    assert order.status == "created"
    assert (order.gross_fen, order.coupon_discount_fen, order.points_fen) == (12_000, 2000, 3000)
    assert order.amount_fen == 12_000 - 2000 - 3000
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.VERIFIED
    assert order.coupon_verification.coupon_id == coupon.pk
    assert balance(payer) == (2000, 0)
    assert timedelta(minutes=14) < order.expires_at - timezone.now() <= timedelta(minutes=15)


def test_the_held_coupon_cannot_be_used_at_the_counter(payer, qr, coupon, cashier):
    create(payer, qr, 12_000, coupon_id=coupon.pk)
    with pytest.raises(ApplicationError) as exc:
        coupon_verify(actor=cashier, code=typed(coupon), idempotency_key=key("verify"))
    assert code(exc) == "coupon_already_used"


def test_the_same_key_gives_the_same_order_and_another_payer_is_refused(payer, qr, coupon):
    k = key("order")
    first = create(payer, qr, 12_000, coupon_id=coupon.pk, points=1000, idempotency_key=k)
    again = create(payer, qr, 12_000, coupon_id=coupon.pk, points=1000, idempotency_key=k)
    assert again.pk == first.pk
    assert balance(payer) == (4000, 0)  # spent once
    with pytest.raises(ApplicationError) as exc:
        create(UserFactory(role="customer"), qr, 12_000, idempotency_key=k)
    assert code(exc) == "idempotency_key_reused"
    with pytest.raises(ApplicationError) as exc:
        create(payer, qr, 99_00, idempotency_key=k)
    assert code(exc) == "idempotency_key_reused"


def test_a_key_reused_at_another_store_is_refused(payer, qr, other_qr):
    k = key("order")
    create(payer, qr, 5000, idempotency_key=k)
    with pytest.raises(ApplicationError) as exc:
        create(payer, other_qr, 5000, idempotency_key=k)
    assert code(exc) == "idempotency_key_reused"


def test_paid_report_pays_once_with_fee_and_pending_points(payer, qr, coupon, earn_rate):
    order = create(payer, qr, 12_000, coupon_id=coupon.pk, points=3000)
    order, outcome = services.order_apply_trade(trade=paid_report(order), source="gateway")
    assert outcome == "applied"
    assert order.status == "paid"
    assert order.fee_rate_bp == 60 and order.fee_fen == 42  # 0.6 % of ¥70.00
    assert order.points_earned == 70  # 1 point per yuan paid in cash
    assert balance(payer) == (2000, 70)

    order, outcome = services.order_apply_trade(trade=paid_report(order), source="gateway")
    assert outcome == "duplicate"
    assert balance(payer) == (2000, 70)
    assert OrderEvent.objects.filter(order=order, to_status="paid").count() == 1


@pytest.mark.parametrize(
    "change, reason",
    [({"amount_fen": 1}, "amount"), ({"account": "M-SOMEONE-ELSE"}, "account")],
)
def test_a_report_that_does_not_match_changes_nothing(payer, qr, change, reason):
    order = create(payer, qr, 5000)
    with pytest.raises(services.PaymentMismatch) as exc:
        services.order_apply_trade(trade=paid_report(order, **change), source="gateway")
    assert exc.value.extra["reason"] == reason
    order.refresh_from_db()
    assert order.status == "created" and order.paid_at is None


def test_an_unknown_order_is_refused(db):
    with pytest.raises(ApplicationError) as exc:
        services.order_apply_trade(
            trade=TradeState(out_trade_no="P-NOPE", status="paid", amount_fen=1), source="gateway"
        )
    assert code(exc) == "payment_not_found"


@pytest.mark.parametrize("status", ["failed", "closed"])
def test_failing_or_closing_gives_coupon_and_points_back(payer, qr, coupon, status):
    order = create(payer, qr, 12_000, coupon_id=coupon.pk, points=3000)
    order, outcome = services.order_apply_trade(
        trade=TradeState(out_trade_no=order.out_trade_no, status=status), source="gateway"
    )
    assert (order.status, outcome) == (status, "applied")
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED
    assert Verification.objects.get(pk=order.coupon_verification_id).undone_at is not None
    assert balance(payer) == (5000, 0)
    assert order.points_returned == 3000
    # Given back once: a second report changes nothing.
    _, outcome = services.order_apply_trade(
        trade=TradeState(out_trade_no=order.out_trade_no, status=status), source="gateway"
    )
    assert outcome == "duplicate"
    assert balance(payer) == (5000, 0)


def test_an_expired_unpaid_order_is_closed_by_the_job(payer, qr, coupon):
    order = create(payer, qr, 12_000, coupon_id=coupon.pk, points=1000)
    assert services.orders_close_expired(now=timezone.now() + timedelta(minutes=10)) == 0
    assert services.orders_close_expired(now=timezone.now() + timedelta(minutes=16)) == 1
    order.refresh_from_db()
    assert order.status == "closed"
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED
    assert balance(payer) == (5000, 0)


def test_paid_after_closing_is_accepted_and_refunded_automatically(payer, qr, coupon, earn_rate):
    order = create(payer, qr, 12_000, coupon_id=coupon.pk, points=1000)
    services.orders_close_expired(now=timezone.now() + timedelta(minutes=16))
    order, outcome = services.order_apply_trade(trade=paid_report(order), source="gateway")
    assert outcome == "late"
    assert order.status == "paid" and order.late_payment
    assert order.points_earned == 0
    refund = Refund.objects.get(order=order)
    assert refund.automatic and refund.amount_fen == order.amount_fen
    assert refund.status == "pending"
    order.refresh_from_db()
    assert order.refund_pending_fen == order.amount_fen
    # The coupon and points stay given back (the customer may already be using them).
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED
    assert balance(payer) == (5000, 0)


def test_coupon_and_points_can_pay_it_all_without_a_channel(owner, officer, payer, qr, earn_rate):
    template = live_template(owner=owner, reviewer=officer, discount_fen=5000, min_spend_fen=0,
                             title="¥50 off")
    from coupons.services import coupon_claim

    coupon = coupon_claim(customer=payer, template_id=template.pk, claim_key=key("claim"))
    order = create(payer, qr, 5000, coupon_id=coupon.pk, channel="")
    assert order.status == "paid" and order.channel == "none" and order.amount_fen == 0
    assert order.fee_fen == 0 and order.points_earned == 0


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"gross_fen": 0}, "payment_amount_invalid"),
        ({"gross_fen": 5_000_001}, "payment_amount_invalid"),
        ({"points": 7000}, "points_over_cap"),  # 50 % of ¥120 is 6,000 points
        ({"channel": "cash"}, "invalid"),
        ({"idempotency_key": "short"}, "invalid"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_held(payer, qr, kwargs, expected):
    with pytest.raises(ApplicationError) as exc:
        create(payer, qr, **{"gross_fen": 12_000, **kwargs})
    assert code(exc) == expected
    assert not PaymentOrder.objects.exists()
    assert balance(payer) == (5000, 0)


def test_points_beyond_the_balance_are_refused_and_the_coupon_stays(payer, qr, coupon):
    with pytest.raises(ApplicationError) as exc:
        create(payer, qr, 100_000, coupon_id=coupon.pk, points=6000)
    assert code(exc) == "points_insufficient"
    assert not PaymentOrder.objects.exists()
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED


def test_someone_elses_coupon_or_another_merchants_is_not_found(payer, qr, other_qr, coupon):
    stranger = UserFactory(role="customer")
    with pytest.raises(ApplicationError) as exc:
        create(stranger, qr, 12_000, coupon_id=coupon.pk)
    assert code(exc) == "coupon_not_found"
    with pytest.raises(ApplicationError) as exc:
        create(payer, other_qr, 12_000, coupon_id=coupon.pk)
    assert code(exc) == "coupon_not_found"
    assert not PaymentOrder.objects.exists()


def test_a_coupon_below_its_minimum_spend_is_refused(payer, qr, coupon):
    with pytest.raises(ApplicationError) as exc:
        create(payer, qr, 9_999, coupon_id=coupon.pk)
    assert code(exc) == "invalid"
    assert "coupon_id" in exc.value.extra["fields"]


def test_an_anonymous_payer_pays_but_cannot_use_coupons_or_points(qr, coupon):
    from django.contrib.auth.models import AnonymousUser

    order = create(AnonymousUser(), qr, 3000)
    assert order.customer is None and order.amount_fen == 3000
    with pytest.raises(ApplicationError) as exc:
        create(AnonymousUser(), qr, 12_000, coupon_id=coupon.pk)
    assert code(exc) == "permission_denied"


def test_qr_refusals(payer, qr, shop, cashier, store, head_office, earn_rate):
    with pytest.raises(ApplicationError) as exc:
        services.order_create(payer=payer, qr_token="nope", gross_fen=100, channel="wechat",
                              idempotency_key=key())
    assert code(exc) == "payment_qr_not_found"

    one_off = services.qr_one_off_create(actor=cashier, store_id=store.pk, amount_fen=2500)
    order = create(payer, one_off, None)
    assert order.gross_fen == 2500 and order.qr_id == one_off.pk
    services.order_apply_trade(trade=paid_report(order), source="gateway")
    with pytest.raises(ApplicationError) as exc:
        create(payer, one_off, None)
    assert code(exc) == "payment_qr_used"

    expired = services.qr_one_off_create(actor=cashier, store_id=store.pk, amount_fen=100,
                                         minutes=1, now=timezone.now() - timedelta(minutes=2))
    with pytest.raises(ApplicationError) as exc:
        create(payer, expired, None)
    assert code(exc) == "payment_qr_expired"

    merchant_services.merchant_suspend(actor=head_office, merchant_id=shop.pk, reason="audit")
    with pytest.raises(ApplicationError) as exc:
        create(payer, qr, 100)
    assert code(exc) == "merchant_not_accepting"


def test_one_off_qr_refusals(cashier, other_shop, store):
    with pytest.raises(ApplicationError) as exc:
        services.qr_one_off_create(actor=cashier, store_id=other_shop.stores.get().pk,
                                   amount_fen=100)
    assert code(exc) == "invalid"
    with pytest.raises(ApplicationError) as exc:
        services.qr_one_off_create(actor=cashier, store_id=store.pk, amount_fen=0)
    assert code(exc) == "payment_amount_invalid"
    with pytest.raises(ApplicationError) as exc:
        services.qr_one_off_create(actor=cashier, store_id=store.pk, amount_fen=100, minutes=61)
    assert code(exc) == "invalid"
    with pytest.raises(ApplicationError) as exc:
        services.qr_one_off_create(actor=UserFactory(role="customer"), store_id=store.pk,
                                   amount_fen=100)
    assert exc.value.status == 404


def test_the_static_qr_is_one_per_store(store):
    assert services.qr_for_store(store=store).pk == services.qr_for_store(store=store).pk


def test_no_earning_rate_means_no_points_not_a_failed_payment(payer, qr):
    order = create(payer, qr, 5000)
    order, _ = services.order_apply_trade(trade=paid_report(order), source="gateway")
    assert order.status == "paid" and order.points_earned == 0
    assert not JournalEntry.objects.filter(kind="earn", reference_id=order.pk).exists()
