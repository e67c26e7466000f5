#!/usr/bin/env python
"""Benchmark of the points ledger on PostgreSQL, through the real services.

It posts entries over many customers the way production does -- ``points_earn`` (pending lots
funded by the bank's issuance account), ``points_release_pending`` (one ``make_available``
entry per lot) and ``points_spend`` (FIFO over several lots, at one of 100 merchants) -- and
prints:

* postings per second for earn, release and spend (one process);
* the time of the full invariant check (``points.selectors.ledger_check``);
* the ledger's size on disk (``pg_total_relation_size`` of the points tables), and that size
  scaled linearly to one million entries (an *extrapolation* unless ``--entries 1000000``);
* the hot-row effect: every earn locks the bank issuance account row, so earns from two
  processes queue on it. A short extra run times 1 process against 2 processes earning for
  disjoint customers, once funded by the bank (one hot row) and once funded by a different
  merchant account per process (no shared row) as the control.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/alliance_ledger_bench \\
        .venv/bin/python bench/ledger_bench.py [--entries 100000 --customers 10000]

The bench database is scratch: created if missing, migrated with ``call_command("migrate")``
under ``alliance.settings.test``, and its points and user tables are emptied at the start.
The issue asks for 1M entries over 100k customers; through the services on a 2-core machine
runs at 50-150 postings per second (each posting is one durable transaction of about 16
statements; slower when the machine is busy), so the default is 10k entries over 1k customers
(about five minutes on a quiet machine); pass
``--entries 1000000 --customers 100000`` on a bigger machine, or give it hours.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _benchdb import ensure_database, setup_django  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/alliance_ledger_bench"
SHANGHAI = ZoneInfo("Asia/Shanghai")
LOT_POINTS = 100
MERCHANTS = 100
PHONE_BASE = 13_900_000_000  # bench customers: +8613900000000 upwards
POINTS_TABLES = [
    "points_journalentry",
    "points_journalline",
    "points_pointslot",
    "points_lotallocation",
    "points_pointsaccount",
]


# --- Database --------------------------------------------------------------------------------
def reset(connection) -> None:
    """Empty the ledger and the users (TRUNCATE is not a row operation: the immutability
    triggers do not fire)."""
    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE points_lotallocation, points_journalline, points_pointslot, "
            "points_journalentry, points_pointsaccount, accounts_user RESTART IDENTITY CASCADE"
        )


def make_customers(first: int, count: int) -> list[int]:
    """Customers in bulk (users are not the subject here); returns their ids."""
    from accounts.models import User

    users = [
        User(phone=f"+86{PHONE_BASE + first + i}", role="customer", password="!")
        for i in range(count)
    ]
    ids = []
    for start in range(0, len(users), 5000):
        ids += [u.pk for u in User.objects.bulk_create(users[start:start + 5000])]
    return ids


# --- Work ------------------------------------------------------------------------------------
def earn_at(i: int) -> datetime:
    """Lot i of a customer is earned in month i (2026-01, 02...), so expiries differ."""
    return datetime(2026 + i // 12, i % 12 + 1, 5, 12, 0, tzinfo=SHANGHAI)


def run_earns(customer_ids: list[int], lots: int, *, tag: str, merchant_id: int | None = None) -> int:
    """``lots`` earns per customer, round-robin over customers. ``merchant_id``: fund the
    points from that merchant's account instead of the bank's issuance account."""
    from points import services

    n = 0
    for i in range(lots):
        at = earn_at(i)
        for cid in customer_ids:
            if merchant_id is None:
                services.points_earn(
                    customer_id=cid, base_points=LOT_POINTS, merchant_id=1 + cid % MERCHANTS,
                    idempotency_key=f"{tag}:earn:{cid}:{i}", reference_id=cid * 100 + i, now=at,
                )
            else:
                services.points_earn(
                    customer_id=cid, base_points=0, merchant_funded_points=LOT_POINTS,
                    merchant_id=merchant_id, idempotency_key=f"{tag}:earn:{cid}:{i}",
                    reference_id=cid * 100 + i, now=at,
                )
            n += 1
    return n


def run_releases(customer_ids: list[int], lots: int) -> int:
    from points import services
    from points.models import PointsAccount

    at = earn_at(lots - 1) + timedelta(days=30)
    accounts = dict(
        PointsAccount.objects.filter(kind="customer", customer_id__in=customer_ids)
        .values_list("customer_id", "pk")
    )
    return sum(len(services.points_release_pending(account_id=accounts[c], now=at)) for c in customer_ids)


def run_spends(customer_ids: list[int], lots: int, spends: int, spend_points: int) -> int:
    from points import services

    at = earn_at(lots - 1) + timedelta(days=40)
    n = 0
    for j in range(spends):
        for cid in customer_ids:
            services.points_spend(
                customer_id=cid, points=spend_points, merchant_id=1 + (cid + j) % MERCHANTS,
                idempotency_key=f"spend:{cid}:{j}", reference_id=cid * 100 + j, now=at,
            )
            n += 1
    return n


def _worker(url: str, customer_ids: list[int], lots: int, tag: str, merchant_id, start_at: float, out):
    setup_django(url, bench="ledger_bench")
    while time.time() < start_at:  # start together
        time.sleep(0.005)
    t0 = time.perf_counter()
    n = run_earns(customer_ids, lots, tag=tag, merchant_id=merchant_id)
    out.put((n, time.perf_counter() - t0))


def parallel_earns(url, groups: list[list[int]], lots: int, tag: str, merchant_ids) -> tuple[float, float]:
    """Earns from one process per group, started together. Returns postings per second and the
    share of samples in which some backend was waiting for a row lock."""
    from django.db import connections

    connections.close_all()  # no inherited connection in the children
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3.0
    procs = [
        ctx.Process(target=_worker, args=(url, g, lots, f"{tag}{k}", merchant_ids[k], start_at, out))
        for k, g in enumerate(groups)
    ]
    for p in procs:
        p.start()
    # Sample, while they run, how often a backend of this database waits for a row lock.
    from django.db import connection

    results, samples, waiting = [], 0, 0
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=0.02))
        except queue.Empty:
            pass
        if time.time() < start_at:
            continue
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            samples += 1
            waiting += cur.fetchone()[0] > 0
    for p in procs:
        p.join()
    total = sum(n for n, _ in results)
    wall = max(t for _, t in results)
    return total / wall, waiting / max(samples, 1)


# --- Report ----------------------------------------------------------------------------------
def ledger_size_bytes(connection) -> dict[str, int]:
    with connection.cursor() as cur:
        return {
            t: cur.execute("SELECT pg_total_relation_size(%s)", [t]).fetchone()[0]
            for t in POINTS_TABLES
        }


def mb(n: float) -> str:
    return f"{n / 1024 / 1024:,.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000, help="journal entries to post (about)")
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--contention-customers", type=int, default=100,
                        help="customers per process in the hot-row experiment (0: skip it)")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    ensure_database(url)
    connection = setup_django(url, bench="ledger_bench")
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    reset(connection)

    # Per customer: L earns (one lot each), L releases, S spends. Entries = C * (2L + S), with
    # about 40 % earns, 40 % releases, 20 % spends; each spend walks FIFO over 2-3 lots.
    customers = args.customers
    per_customer = max(args.entries // customers, 5)
    lots = max(2, round(per_customer * 0.4))
    spends = max(1, per_customer - 2 * lots)
    spend_points = LOT_POINTS * lots * 8 // 10 // spends
    planned = customers * (2 * lots + spends)

    with connection.cursor() as cur:
        server = cur.execute("SHOW server_version").fetchone()[0]
    print(f"ledger_bench on PostgreSQL {server}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"size: {customers:,} customers x ({lots} earns + {lots} releases + {spends} spends of "
          f"{spend_points} points) = {planned:,} entries"
          + ("" if planned == 1_000_000 else " (the issue asks for 1,000,000 over 100,000 customers)"))

    ids = make_customers(0, customers)

    t0 = time.perf_counter()
    n_earn = run_earns(ids, lots, tag="main")
    t_earn = time.perf_counter() - t0
    print(f"earn     {n_earn:>9,} entries  {t_earn:7.1f} s  {n_earn / t_earn:8,.0f} postings/s")

    t0 = time.perf_counter()
    n_rel = run_releases(ids, lots)
    t_rel = time.perf_counter() - t0
    print(f"release  {n_rel:>9,} entries  {t_rel:7.1f} s  {n_rel / t_rel:8,.0f} postings/s "
          f"(one transaction per account, {lots} entries each)")

    t0 = time.perf_counter()
    n_spend = run_spends(ids, lots, spends, spend_points)
    t_spend = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*)::float / count(DISTINCT entry_id) FROM points_lotallocation"
        )
        lots_per_spend = cur.fetchone()[0]
    print(f"spend    {n_spend:>9,} entries  {t_spend:7.1f} s  {n_spend / t_spend:8,.0f} postings/s "
          f"(FIFO, {lots_per_spend:.2f} lots per spend)")

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    from points.models import JournalEntry
    from points.selectors import ledger_check

    t0 = time.perf_counter()
    report = ledger_check()
    t_check = time.perf_counter() - t0
    print(f"ledger_check: {report.entries:,} entries, {report.accounts:,} accounts, "
          f"{report.lots:,} lots in {t_check:.1f} s -> "
          + ("OK" if report.ok else f"{len(report.breaks)} BREAKS: {report.breaks[:3]}"))

    sizes = ledger_size_bytes(connection)
    total = sum(sizes.values())
    entries = JournalEntry.objects.count()
    per_million = total / entries * 1_000_000
    print("size on disk (tables + indexes + TOAST, after VACUUM ANALYZE):")
    for table, size in sizes.items():
        print(f"  {table:<24} {mb(size):>12}")
    print(f"  {'total':<24} {mb(total):>12} for {entries:,} entries")
    print(f"  per million entries: {mb(per_million)}"
          + ("" if entries == 1_000_000 else f" (EXTRAPOLATED linearly from {entries:,} entries)"))

    if args.contention_customers > 0:
        m = args.contention_customers
        hot_lots = 3
        print(f"hot row: earns of {hot_lots} lots for {m:,} customers per process "
              "(disjoint customers)")
        g1 = make_customers(customers, m)
        g2 = make_customers(customers + m, m)
        g3 = make_customers(customers + 2 * m, m)
        g4 = make_customers(customers + 3 * m, m)
        g5 = make_customers(customers + 4 * m, m)
        one, w1 = parallel_earns(url, [g1], hot_lots, "solo", [None])
        two_hot, w2 = parallel_earns(url, [g2, g3], hot_lots, "hot", [None, None])
        two_cold, w3 = parallel_earns(url, [g4, g5], hot_lots, "cold", [900_001, 900_002])
        print(f"  {'':34} {'postings/s':>10}  {'vs 1':>5}  time with a backend waiting on a row lock")
        print(f"  {'1 process,   bank-funded':34} {one:10,.0f}  x1.00  {w1:6.0%}")
        print(f"  {'2 processes, bank-funded (1 row)':34} {two_hot:10,.0f}  x{two_hot / one:.2f}  {w2:6.0%}")
        print(f"  {'2 processes, own funder each':34} {two_cold:10,.0f}  x{two_cold / one:.2f}  {w3:6.0%}")
        print("  (client and server share this machine's CPUs, so the control shows what two "
              "processes gain without the shared row)")
        report = ledger_check()
        print(f"  load average at the end: {os.getloadavg()[0]:.2f}")
        print("  ledger_check after the contention runs: "
              + ("OK" if report.ok else f"{len(report.breaks)} BREAKS"))


if __name__ == "__main__":
    main()
