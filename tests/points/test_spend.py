"""Spending FIFO by expiry, refunds of spends, expiry, adjustments and transfers."""

from datetime import UTC, datetime, timedelta

import pytest

from points import services
from points.models import JournalEntry, LotAllocation, PointsAccount, PointsLot, PointsPolicy
from points.selectors import customer_balance, usable_points

from .conftest import sh
from .factories import earn_available, key, spend

Kind = PointsAccount.Kind
State = PointsLot.State


def lot_of(entry) -> PointsLot:
    return PointsLot.objects.get(source_entry=entry)


@pytest.fixture
def three_lots(customer):
    """Lots earned in January, March and February 2026 (so expiring 2027-02, -04 and -03)."""
    jan = lot_of(earn_available(customer, 30, now=sh(2026, 1, 20)))
    mar = lot_of(earn_available(customer, 50, now=sh(2026, 3, 5)))
    feb = lot_of(earn_available(customer, 40, now=sh(2026, 2, 10)))
    return jan, feb, mar


def remaining(*lots) -> list[int]:
    return [PointsLot.objects.get(pk=lot.pk).remaining_points for lot in lots]


def test_spend_takes_the_soonest_expiring_lots_first(customer, three_lots, assert_ledger_ok):
    jan, feb, mar = three_lots
    entry = spend(customer, 55, now=sh(2026, 4, 1), merchant_id=9)
    assert remaining(jan, feb, mar) == [0, 15, 50]
    allocations = list(entry.allocations.order_by("lot__expires_at").values_list("lot_id", "points"))
    assert allocations == [(jan.pk, 30), (feb.pk, 25)]
    assert customer_balance(customer_id=customer.pk) == (65, 0)
    assert services.system_account(kind=Kind.CLEARING, merchant_id=9).balance == 55
    assert_ledger_ok()


def test_same_expiry_goes_by_the_older_lot(customer):
    first = lot_of(earn_available(customer, 10, now=sh(2026, 5, 2)))
    second = lot_of(earn_available(customer, 10, now=sh(2026, 5, 30)))
    spend(customer, 15, now=sh(2026, 7, 1))
    assert remaining(first, second) == [0, 5]


def test_spend_refuses_more_than_available_and_changes_nothing(customer, three_lots):
    with pytest.raises(Exception) as exc:
        spend(customer, 121, now=sh(2026, 4, 1))
    assert exc.value.code == "points_insufficient"
    assert customer_balance(customer_id=customer.pk) == (120, 0)
    assert not JournalEntry.objects.filter(kind=JournalEntry.Kind.SPEND).exists()


def test_pending_points_cannot_be_spent(customer):
    services.points_earn(customer_id=customer.pk, base_points=100, idempotency_key=key(),
                         now=sh(2026, 4, 1))
    with pytest.raises(Exception) as exc:
        spend(customer, 1, now=sh(2026, 4, 2))
    assert exc.value.code == "points_insufficient"


def test_expired_lots_are_not_spent_even_before_the_expiry_job(customer):
    lot_of(earn_available(customer, 30, now=sh(2026, 1, 31, 23, 30)))
    assert usable_points(customer_id=customer.pk, now=sh(2027, 1, 31, 23, 59)) == 30
    assert usable_points(customer_id=customer.pk, now=sh(2027, 2, 1)) == 0
    with pytest.raises(Exception) as exc:
        spend(customer, 1, now=sh(2027, 2, 1))
    assert exc.value.code == "points_insufficient"


def test_spend_is_idempotent_by_key(customer, three_lots):
    kwargs = dict(customer_id=customer.pk, points=20, idempotency_key="pay:5:points",
                  now=sh(2026, 4, 1))
    first = services.points_spend(**kwargs)
    assert services.points_spend(**kwargs).pk == first.pk
    assert customer_balance(customer_id=customer.pk) == (100, 0)


