"""Earning, the pending period, releasing and cancelling pending points; expiry dates."""

from datetime import timedelta

import pytest

from points import services
from points.models import JournalEntry, PointsAccount, PointsLot
from points.selectors import customer_balance

from .conftest import sh
from .factories import earn, key

NOW = sh(2026, 3, 10, 12, 0)
Kind = PointsAccount.Kind


def test_earned_points_are_pending_then_available(customer, settings, assert_ledger_ok):
    settings.ALLIANCE_POINTS_PENDING_DAYS = 7
    entry = earn(customer, 120, now=NOW)
    assert customer_balance(customer_id=customer.pk) == (0, 120)
    account = services.customer_account(customer_id=customer.pk)
    assert services.points_release_pending(account_id=account.pk, now=NOW + timedelta(days=6)) == []
    released = services.points_release_pending(account_id=account.pk, now=NOW + timedelta(days=7))
    assert len(released) == 1 and released[0].kind == JournalEntry.Kind.MAKE_AVAILABLE
    assert customer_balance(customer_id=customer.pk) == (120, 0)
    # a second run releases nothing twice
    assert services.points_release_pending(account_id=account.pk, now=NOW + timedelta(days=8)) == []
    lot = PointsLot.objects.get(source_entry=entry)
    assert lot.state == PointsLot.State.AVAILABLE and lot.remaining_points == 120
    assert services.system_account(kind=Kind.BANK_ISSUANCE).balance == -120
    assert_ledger_ok()


def test_earn_is_idempotent_by_key(customer):
    kwargs = dict(customer_id=customer.pk, base_points=50, idempotency_key="pay:1:earn", now=NOW)
    first = services.points_earn(**kwargs)
    assert services.points_earn(**kwargs).pk == first.pk
    assert customer_balance(customer_id=customer.pk) == (0, 50)


def test_merchant_funded_points_make_their_own_lot(customer, assert_ledger_ok):
    entry = earn(customer, 100, merchant_funded=30, merchant_id=7, now=NOW)
    lots = list(PointsLot.objects.filter(source_entry=entry).order_by("pk"))
    funders = [(lot.funder.kind, lot.funder.merchant_id, lot.original_points) for lot in lots]
    assert funders == [(Kind.BANK_ISSUANCE, None, 100), (Kind.MERCHANT_FUNDED, 7, 30)]
    assert services.system_account(kind=Kind.MERCHANT_FUNDED, merchant_id=7).balance == -30
    assert_ledger_ok()


@pytest.mark.parametrize("base, extra, merchant", [(0, 0, None), (-5, 0, None), (0, 5, None)])
def test_earn_refuses_invalid_points(customer, base, extra, merchant):
    with pytest.raises(Exception) as exc:
        services.points_earn(customer_id=customer.pk, base_points=base,
                             merchant_funded_points=extra, merchant_id=merchant,
                             idempotency_key=key(), now=NOW)
    assert exc.value.code == "points_invalid"


def test_a_refund_before_release_cancels_pending_points(customer, assert_ledger_ok):
    entry = earn(customer, 100, merchant_funded=20, merchant_id=3, now=NOW)
    services.points_cancel_pending(earn_entry_id=entry.pk, points=110, idempotency_key="c1", now=NOW)
    assert customer_balance(customer_id=customer.pk) == (0, 10)
    lots = {lot.funder.kind: lot for lot in PointsLot.objects.filter(source_entry=entry)}
    assert lots[Kind.BANK_ISSUANCE].state == PointsLot.State.CANCELLED
    assert lots[Kind.MERCHANT_FUNDED].remaining_points == 10
    # the rest; then nothing is left to cancel
    services.points_cancel_pending(earn_entry_id=entry.pk, idempotency_key="c2", now=NOW)
    assert customer_balance(customer_id=customer.pk) == (0, 0)
    assert services.system_account(kind=Kind.BANK_ISSUANCE).balance == 0
    assert services.system_account(kind=Kind.MERCHANT_FUNDED, merchant_id=3).balance == 0
    with pytest.raises(Exception) as exc:
        services.points_cancel_pending(earn_entry_id=entry.pk, idempotency_key="c3", now=NOW)
    assert exc.value.code == "points_not_pending"
    # a retried cancel is the same entry, not a refusal
    again = services.points_cancel_pending(earn_entry_id=entry.pk, idempotency_key="c2", now=NOW)
    assert again.kind == JournalEntry.Kind.CANCEL_PENDING
    assert_ledger_ok()


def test_points_that_became_available_cannot_be_cancelled(customer):
    entry = earn(customer, 100, now=NOW)
    account = services.customer_account(customer_id=customer.pk)
    services.points_release_pending(account_id=account.pk, now=NOW + timedelta(days=30))
    with pytest.raises(Exception) as exc:
        services.points_cancel_pending(earn_entry_id=entry.pk, idempotency_key=key(), now=NOW)
    assert exc.value.code == "points_not_pending"


@pytest.mark.parametrize(
    "earned, expires",
    [
        # 23:30 on 31 January in Shanghai is 15:30 UTC the same day: month 2026-01
        (sh(2026, 1, 31, 23, 30), sh(2027, 2, 1)),
        # 00:30 on 1 February in Shanghai is still 31 January in UTC: month 2026-02
        (sh(2026, 2, 1, 0, 30), sh(2027, 3, 1)),
        (sh(2026, 12, 31, 23, 59), sh(2028, 1, 1)),
        (sh(2026, 1, 1, 0, 0), sh(2027, 2, 1)),
    ],
)
def test_lots_expire_at_the_end_of_the_twelfth_month_in_shanghai(customer, earned, expires):
    entry = earn(customer, 10, now=earned)
    assert PointsLot.objects.get(source_entry=entry).expires_at == expires


def test_expiry_months_are_configurable(customer, settings):
    settings.ALLIANCE_POINTS_EXPIRY_MONTHS = 3
    entry = earn(customer, 10, now=sh(2026, 11, 15))
    assert PointsLot.objects.get(source_entry=entry).expires_at == sh(2027, 3, 1)
