"""Monthly clearing: a worked example with three merchants and the bank, line by line."""

from datetime import date

import pytest

from points import services
from points.models import ClearingLine, ClearingStatement
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
    - Ann spends 100 at M1: the rest of M1's own points (cancels out: M1 pays M1);
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
    return ann, bob


def test_worked_example_three_merchants_and_the_bank(march):
    run = services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 4, 1, 2, 0))
    lines = list(run.lines.values_list("spent_at_merchant_id", "funder_merchant_id", "points",
                                       "amount_fen"))
    assert lines == [
        (M1, M1, 100, 100),     # M1's own points spent at M1: no one owes anyone
        (M2, M1, 100, 100),     # M1 owes M2 ¥1.00
        (M2, None, 1000, 1000),  # the bank owes M2 ¥10.00
        (M3, M2, 50, 50),       # 100 spent - 50 refunded: M2 owes M3 ¥0.50
        (M3, None, 500, 500),   # the bank owes M3 ¥5.00
    ]
    statements = list(run.statements.values_list("merchant_id", "spent_here_fen",
                                                 "funded_elsewhere_fen", "net_fen"))
    assert statements == [
        (M1, 0, 100, -100),
        (M2, 1100, 50, 1050),
        (M3, 550, 0, 550),
    ]
    bank_pays = sum(fen for spent, funder, _, fen in lines if funder is None)
    assert sum(s[3] for s in statements) == bank_pays == 1500


def test_rerunning_a_month_gives_the_same_run(march):
    first = services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 4, 2))
    again = services.points_clearing_run(period=date(2026, 3, 1), now=sh(2026, 5, 2))
    assert again.pk == first.pk
    assert ClearingLine.objects.count() == 5 and ClearingStatement.objects.count() == 3


def test_a_month_that_changed_after_clearing_is_refused(march):
    ann, _ = march
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


def test_points_value_rounds_toward_zero(settings):
    settings.ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN = 300
    assert services.points_to_fen(1000) == 333
    assert services.points_to_fen(-1000) == -333
