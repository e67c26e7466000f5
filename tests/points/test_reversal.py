"""Taking back what a payment earned when it is refunded: pending, available, or already used."""

from datetime import timedelta

import pytest
from django.utils import translation

from alliance.errors import ApplicationError
from points import services
from points.models import (
    EarnReversal,
    ImmutableRow,
    JournalEntry,
    LotAllocation,
    PointsAccount,
    PointsLot,
)
from points.selectors import customer_balance, customer_history, history_rows

from .conftest import sh
from .factories import earn, earn_available, key, spend

NOW = sh(2026, 3, 10, 12, 0)
LATER = NOW + timedelta(days=40)  # well past the pending period
Kind = PointsAccount.Kind


def reverse(entry, points=None, *, now=LATER, idempotency_key=None):
    return services.points_reverse_earn(
        earn_entry_id=entry.pk, points=points, idempotency_key=idempotency_key or key("rev"),
        reason="payment refunded", now=now,
    )


def bank() -> int:
    return services.system_account(kind=Kind.BANK_ISSUANCE).balance


def test_pending_points_are_cancelled_like_a_cancel(customer, assert_ledger_ok):
    entry = earn(customer, 100, now=NOW)
    reversal = reverse(entry, now=NOW + timedelta(days=1))
    assert (reversal.points, reversal.taken, reversal.shortfall) == (100, 100, 0)
    assert customer_balance(customer_id=customer.pk) == (0, 0)
    assert PointsLot.objects.get(source_entry=entry).state == PointsLot.State.CANCELLED
    assert bank() == 0
    assert reversal.entry.kind == JournalEntry.Kind.CLAWBACK and reversal.entry.reverses_id == entry.pk
    assert_ledger_ok()


def test_available_points_are_taken_from_the_earns_own_lot(customer, assert_ledger_ok):
    entry = earn_available(customer, 100, now=NOW)
    other = earn_available(customer, 50, now=NOW + timedelta(days=1))
    reversal = reverse(entry, 60)
    assert (reversal.taken, reversal.shortfall) == (60, 0)
    lots = {lot.source_entry_id: lot.remaining_points for lot in PointsLot.objects.all()}
    assert lots == {entry.pk: 40, other.pk: 50}  # the other earn's lot is untouched
    assert customer_balance(customer_id=customer.pk) == (90, 0)
    assert bank() == -90
    [allocation] = LotAllocation.objects.filter(entry=reversal.entry)
    assert (allocation.lot.source_entry_id, allocation.points) == (entry.pk, 60)
    assert_ledger_ok()


def test_used_points_are_taken_from_other_points_fifo_then_short(customer, assert_ledger_ok):
    entry = earn_available(customer, 100, now=sh(2026, 3, 10))
    spend(customer, 70, now=sh(2026, 4, 20))  # 70 of the earn's own lot are gone
    later = earn_available(customer, 30, now=sh(2026, 5, 5), merchant_funded=20, merchant_id=9)
    reversal = reverse(entry, now=sh(2026, 6, 1))
    # 30 left in the own lot, then the other earn's two lots (same expiry: pk order), 20 short
    assert (reversal.points, reversal.taken, reversal.shortfall) == (100, 80, 20)
    assert customer_balance(customer_id=customer.pk) == (0, 0)
    taken = list(
        LotAllocation.objects.filter(entry=reversal.entry)
        .values_list("lot__source_entry_id", "lot__funder__kind", "points").order_by("lot_id")
    )
    assert taken == [(entry.pk, Kind.BANK_ISSUANCE, 30), (later.pk, Kind.BANK_ISSUANCE, 30),
                     (later.pk, Kind.MERCHANT_FUNDED, 20)]
    # every point taken goes back to the refunded earn's funder (the bank), not to merchant 9
    assert bank() == -100 - 30 + 80
    assert services.system_account(kind=Kind.MERCHANT_FUNDED, merchant_id=9).balance == -20
    # the shortfall stays asked: nothing more can be reversed of this earn
    with pytest.raises(ApplicationError) as exc:
        reverse(entry, 1, now=sh(2026, 6, 2))
    assert exc.value.code == "points_reverse_exceeds_earn"
    assert exc.value.extra == {"reversible": 0}
    assert_ledger_ok()


