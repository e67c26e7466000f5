"""Reads: payment deduction quotes, points expiring soon; the monthly tasks."""

from datetime import date

import pytest

from points import services, tasks
from points.models import ClearingRun, Tier
from points.selectors import DeductionQuote, deduction_quote, member_tier, points_expiring_soon

from .conftest import sh
from .factories import earn_available


def test_deduction_is_capped_by_balance_and_by_share_of_the_order(customer, settings):
    settings.ALLIANCE_POINTS_MAX_DEDUCTION_PERCENT = 50
    settings.ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN = 100
    earn_available(customer, 3000, now=sh(2026, 3, 1))
    at = sh(2026, 4, 1)
    assert deduction_quote(customer_id=customer.pk, order_fen=10_000, now=at) == DeductionQuote(3000, 3000)
    assert deduction_quote(customer_id=customer.pk, order_fen=4_001, now=at) == DeductionQuote(2000, 2000)
    settings.ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN = 300  # 3 points = 1 fen
    quote = deduction_quote(customer_id=customer.pk, order_fen=10_000, now=at)
    assert (quote.points, quote.amount_fen) == (3000, 1000)


def test_points_expiring_within_thirty_days(customer):
    earn_available(customer, 40, now=sh(2026, 1, 10))  # expires 2027-02-01
    earn_available(customer, 60, now=sh(2026, 2, 10))  # expires 2027-03-01
    soon = points_expiring_soon(customer_id=customer.pk, now=sh(2027, 1, 5))
    assert (soon.points, soon.first_expiry) == (40, sh(2027, 2, 1))
    assert points_expiring_soon(customer_id=customer.pk, now=sh(2026, 12, 1)).points == 0


@pytest.mark.django_db
def test_monthly_tasks_review_tiers_and_clear_last_month(customer):
    Tier.objects.create(code="normal", name="normal", threshold_fen=0)
    Tier.objects.create(code="silver", name="silver", threshold_fen=100)
    services.tier_record_spending(customer_id=customer.pk, amount_fen=500,
                                  idempotency_key="old", now=sh(2024, 1, 1))
    assert member_tier(customer_id=customer.pk).code == "silver"
    assert tasks.review_tiers() == 1  # that spending is long out of the window
    assert member_tier(customer_id=customer.pk).code == "normal"
    run_id = tasks.clear_last_month()
    assert tasks.clear_last_month() == run_id
    assert ClearingRun.objects.get(pk=run_id).period < date.today()