def test_refund_returns_points_to_the_lots_they_came_from(customer, three_lots, assert_ledger_ok):
    jan, feb, mar = three_lots
    entry = spend(customer, 55, now=sh(2026, 4, 1), merchant_id=9)
    part = services.points_refund_spend(spend_entry_id=entry.pk, points=20,
                                        idempotency_key="r1", now=sh(2026, 4, 2))
    # latest-expiring lot first: February's 25 get 20 back
    assert remaining(jan, feb, mar) == [0, 35, 50]
    services.points_refund_spend(spend_entry_id=entry.pk, idempotency_key="r2", now=sh(2026, 4, 2))
    assert remaining(jan, feb, mar) == [30, 40, 50]
    assert part.reverses_id == entry.pk
    assert customer_balance(customer_id=customer.pk) == (120, 0)
    assert services.system_account(kind=Kind.CLEARING, merchant_id=9).balance == 0
    assert PointsLot.objects.filter(account__customer=customer).count() == 3  # no new lot
    with pytest.raises(Exception) as exc:
        services.points_refund_spend(spend_entry_id=entry.pk, points=1, idempotency_key="r3",
                                     now=sh(2026, 4, 2))
    assert exc.value.code == "points_refund_exceeds_spend"
    assert_ledger_ok()


def test_refund_of_points_from_an_expired_lot_makes_a_new_lot(customer, three_lots, assert_ledger_ok):
    jan, feb, mar = three_lots
    entry = spend(customer, 55, now=sh(2026, 4, 1))  # 30 from January, 25 from February
    refund_at = sh(2027, 2, 15)  # January's lot expired on 2027-02-01; February's has not
    services.points_expire(account_id=jan.account_id, now=refund_at)
    refund = services.points_refund_spend(spend_entry_id=entry.pk, idempotency_key="r",
                                          now=refund_at)
    assert remaining(jan, feb, mar) == [0, 40, 50]
    new = PointsLot.objects.get(source_entry=refund)
    assert (new.original_points, new.state, new.funder_id) == (30, State.AVAILABLE, jan.funder_id)
    assert new.expires_at == sh(2028, 3, 1)  # standard expiry counted from the refund
    assert PointsLot.objects.get(pk=jan.pk).state == State.EXPIRED
    assert customer_balance(customer_id=customer.pk) == (120, 0)
    assert_ledger_ok()


def test_refund_after_expiry_but_before_the_expiry_job_also_makes_a_new_lot(customer):
    jan = lot_of(earn_available(customer, 30, now=sh(2026, 1, 20)))
    entry = spend(customer, 10, now=sh(2026, 4, 1))
    refund = services.points_refund_spend(spend_entry_id=entry.pk, idempotency_key="r",
                                          now=sh(2027, 2, 1))
    assert remaining(jan) == [20]  # dead points stay dead; the job will expire these 20
    assert PointsLot.objects.get(source_entry=refund).remaining_points == 10


def test_expire_moves_what_is_left_of_due_lots_to_the_expiry_account(customer, three_lots,
                                                                      assert_ledger_ok):
    jan, feb, mar = three_lots
    spend(customer, 10, now=sh(2026, 4, 1))
    account_id = jan.account_id
    assert services.points_expire(account_id=account_id, now=sh(2027, 1, 31, 23, 59)) == []
    # 2027-02-01 00:00 Shanghai is 2027-01-31 16:00 UTC
    at = datetime(2027, 1, 31, 16, 0, tzinfo=UTC)
    expired = services.points_expire(account_id=account_id, now=at)
    assert [e.kind for e in expired] == [JournalEntry.Kind.EXPIRE]
    assert remaining(jan, feb, mar) == [0, 40, 50]
    assert services.points_expire(account_id=account_id, now=at + timedelta(days=1)) == []
    assert services.system_account(kind=Kind.EXPIRY).balance == 20
    assert customer_balance(customer_id=customer.pk) == (90, 0)
    assert_ledger_ok()


