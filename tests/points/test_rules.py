"""Earning rules from data, and tiers from rolling 12-month spending."""

from datetime import timedelta

import pytest

from points import services
from points.models import EarnCampaign, EarnRate, MemberTier, PointsLot, Tier, TierHistory
from points.selectors import earn_quote, member_tier

from .conftest import sh

NOW = sh(2026, 6, 15, 12, 0)


@pytest.fixture
def rules(db):
    EarnRate.objects.create(points_per_yuan=1, valid_from=sh(2020, 1, 1))
    EarnRate.objects.create(points_per_yuan=2, valid_from=sh(2026, 6, 1))
    return {
        code: Tier.objects.create(code=code, name=code, threshold_fen=t, multiplier_percent=m)
        for code, t, m in [("normal", 0, 100), ("silver", 500_000, 120),
                           ("gold", 2_000_000, 150), ("diamond", 10_000_000, 200)]
    }


def test_base_points_round_down_in_integers(customer, rules):
    # ¥123.45 at 2 points per yuan = 246.9 -> 246
    quote = earn_quote(customer_id=customer.pk, amount_fen=12_345, merchant_id=1, at=NOW)
    assert (quote.base_points, quote.bank_points, quote.merchant_points) == (246, 246, 0)
    # the older rate before 2026-06-01
    quote = earn_quote(customer_id=customer.pk, amount_fen=12_345, merchant_id=1, at=sh(2026, 5, 31))
    assert quote.base_points == 123
    assert earn_quote(customer_id=customer.pk, amount_fen=49, merchant_id=1, at=NOW).total == 0


def test_campaigns_match_category_merchant_and_window(customer, rules):
    window = dict(starts_at=sh(2026, 6, 10), ends_at=sh(2026, 6, 20))
    EarnCampaign.objects.create(name="tea double", bonus_percent=100, category="tea", **window)
    EarnCampaign.objects.create(name="shop 7 +50%", bonus_percent=50, merchant_id=7,
                                funder=EarnCampaign.Funder.MERCHANT, **window)
    EarnCampaign.objects.create(name="over", bonus_percent=300, starts_at=sh(2026, 5, 1),
                                ends_at=sh(2026, 6, 1))
    EarnCampaign.objects.create(name="paused", bonus_percent=300, is_active=False, **window)

    def quote(merchant_id, category, at=NOW):
        q = earn_quote(customer_id=customer.pk, amount_fen=10_000, merchant_id=merchant_id,
                       category=category, at=at)
        return q.bank_points, q.merchant_points

    assert quote(7, "tea") == (400, 100)  # base 200 + tea 200 (bank); merchant 7 adds 100
    assert quote(8, "tea") == (400, 0)
    assert quote(7, "food") == (200, 100)
    assert quote(8, "food") == (200, 0)
    assert quote(7, "tea", at=sh(2026, 6, 20)) == (200, 0)  # the window's end is exclusive


def test_a_payment_earns_at_the_tier_held_before_it_and_then_upgrades(customer, rules):
    first = services.points_earn_for_payment(customer_id=customer.pk, payment_id=1,
                                             amount_fen=600_000, merchant_id=1, now=NOW)
    assert first.lines.get(amount__gt=0).amount == 12_000  # normal tier: x1.0
    assert member_tier(customer_id=customer.pk).code == "silver"
    second = services.points_earn_for_payment(customer_id=customer.pk, payment_id=2,
                                              amount_fen=10_000, merchant_id=1, now=NOW)
    assert second.lines.get(amount__gt=0).amount == 240  # silver: 200 x 1.2
    # a retried notification changes nothing
    again = services.points_earn_for_payment(customer_id=customer.pk, payment_id=2,
                                             amount_fen=10_000, merchant_id=1, now=NOW)
    assert again.pk == second.pk
    assert TierHistory.objects.filter(customer=customer).count() == 1


def test_merchant_funded_campaign_points_are_a_merchant_funded_lot(customer, rules):
    EarnCampaign.objects.create(name="m", bonus_percent=10, merchant_id=5,
                                funder=EarnCampaign.Funder.MERCHANT,
                                starts_at=sh(2026, 1, 1), ends_at=sh(2027, 1, 1))
    entry = services.points_earn_for_payment(customer_id=customer.pk, payment_id=9,
                                             amount_fen=10_000, merchant_id=5, now=NOW)
    lots = PointsLot.objects.filter(source_entry=entry).order_by("pk")
    assert [(lot.funder.kind, lot.original_points) for lot in lots] == [
        ("bank_issuance", 200), ("merchant_funded", 20)]


def test_downgrades_at_most_once_a_month_and_history_is_kept(customer, rules):
    services.tier_record_spending(customer_id=customer.pk, amount_fen=2_500_000,
                                  idempotency_key="p1", now=sh(2025, 6, 1))
    assert member_tier(customer_id=customer.pk).code == "gold"
    # a refund takes most of it back: silver would do, but it is the first downgrade this month
    services.tier_record_spending(customer_id=customer.pk, amount_fen=-1_900_000,
                                  idempotency_key="r1", now=sh(2025, 6, 2))
    assert member_tier(customer_id=customer.pk).code == "silver"
    # more refund the same month: no second downgrade until July
    services.tier_record_spending(customer_id=customer.pk, amount_fen=-500_000,
                                  idempotency_key="r2", now=sh(2025, 6, 3))
    assert member_tier(customer_id=customer.pk).code == "silver"
    services.tier_evaluate(customer_id=customer.pk, now=sh(2025, 7, 1, 0, 10))
    assert member_tier(customer_id=customer.pk).code == "normal"
    # upgrades are immediate, even right after a downgrade
    services.tier_record_spending(customer_id=customer.pk, amount_fen=10_000_000,
                                  idempotency_key="p2", now=sh(2025, 7, 2))
    assert member_tier(customer_id=customer.pk).code == "diamond"
    # a year later the spending has rolled off: one monthly review steps down to normal
    services.tier_evaluate(customer_id=customer.pk, now=sh(2026, 7, 3))
    assert member_tier(customer_id=customer.pk).code == "normal"
    history = [(h.old_tier.code, h.new_tier.code) for h in
               TierHistory.objects.filter(customer=customer).order_by("at")]
    assert history == [("normal", "gold"), ("gold", "silver"), ("silver", "normal"),
                       ("normal", "diamond"), ("diamond", "normal")]


def test_rolling_window_is_twelve_months(customer, rules):
    services.tier_record_spending(customer_id=customer.pk, amount_fen=600_000,
                                  idempotency_key="p", now=sh(2025, 6, 15, 12, 0))
    services.tier_evaluate(customer_id=customer.pk, now=sh(2026, 6, 15, 11, 59))
    assert member_tier(customer_id=customer.pk).code == "silver"
    services.tier_evaluate(customer_id=customer.pk, now=sh(2026, 6, 15, 12, 0) + timedelta(seconds=1))
    assert MemberTier.objects.get(customer=customer).tier.code == "normal"
