"""Daily settlement: a day with payments, partial and full refunds, campaign subsidies and
points; re-runs; late notifications in the next batch, once; negative nets carried; late
payments netted out; the payout file's amounts and accounts."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from alliance.errors import ApplicationError
from coupons.services import campaign_create, coupon_claim
from payments import services
from payments.gateways import RefundState, TradeState
from payments.models import (
    PaymentOrder,
    Settlement,
    SettlementAudit,
    SettlementBatch,
    SettlementItem,
)
from payments.services import settlement as settlement_services
from payments.services.settlement import business_zone, settlement_run, yuan
from tests.coupons.factories import live_template

from .conftest import key, paid_report
from .test_orders import create

pytestmark = pytest.mark.django_db

# Three ended days: D, D+1, D+2 (the latest is yesterday in Shanghai).
D = settlement_services.yesterday() - timedelta(days=2)
D1, D2 = D + timedelta(days=1), D + timedelta(days=2)


def at(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=business_zone())


def paid(payer, qr, gross_fen, *, when, **kwargs) -> PaymentOrder:
    """An order paid at ``when`` as the channel reports it."""
    order = create(payer, qr, gross_fen, **kwargs)
    order, outcome = services.order_apply_trade(trade=paid_report(order, paid_at=when),
                                                source="gateway")
    assert outcome == "applied"
    return order


def refunded(actor, order, amount_fen, *, when):
    """A refund of ``amount_fen`` that the channel says succeeded at ``when``."""
    refund = services.refund_request(actor=actor, out_trade_no=order.out_trade_no,
                                     amount_fen=amount_fen, idempotency_key=key("refund"),
                                     reason="goods returned")
    refund, outcome = services.refund_apply_state(
        state=RefundState(out_refund_no=refund.out_refund_no, status="succeeded",
                          amount_fen=amount_fen, succeeded_at=when),
        source="gateway",
    )
    assert outcome == "applied"
    return refund


@pytest.fixture
def campaign_coupons(owner, officer, head_office, payer):
    """Two of the payer's 满100减20 coupons funded by a bank campaign."""
    campaign = campaign_create(actor=head_office, name="Double 12", budget_fen=10_000)
    template = live_template(owner=owner, reviewer=officer, obtain="campaign",
                             campaign_id=campaign.pk, per_customer_limit=2)
    return [coupon_claim(customer=payer, template_id=template.pk, claim_key=key("claim"))
            for _ in range(2)]


@pytest.fixture
def day_d(payer, qr, other_qr, owner, other_owner, campaign_coupons, earn_rate):
    """Day D at ``shop`` (fee 0.6 %):

    - A: ¥120, campaign coupon ¥20, 3,000 points (¥30): ¥70.00 charged, fee 42 (0.42 rounds
      half up... 7000 x 60 / 10000 = 42 exactly); ¥25.00 refunded the same day;
    - B: ¥100, campaign coupon ¥20: ¥80.00 charged, fee 48; refunded in full (coupon back);
    - C: ¥30.00 charged, fee 18;
    and at ``other_shop`` one ¥10.00 payment (fee 6); the next day, one more at ``shop``.
    """
    a = paid(payer, qr, 12_000, coupon_id=campaign_coupons[0].pk, points=3000, when=at(D, 10))
    b = paid(payer, qr, 10_000, coupon_id=campaign_coupons[1].pk, when=at(D, 11))
    c = paid(payer, qr, 3000, when=at(D, 12))
    elsewhere = paid(payer, other_qr, 1000, when=at(D, 13))
    ra = refunded(owner, a, 2500, when=at(D, 14))
    rb = refunded(owner, b, 8000, when=at(D, 16))
    next_day = paid(payer, qr, 2000, when=at(D1, 9))
    return dict(a=a, b=b, c=c, elsewhere=elsewhere, ra=ra, rb=rb, next_day=next_day)