def test_the_daily_tasks_release_and_expire_due_lots(customer, assert_ledger_ok):
    from points import tasks

    now = datetime.now(UTC)
    old = lot_of(earn_available(customer, 10, now=now - timedelta(days=800)))
    services.points_earn(customer_id=customer.pk, base_points=5, idempotency_key=key(),
                         now=now - timedelta(days=30))
    assert tasks.release_due_pending_points() == 1
    assert tasks.expire_due_points() == 1
    assert remaining(old) == [0]
    assert customer_balance(customer_id=customer.pk) == (5, 0)
    assert_ledger_ok()


# --- Adjustments and transfers -----------------------------------------------------------------


def test_head_office_adjusts_up_and_down_with_a_reason(customer, head_office, three_lots,
                                                      assert_ledger_ok):
    jan, feb, mar = three_lots
    now = sh(2026, 6, 1)
    up = services.points_adjust(actor=head_office, customer_id=customer.pk, points=25,
                                reason="goodwill", idempotency_key="a1", now=now)
    assert lot_of(up).expires_at == sh(2027, 7, 1)
    services.points_adjust(actor=head_office, customer_id=customer.pk, points=-35,
                           reason="duplicate earn", idempotency_key="a2", now=now)
    assert remaining(jan, feb, mar) == [0, 35, 50]
    assert customer_balance(customer_id=customer.pk) == (110, 0)
    assert services.system_account(kind=Kind.ADJUSTMENT).balance == 10
    with pytest.raises(Exception) as exc:
        services.points_adjust(actor=head_office, customer_id=customer.pk, points=-1000,
                               reason="too much", idempotency_key="a3", now=now)
    assert exc.value.code == "points_insufficient"
    assert_ledger_ok()


@pytest.mark.parametrize("who", ["customer", "officer", "nobody"])
def test_only_head_office_adjusts(customer, officer, who):
    actor = {"customer": customer, "officer": officer, "nobody": None}[who]
    with pytest.raises(Exception) as exc:
        services.points_adjust(actor=actor, customer_id=customer.pk, points=5, reason="x",
                               idempotency_key=key(), now=sh(2026, 6, 1))
    assert exc.value.code == "permission_denied"


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_adjustment_needs_a_reason(customer, head_office, reason):
    with pytest.raises(Exception) as exc:
        services.points_adjust(actor=head_office, customer_id=customer.pk, points=5,
                               reason=reason, idempotency_key=key(), now=sh(2026, 6, 1))
    assert exc.value.code == "reason_required"


def test_transfer_is_off_by_default(customer):
    with pytest.raises(Exception) as exc:
        services.points_transfer(actor=customer, from_customer_id=customer.pk,
                                 to_customer_id=customer.pk + 1, points=5, idempotency_key=key())
    assert exc.value.code == "points_transfer_disabled"


def test_transfer_when_enabled_keeps_the_expiry(customer, settings, three_lots, assert_ledger_ok):
    from tests.factories import UserFactory

    PointsPolicy.objects.update_or_create(pk=1, defaults={"transfer_enabled": True})
    friend = UserFactory(role="customer")
    jan, feb, mar = three_lots
    entry = services.points_transfer(actor=customer, from_customer_id=customer.pk,
                                     to_customer_id=friend.pk, points=40,
                                     idempotency_key="t1", now=sh(2026, 5, 1))
    got = sorted(PointsLot.objects.filter(source_entry=entry).values_list("expires_at", "original_points"))
    assert got == [(jan.expires_at, 30), (feb.expires_at, 10)]
    assert customer_balance(customer_id=friend.pk) == (40, 0)
    assert customer_balance(customer_id=customer.pk) == (80, 0)
    assert LotAllocation.objects.filter(entry=entry).count() == 2
    with pytest.raises(Exception) as exc:
        services.points_transfer(actor=friend, from_customer_id=customer.pk,
                                 to_customer_id=friend.pk, points=1, idempotency_key=key())
    assert exc.value.code == "permission_denied"
    assert_ledger_ok()
