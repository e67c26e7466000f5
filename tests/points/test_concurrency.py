"""The ledger under concurrent requests (PostgreSQL: real connections and row locks)."""

import threading

import pytest

from alliance.errors import ApplicationError
from points import services
from points.models import JournalEntry, PointsAccount
from points.selectors import customer_balance, ledger_check
from points.services import Line

from .conftest import sh
from .factories import earn_available

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
NOW = sh(2026, 4, 1, 12, 0)


def run_at_once(calls) -> list:
    """Run each callable in its own thread (own connection), released together."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(i, call):
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            results[i] = call()
        except ApplicationError as exc:
            results[i] = exc.code
        except Exception as exc:  # noqa: BLE001 - reported by the assertions
            results[i] = exc
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_fifty_concurrent_spends_never_overdraw(customer):
    # several lots, so each spend walks FIFO while others wait for the account lock
    for month in (1, 2, 3, 4):
        earn_available(customer, 50, now=sh(2026, month, 5))
    results = run_at_once([
        (lambda n=n: services.points_spend(
            customer_id=customer.pk, points=10, idempotency_key=f"spend:{n}", merchant_id=1,
            now=sh(2026, 5, 1)))
        for n in range(50)
    ])
    spent = [r for r in results if isinstance(r, JournalEntry)]
    assert len(spent) == 20
    assert [r for r in results if not isinstance(r, JournalEntry)] == ["points_insufficient"] * 30
    assert customer_balance(customer_id=customer.pk) == (0, 0)
    assert services.system_account(kind=PointsAccount.Kind.CLEARING, merchant_id=1).balance == 200
    report = ledger_check()
    assert report.ok, report.breaks


def test_the_same_key_posted_twice_at_once_gives_one_entry(customer):
    earn_available(customer, 100, now=NOW)
    results = run_at_once([
        lambda: services.points_spend(customer_id=customer.pk, points=30,
                                      idempotency_key="pay:77:points", now=NOW)
        for _ in range(2)
    ])
    assert all(isinstance(r, JournalEntry) for r in results), results
    assert results[0].pk == results[1].pk
    assert JournalEntry.objects.filter(idempotency_key="pay:77:points").count() == 1
    assert customer_balance(customer_id=customer.pk) == (70, 0)


def test_the_same_earn_posted_at_once_gives_one_entry(customer):
    results = run_at_once([
        lambda: services.points_earn(customer_id=customer.pk, base_points=40,
                                     idempotency_key="pay:78:earn", now=NOW)
        for _ in range(5)
    ])
    assert len({r.pk for r in results}) == 1, results
    assert customer_balance(customer_id=customer.pk) == (0, 40)
    assert ledger_check().ok


def test_the_same_system_posting_at_once_gives_one_entry(db):
    a = services.system_account(kind=PointsAccount.Kind.CLEARING, merchant_id=1)
    b = services.system_account(kind=PointsAccount.Kind.CLEARING, merchant_id=2)
    lines = [Line(account_id=a.pk, amount=-5), Line(account_id=b.pk, amount=5)]
    results = run_at_once([
        lambda: services.points_post(lines=lines, idempotency_key="settle:x", reason="s", now=NOW)
        for _ in range(4)
    ])
    assert len({r.pk for r in results}) == 1, results
    a.refresh_from_db()
    assert a.balance == -5


def test_refunds_and_spends_on_one_account_at_once_keep_the_ledger(customer):
    earn_available(customer, 100, now=NOW)
    spends = [services.points_spend(customer_id=customer.pk, points=10,
                                    idempotency_key=f"s{n}", now=NOW) for n in range(5)]
    calls = [
        (lambda e=e: services.points_refund_spend(spend_entry_id=e.pk, idempotency_key=f"r{e.pk}",
                                                  now=NOW))
        for e in spends
    ] + [
        (lambda n=n: services.points_spend(customer_id=customer.pk, points=20,
                                           idempotency_key=f"t{n}", now=NOW))
        for n in range(6)
    ]
    results = run_at_once(calls)
    assert not [r for r in results if isinstance(r, Exception)], results
    balance, _ = customer_balance(customer_id=customer.pk)
    assert balance >= 0
    assert balance == 100 - 20 * sum(
        isinstance(r, JournalEntry) and r.kind == "spend" for r in results[5:]
    )
    report = ledger_check()
    assert report.ok, report.breaks


def test_concurrent_reversals_of_one_earn_never_take_back_more_than_it_earned(customer):
    from points.models import EarnReversal

    entry = earn_available(customer, 100, now=NOW)
    later = sh(2026, 5, 1)
    calls = [
        (lambda n=n: services.points_reverse_earn(
            earn_entry_id=entry.pk, points=30, idempotency_key=f"rev:{n}", now=later))
        for n in range(5)
    ]
    # the same key twice at once: one reversal
    calls += [
        (lambda: services.points_reverse_earn(
            earn_entry_id=entry.pk, points=10, idempotency_key="rev:twin", now=later))
        for _ in range(2)
    ]
    results = run_at_once(calls)
    done = [r for r in results if isinstance(r, EarnReversal)]
    refused = [r for r in results if not isinstance(r, EarnReversal)]
    assert set(refused) <= {"points_reverse_exceeds_earn"}
    assert EarnReversal.objects.filter(idempotency_key="rev:twin").count() == 1
    assert sum(r.points for r in EarnReversal.objects.all()) <= 100
    taken = sum(r.taken for r in EarnReversal.objects.all())
    assert customer_balance(customer_id=customer.pk) == (100 - taken, 0)
    # 30 + 30 + 30 + 10 = 100 fits exactly: 3 of the 30s and the twin, whatever the order
    assert taken == 100 and len(refused) == 2 and len(done) == 5
    assert ledger_check().ok