def test_a_day_with_refunds_subsidies_and_points(day_d, shop, other_shop, head_office):
    a, b, ra, rb = day_d["a"], day_d["b"], day_d["ra"], day_d["rb"]
    assert (a.amount_fen, a.fee_fen, a.coupon_campaign_id is not None) == (7000, 42, True)
    assert (b.amount_fen, b.fee_fen) == (8000, 48)
    assert ra.points_returned == 1071  # floor(3000 x 2500 / 7000), by the refund service
    assert rb.coupon_restored

    batch = settlement_run(day=D, actor=head_office, source="console")

    assert (batch.day, batch.merchants, batch.payments, batch.refunds) == (D, 2, 4, 2)
    mine = Settlement.objects.get(batch=batch, merchant=shop)
    assert (mine.payments, mine.refunds) == (3, 2)
    assert mine.gross_fen == 7000 + 8000 + 3000
    assert mine.refunds_fen == 2500 + 8000
    assert mine.fee_fen == 42 + 48 + 18
    # A's partial refund: floor(42 x 2500 / 7000) = 15; B's full refund: all 48.
    assert mine.fee_back_fen == 15 + 48
    assert (mine.subsidy_fen, mine.subsidy_back_fen) == (2000 + 2000, 2000)  # B's coupon back
    # A's points: ¥30.00 owed; 1,071 of 3,000 points given back: floor(3000 x 1071 / 3000).
    assert (mine.points_fen, mine.points_back_fen) == (3000, 1071)
    net = 18_000 - 10_500 - 108 + 63 + 4000 - 2000 + 3000 - 1071
    assert net == 11_384
    assert (mine.net_fen, mine.payout_fen, mine.carried_out_fen) == (net, net, 0)
    assert mine.reference == f"ST{D:%Y%m%d}{shop.code}"
    # The account as it was, kept encrypted with the settlement.
    assert mine.account_number == shop.settlement_account_number
    other = Settlement.objects.get(batch=batch, merchant=other_shop)
    assert (other.gross_fen, other.fee_fen, other.payout_fen) == (1000, 6, 994)
    assert batch.payout_fen == 11_384 + 994
    assert batch.fee_fen == 108 - 63 + 6

    items = {(i.kind, i.order_id, i.refund_id): i for i in SettlementItem.objects.filter(batch=batch)}
    assert len(items) == 6
    item_ra = items["refund", a.pk, ra.pk]
    assert (item_ra.amount_fen, item_ra.fee_fen, item_ra.points_fen, item_ra.subsidy_fen,
            item_ra.net_fen) == (2500, 15, 1071, 0, 15 - 2500 - 1071)
    item_rb = items["refund", b.pk, rb.pk]
    assert (item_rb.fee_fen, item_rb.subsidy_fen, item_rb.net_fen) == (48, 2000, 48 - 8000 - 2000)
    assert not any(i.late for i in items.values())
    # Nothing of the next day.
    assert not SettlementItem.objects.filter(order=day_d["next_day"]).exists()
    audit = SettlementAudit.objects.get(batch=batch)
    assert (audit.action, audit.source, audit.actor) == ("run", "console", head_office)


def test_partial_refunds_never_give_back_more_than_the_fee(payer, qr, owner):
    """Fee 0.6 % of ¥0.90 is 0.54 fen: 1. Three refunds of 30 fen give back 0, 0, 1."""
    order = paid(payer, qr, 90, when=at(D, 10))
    assert order.fee_fen == 1
    for hour in (11, 12, 13):
        refunded(owner, order, 30, when=at(D, hour))
    batch = settlement_run(day=D)
    refunds = SettlementItem.objects.filter(batch=batch, kind="refund").order_by("at")
    assert [i.fee_fen for i in refunds] == [0, 0, 1]
    s = Settlement.objects.get(batch=batch)
    assert (s.fee_fen, s.fee_back_fen, s.net_fen, s.payout_fen) == (1, 1, 0, 0)