def test_nothing_left_to_take_records_the_whole_shortfall_without_an_entry(customer, assert_ledger_ok):
    entry = earn_available(customer, 50, now=NOW)
    spend(customer, 50, now=LATER)
    entries = JournalEntry.objects.count()
    reversal = reverse(entry, 20, now=LATER + timedelta(days=1))
    assert (reversal.taken, reversal.shortfall, reversal.entry) == (0, 20, None)
    assert JournalEntry.objects.count() == entries
    assert_ledger_ok()


def test_an_expired_own_lot_is_not_taken_from(customer, assert_ledger_ok):
    entry = earn_available(customer, 100, now=sh(2026, 1, 10))  # expires 2027-02-01
    fresh = earn_available(customer, 40, now=sh(2027, 1, 20))
    reversal = reverse(entry, 100, now=sh(2027, 2, 1))
    assert (reversal.taken, reversal.shortfall) == (40, 60)
    lots = dict(PointsLot.objects.values_list("source_entry_id", "remaining_points"))
    assert lots == {entry.pk: 100, fresh.pk: 0}  # the dead lot is left to the expiry job
    assert_ledger_ok()


def test_partial_reversals_merchant_funded_points_and_the_limit(customer, assert_ledger_ok):
    entry = earn(customer, 100, merchant_funded=20, merchant_id=3, now=NOW)
    services.points_cancel_pending(earn_entry_id=entry.pk, points=30, idempotency_key=key(), now=NOW)
    services.points_release_pending(
        account_id=services.customer_account(customer_id=customer.pk).pk, now=LATER
    )
    with pytest.raises(ApplicationError) as exc:
        reverse(entry, 91)
    assert exc.value.code == "points_reverse_exceeds_earn" and exc.value.extra == {"reversible": 90}
    first = reverse(entry, 80)
    assert (first.taken, first.shortfall) == (80, 0)
    # the bank's lot goes back first: 30 cancelled + 70 now = 100; then 10 to merchant 3
    assert bank() == 0
    assert services.system_account(kind=Kind.MERCHANT_FUNDED, merchant_id=3).balance == -10
    rest = reverse(entry)  # None: all that is left
    assert (rest.points, rest.taken) == (10, 10)
    assert services.system_account(kind=Kind.MERCHANT_FUNDED, merchant_id=3).balance == 0
    assert customer_balance(customer_id=customer.pk) == (0, 0)
    assert_ledger_ok()


def test_a_retry_with_the_same_key_is_the_same_reversal(customer):
    entry = earn_available(customer, 100, now=NOW)
    first = reverse(entry, 40, idempotency_key="refund:1:points")
    again = reverse(entry, 40, idempotency_key="refund:1:points")
    assert again.pk == first.pk
    assert customer_balance(customer_id=customer.pk) == (60, 0)
    other = earn_available(customer, 10, now=NOW)
    with pytest.raises(ApplicationError) as exc:
        reverse(other, 5, idempotency_key="refund:1:points")
    assert exc.value.code == "idempotency_key_reused"


def test_refusals(customer):
    entry = earn_available(customer, 10, now=NOW)
    with pytest.raises(ApplicationError) as exc:
        reverse(entry, 0)
    assert exc.value.code == "points_invalid"
    spend_entry = spend(customer, 5, now=LATER)
    with pytest.raises(ApplicationError) as exc:
        reverse(spend_entry)  # not an earn
    assert exc.value.code == "points_entry_not_found"


def test_reversals_are_history_rows_in_plain_words(customer):
    entry = earn_available(customer, 100, now=NOW)
    reverse(entry, 25)
    latest = customer_history(customer_id=customer.pk)[0]
    assert latest.kind == JournalEntry.Kind.CLAWBACK and latest.points == -25
    with translation.override("en"):
        [row] = history_rows([latest])
    assert row.description == "Points taken back: the payment was refunded"
    reversal = EarnReversal.objects.get()
    with pytest.raises(ImmutableRow):
        reversal.save()
