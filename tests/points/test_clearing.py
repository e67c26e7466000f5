"""Monthly clearing, the funder charge: a worked example with three merchants and the bank.

Daily settlement pays the merchant where points are spent; the month charges whoever funded
them. These tests read the figures line by line."""

from datetime import date

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from points import services
from points.models import ClearingLine, ClearingStatement
from points.models.ledger import ImmutableRow
from tests.factories import UserFactory

from .conftest import sh
from .factories import earn_available, key

M1, M2, M3 = 101, 102, 103


@pytest.fixture
def march(db):
    """In March 2026 (Shanghai):

    - Ann earns at M1: 1,000 bank points + 200 funded by M1;
    - Bob earns at M2: 500 bank points + 300 funded by M2;
    - Ann spends 1,100 at M2: FIFO takes the bank lot (1,000) then 100 of M1's;
    - Bob spends 600 at M3: his bank lot (500) then 100 of M2's;
    - Ann spends 100 at M1: the rest of M1's own points (M1 funded them: it is charged too);
    - Bob gets 50 back of his M3 spend: latest lot first, so into the M2-funded lot.
    """
    ann, bob = UserFactory(role="customer"), UserFactory(role="customer")
    earn_available(ann, 1000, merchant_funded=200, merchant_id=M1, now=sh(2026, 2, 20))
    earn_available(bob, 500, merchant_funded=300, merchant_id=M2, now=sh(2026, 2, 21))
    services.points_spend(customer_id=ann.pk, points=1100, merchant_id=M2,
                          idempotency_key=key(), now=sh(2026, 3, 1, 0, 5))
    bob_m3 = services.points_spend(customer_id=bob.pk, points=600, merchant_id=M3,
                                   idempotency_key=key(), now=sh(2026, 3, 10))
    services.points_spend(customer_id=ann.pk, points=100, merchant_id=M1,
                          idempotency_key=key(), now=sh(2026, 3, 15))
    services.points_refund_spend(spend_entry_id=bob_m3.pk, points=50, idempotency_key=key(),
                                 now=sh(2026, 3, 31, 23, 59))
    # April: not in March's clearing
    services.points_spend(customer_id=bob.pk, points=10, merchant_id=M1,
                          idempotency_key=key(), now=sh(2026, 4, 1, 0, 0))
    return ann, bob, bob_m3


def lines_of(run):
    return list(run.lines.values_list("spent_at_merchant_id", "funder_merchant_id", "points",
                                      "amount_fen"))


def statements_of(run):
    return list(run.statements.values_list("merchant_id", "funded_fen", "spent_here_paid_fen",
                                           "net_fen"))


def test_each_funder_is_charged_what_it_funded_wherever_it_was_spent(march):
    run = services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 4, 1, 2, 0))
    lines = lines_of(run)
    assert lines == [
        (M1, M1, 100, 100),      # M1's points spent at M1: M1 owes the bank ¥1.00
        (M2, M1, 100, 100),      # M1's points spent at M2: M1 owes the bank ¥1.00
        (M2, None, 1000, 1000),  # the bank's points: its cost, nobody is charged
        (M3, M2, 50, 50),        # 100 spent - 50 refunded: M2 owes the bank ¥0.50
        (M3, None, 500, 500),    # the bank's points: its cost
    ]
    # (merchant, funded, spent here (paid in daily settlement), net owed to the bank)
    assert statements_of(run) == [
        (M1, 200, 100, 200),  # at another merchant AND at itself
        (M2, 50, 1100, 50),   # the refund of a spend reduced its charge
        (M3, 0, 550, 0),      # funded nothing: owes nothing, was paid daily for ¥5.50
    ]
    merchant_funded = sum(fen for _spent, funder, _points, fen in lines if funder is not None)
    assert sum(net for *_, net in statements_of(run)) == merchant_funded == 250
    spent_at_merchants = sum(fen for spent, _funder, _points, fen in lines if spent is not None)
    assert sum(s[2] for s in statements_of(run)) == spent_at_merchants == 1750