def test_the_same_day_again_gives_the_same_batch_unchanged(day_d, payer, qr, head_office):
    first = settlement_run(day=D)
    rows = list(SettlementItem.objects.values_list("pk", "net_fen"))
    # A payment of D reported after D ran is not added to D (it waits for the next batch).
    paid(payer, qr, 4000, when=at(D, 20))
    again = settlement_run(day=D, actor=head_office, source="console")
    assert again.pk == first.pk
    assert SettlementBatch.objects.count() == 1
    assert list(SettlementItem.objects.values_list("pk", "net_fen")) == rows
    assert list(SettlementAudit.objects.values_list("action", flat=True)) == ["run", "rerun"]


def test_a_day_not_ended_and_a_day_before_the_latest_are_refused(day_d):
    today = settlement_services.yesterday() + timedelta(days=1)
    with pytest.raises(ApplicationError) as refused:
        settlement_run(day=today)
    assert refused.value.code == "settlement_day_open"
    settlement_run(day=D1)  # D was never run: its orders go into D+1's batch ...
    with pytest.raises(ApplicationError) as refused:
        settlement_run(day=D)  # ... so D cannot have one of its own any more
    assert refused.value.code == "settlement_day_passed"
    assert SettlementItem.objects.filter(order=day_d["a"], kind="payment").count() == 1


def test_a_late_notification_lands_in_the_next_batch_once(payer, qr, owner):
    on_time = paid(payer, qr, 5000, when=at(D, 10))
    waiting = create(payer, qr, 4000)
    first = settlement_run(day=D)
    assert list(SettlementItem.objects.filter(batch=first).values_list("order_id", flat=True)) == [
        on_time.pk
    ]
    # The channel's notification comes after D's batch ran; it says paid at 23:50 on D. A refund
    # of the first order, made on D, is reported late too.
    late, _ = services.order_apply_trade(trade=paid_report(waiting, paid_at=at(D, 23, 50)),
                                         source="gateway")
    late_refund = refunded(owner, on_time, 1000, when=at(D, 22))
    # D's batch is as it was.
    assert settlement_run(day=D).pk == first.pk
    assert SettlementItem.objects.filter(batch=first).count() == 1

    second = settlement_run(day=D1)
    items = list(SettlementItem.objects.filter(batch=second).order_by("at"))
    assert [(i.kind, i.order_id, i.refund_id, i.late) for i in items] == [
        ("refund", on_time.pk, late_refund.pk, True),
        ("payment", late.pk, None, True),
    ]
    settlement_run(day=D2)
    assert SettlementItem.objects.filter(order=late).count() == 1
    assert SettlementItem.objects.filter(refund=late_refund).count() == 1


def test_a_negative_net_pays_nothing_and_is_carried_to_the_next_settlement(payer, qr, owner):
    big = paid(payer, qr, 5000, when=at(D, 10))
    settlement_run(day=D)
    # D+1: the ¥50 refunded, ¥10 taken: 1000 - 6 - 5000 + 30 = -3,976.
    refunded(owner, big, 5000, when=at(D1, 10))
    paid(payer, qr, 1000, when=at(D1, 11))
    short = Settlement.objects.get(batch=settlement_run(day=D1))
    assert (short.net_fen, short.payout_fen, short.carried_out_fen) == (-3976, 0, 3976)
    # D+2: ¥100 taken, fee 60; the debt is deducted once.
    paid(payer, qr, 10_000, when=at(D2, 10))
    batch = settlement_run(day=D2)
    later = Settlement.objects.get(batch=batch)
    assert (later.carried_in_fen, later.carried_from_id) == (3976, short.pk)
    assert (later.net_fen, later.payout_fen, later.carried_out_fen) == (5964, 5964, 0)
    assert batch.payout_fen == 5964
    # The payout file has no line for the short day.
    assert Settlement.objects.filter(payout_fen__lt=0).count() == 0


