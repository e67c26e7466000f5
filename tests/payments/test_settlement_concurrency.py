"""Settlement runs at once on PostgreSQL: real connections in threads, started together. Two
runs of a day give one batch; runs of two days never settle an order twice."""

from __future__ import annotations

import threading

import pytest

from alliance.errors import ApplicationError
from payments.models import SettlementBatch, SettlementItem
from payments.services.settlement import settlement_run

from .test_settlement import D1, D, at, paid

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def together(*calls) -> list:
    """Run each call on its own thread (its own connection), released by one barrier; the
    result or the error code of each, in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        from django.db import connection as own

        try:
            barrier.wait()
            try:
                results[i] = call()
            except ApplicationError as exc:
                results[i] = exc.code
        finally:
            own.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_runs_of_a_day_at_once_give_one_batch(payer, qr, other_qr):
    orders = [paid(payer, qr, 1000 * n, when=at(D, 9 + n)) for n in range(1, 6)]
    orders.append(paid(payer, other_qr, 700, when=at(D, 15)))

    first, second = together(*[lambda: settlement_run(day=D)] * 2)

    assert isinstance(first, SettlementBatch) and isinstance(second, SettlementBatch)
    assert first.pk == second.pk
    assert SettlementBatch.objects.count() == 1
    assert SettlementItem.objects.count() == len(orders)
    batch = SettlementBatch.objects.get()
    assert batch.gross_fen == 15_000 + 700
    assert sorted(batch.audit.values_list("action", flat=True)) == ["rerun", "run"]


def test_runs_of_two_days_at_once_settle_each_order_once(payer, qr):
    """D was never run; D and D+1 start together. Whichever locks first decides: D then D+1,
    or D+1 alone (taking D's orders) and D refused as passed. Never an order twice."""
    day_d = [paid(payer, qr, 1000, when=at(D, 10 + n)) for n in range(3)]
    day_d1 = [paid(payer, qr, 2000, when=at(D1, 10 + n)) for n in range(2)]

    results = together(lambda: settlement_run(day=D), lambda: settlement_run(day=D1))

    assert results[1] != "settlement_day_passed"
    assert results[0] in ("settlement_day_passed",) or isinstance(results[0], SettlementBatch)
    for order in day_d + day_d1:
        assert SettlementItem.objects.filter(order=order).count() == 1
    assert sum(SettlementBatch.objects.values_list("gross_fen", flat=True)) == 3000 + 4000