def test_bank_funded_points_charge_nobody(db):
    ann = UserFactory(role="customer")
    earn_available(ann, 800, now=sh(2026, 2, 20))  # the bank's points only
    services.points_spend(customer_id=ann.pk, points=300, merchant_id=M1,
                          idempotency_key=key(), now=sh(2026, 3, 2))
    services.points_spend(customer_id=ann.pk, points=200,  # a coupon exchanged with the bank
                          idempotency_key=key(), now=sh(2026, 3, 3))
    run = services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 4, 2))
    assert lines_of(run) == [(M1, None, 300, 300), (None, None, 200, 200)]
    assert statements_of(run) == [(M1, 0, 300, 0)]


def test_merchant_funded_points_exchanged_for_a_bank_coupon_charge_their_funder(db):
    ann = UserFactory(role="customer")
    earn_available(ann, 0, merchant_funded=150, merchant_id=M2, now=sh(2026, 2, 20))
    services.points_spend(customer_id=ann.pk, points=150, idempotency_key=key(),
                          now=sh(2026, 3, 3))
    run = services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 4, 2))
    assert lines_of(run) == [(None, M2, 150, 150)]
    assert statements_of(run) == [(M2, 150, 0, 150)]


def test_a_refund_in_a_later_month_gives_the_funder_back(march):
    _ann, _bob, bob_m3 = march
    # 80 more of Bob's March spend at M3 come back in April: M2's last 50, then 30 of the bank's
    services.points_refund_spend(spend_entry_id=bob_m3.pk, points=80, idempotency_key=key(),
                                 now=sh(2026, 4, 20))
    march_run = services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 5, 1, 2, 0))
    april = services.points_clearing_run(period=date(2026, 4, 1), now=sh(2026, 5, 1, 2, 0))
    assert (M2, 50, 1100, 50) in statements_of(march_run)  # March's figures do not move
    assert lines_of(april) == [
        (M1, M2, 10, 10),       # Bob's April spend at M1, from M2's lot
        (M3, M2, -50, -50),     # given back into M2's lot
        (M3, None, -30, -30),   # given back into the bank's lot
    ]
    assert statements_of(april) == [
        (M1, 0, 10, 0),
        (M2, -40, 0, -40),  # negative: the bank owes M2 ¥0.40 back
        (M3, 0, -80, 0),
    ]


def test_rerunning_a_month_gives_the_same_run(march):
    first = services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 4, 2))
    again = services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 5, 2))
    assert again.pk == first.pk
    assert statements_of(again) == statements_of(first)
    assert ClearingLine.objects.count() == 5 and ClearingStatement.objects.count() == 3


def test_a_month_that_changed_after_clearing_is_refused(march):
    ann, _bob, _spend = march
    services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 4, 2))
    earn_available(ann, 50, now=sh(2026, 2, 1))
    services.points_spend(customer_id=ann.pk, points=50, merchant_id=M3,  # backdated
                          idempotency_key=key(), now=sh(2026, 3, 20))
    with pytest.raises(Exception) as exc:
        services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 4, 3))
    assert exc.value.code == "points_clearing_changed"


def test_an_open_month_is_not_cleared(march):
    with pytest.raises(Exception) as exc:
        services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 3, 31, 23, 59))
    assert exc.value.code == "points_clearing_period_open"


def test_statements_are_history_and_net_is_the_funder_charge(march):
    run = services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 4, 2))
    statement = run.statements.get(merchant_id=M1)
    with pytest.raises(ImmutableRow):
        statement.save()
    with pytest.raises(ImmutableRow):
        statement.delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        ClearingStatement.objects.create(run=run, merchant_id=999, funded_fen=10,
                                         spent_here_paid_fen=0, net_fen=-10)
    if connection.vendor == "postgresql":  # there the database itself refuses changes
        with pytest.raises(DatabaseError), transaction.atomic():
            ClearingStatement.objects.filter(pk=statement.pk).update(net_fen=0, funded_fen=0)
        with pytest.raises(DatabaseError), transaction.atomic():
            ClearingLine.objects.filter(run=run).delete()


def test_points_value_rounds_toward_zero(settings):
    settings.ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN = 300
    assert services.points_to_fen(1000) == 333
    assert services.points_to_fen(-1000) == -333