def test_a_debt_waits_for_the_merchants_next_settlement(payer, qr, other_qr, owner):
    big = paid(payer, qr, 5000, when=at(D, 10))
    settlement_run(day=D)
    refunded(owner, big, 5000, when=at(D1, 10))
    short = Settlement.objects.get(batch=settlement_run(day=D1))
    assert short.carried_out_fen == 5000 - 30
    paid(payer, other_qr, 1000, when=at(D2, 10))  # another merchant's day: the debt waits
    batch = settlement_run(day=D2)
    assert list(batch.settlements.values_list("merchant__code", "carried_in_fen")) == [
        (other_qr.merchant.code, 0)
    ]
    assert not Settlement.objects.filter(carried_from=short).exists()


def test_a_late_payment_is_settled_and_netted_out_by_its_refund(payer, qr, owner):
    order = create(payer, qr, 12_000, points=2000)
    services.order_apply_trade(trade=TradeState(out_trade_no=order.out_trade_no, status="closed"),
                               source="system")
    order, outcome = services.order_apply_trade(trade=paid_report(order, paid_at=at(D, 10)),
                                                source="gateway")
    assert outcome == "late" and order.late_payment
    automatic = order.refunds.get()
    services.refund_apply_state(
        state=RefundState(out_refund_no=automatic.out_refund_no, status="succeeded",
                          amount_fen=order.amount_fen, succeeded_at=at(D, 10, 5)),
        source="gateway",
    )
    s = Settlement.objects.get(batch=settlement_run(day=D))
    # The points went back when it closed: no points value is owed, and cash and fee net out.
    assert (s.gross_fen, s.refunds_fen, s.fee_fen, s.fee_back_fen) == (10_000, 10_000, 60, 60)
    assert (s.points_fen, s.points_back_fen, s.net_fen, s.payout_fen) == (0, 0, 0, 0)


def test_the_payout_file(day_d, shop, other_shop, head_office, officer):
    batch = settlement_run(day=D)
    name, text = services_payout(head_office, batch)
    assert name == f"payout-{D:%Y%m%d}.csv"
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["batch", "merchant_code", "settlement_bank", "account_name",
                       "account_number", "amount_yuan", "reference"]
    by_code = {r[1]: r for r in rows[1:]}
    assert by_code[shop.code] == [
        f"{D:%Y%m%d}", shop.code, shop.settlement_bank, shop.settlement_account_name,
        "".join(shop.settlement_account_number.split()), "113.84", f"ST{D:%Y%m%d}{shop.code}",
    ]
    assert by_code[other_shop.code][5] == "9.94"
    audit = SettlementAudit.objects.filter(action="payout_file").get()
    assert audit.actor == head_office
    with pytest.raises(ApplicationError) as refused:
        services_payout(officer, batch)
    assert refused.value.status == 403


def services_payout(actor, batch):
    return settlement_services.payout_file_export(actor=actor, batch_id=batch.pk)


@pytest.mark.parametrize(
    ("fen", "text"),
    [(0, "0.00"), (5, "0.05"), (100, "1.00"), (123_456, "1234.56"), (-5, "-0.05"),
     (10**12 + 1, "10000000000.01")],
)
def test_yuan_from_fen_is_exact(fen, text):
    assert yuan(fen) == text


def test_the_scheduled_run_catches_up_missed_days(payer, qr):
    paid(payer, qr, 5000, when=at(D, 10))
    settlement_run(day=D)
    paid(payer, qr, 1000, when=at(D1, 10))
    paid(payer, qr, 2000, when=at(D2, 10))
    batches = settlement_services.settlement_run_due()
    assert [b.day for b in batches] == [D1, D2]
    assert [b.gross_fen for b in batches] == [1000, 2000]
    assert settlement_services.settlement_run_due() == []  # nothing left to catch up
    assert SettlementBatch.objects.count() == 3


def test_settlement_history_cannot_be_changed(day_d):
    batch = settlement_run(day=D)
    with pytest.raises(TypeError):
        batch.save()
    s = batch.settlements.first()
    with pytest.raises(TypeError):
        s.delete()


def test_a_day_is_shanghai_midnight_to_midnight():
    start, end = settlement_services.day_bounds(D)
    assert start.utcoffset() == timedelta(hours=8) and end - start == timedelta(days=1)
    assert timezone.is_aware(start)
