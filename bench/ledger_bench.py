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

The issue's size is the default: 1M entries over 100k customers. Through the services a
2-core machine posts 50-150 entries per second (each posting is one durable transaction of
about 16 statements), which would take hours; so the million is written set-based in SQL
(``bulk_load``: the very rows the services write -- entries, lines, lots, allocations and
balances, in the same shapes, with FIFO allocations computed as ``consume_fifo`` does), and
the postings per second are timed through the real services for ``--sample-customers`` more
customers *on top of* that ledger. ``ledger_check`` then verifies every invariant over all of
it, the bulk rows included. ``--through-services`` posts everything through the services
instead (give it hours at 1M, or pass a smaller ``--entries``).
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


# --- Bulk load -----------------------------------------------------------------------------
def fifo_pattern(lots: int, spends: int, spend_points: int) -> list[list[tuple[int, int]]]:
    """For every spend, the (lot index, points) it takes: lots of LOT_POINTS each, consumed in
    expiry order (lot i is earned in month i, so index order), as ``consume_fifo`` does."""
    remaining = [LOT_POINTS] * lots
    pattern = []
    for _ in range(spends):
        left, takes = spend_points, []
        for i in range(lots):
            take = min(left, remaining[i])
            if take:
                remaining[i] -= take
                takes.append((i, take))
                left -= take
        if left:
            raise ValueError("the spends take more than the lots hold")
        pattern.append(takes)
    return pattern


def bulk_load(connection, customer_ids: list[int], lots: int, spends: int, spend_points: int) -> int:
    """Write, set-based in SQL, exactly the rows the services would write for these customers:
    per customer ``lots`` earns (bank-funded pending lots), their ``make_available`` entries
    and ``spends`` spends at one of MERCHANTS merchants, FIFO over the lots with their
    ``LotAllocation`` rows, and the stored balances that result. Nothing is taken on trust:
    ``ledger_check`` afterwards verifies every invariant over these rows as over any others.
    Returns the number of entries written."""
    from django.conf import settings

    from points import services
    from points.models import PointsAccount
    from points.services.ledger import lot_expires_at

    bank = services.system_account(kind=PointsAccount.Kind.BANK_ISSUANCE).pk
    clearing = {m: services.system_account(kind=PointsAccount.Kind.CLEARING, merchant_id=m).pk
                for m in range(1, MERCHANTS + 1)}
    earned = [earn_at(i) for i in range(lots)]
    available = [at + timedelta(days=settings.ALLIANCE_POINTS_PENDING_DAYS) for at in earned]
    expires = [lot_expires_at(at) for at in earned]
    release_at = earn_at(lots - 1) + timedelta(days=30)
    spend_at = earn_at(lots - 1) + timedelta(days=40)
    pattern = fifo_pattern(lots, spends, spend_points)
    left = [LOT_POINTS] * lots
    for takes in pattern:
        for i, p in takes:
            left[i] -= p
    per = 2 * lots + spends  # entries per customer
    balance = LOT_POINTS * lots - spend_points * spends
    allocations = [(j, i, p) for j, takes in enumerate(pattern) for i, p in takes]

    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) + 1 FROM points_journalentry")
        e0 = cur.fetchone()[0]
        cur.execute("SELECT coalesce(max(id), 0) + 1 FROM points_pointslot")
        l0 = cur.fetchone()[0]
        # customers, numbered n = 0.. in id order, with their accounts
        cur.execute(
            "INSERT INTO points_pointsaccount (kind, customer_id, merchant_id, balance, pending, "
            "created_at) SELECT 'customer', u, NULL, %s, 0, now() FROM unnest(%s::bigint[]) u",
            [balance, customer_ids],
        )
        cur.execute("DROP TABLE IF EXISTS bench_c")
        cur.execute(
            "CREATE TEMP TABLE bench_c AS SELECT (row_number() OVER (ORDER BY customer_id) - 1) "
            "AS n, id AS account, customer_id AS uid FROM points_pointsaccount "
            "WHERE kind = 'customer' AND customer_id = ANY(%s)", [customer_ids],
        )
        cur.execute("DROP TABLE IF EXISTS bench_clearing")
        cur.execute("CREATE TEMP TABLE bench_clearing (merchant bigint, account bigint)")
        cur.executemany("INSERT INTO bench_clearing VALUES (%s, %s)", list(clearing.items()))
        lot_table = ("(SELECT i, e, a, x, r FROM unnest(%s::int[], %s::timestamptz[], "
                     "%s::timestamptz[], %s::timestamptz[], %s::int[]) AS t(i, e, a, x, r))")
        lot_args = [list(range(lots)), earned, available, expires, left]
        entry = ("INSERT INTO points_journalentry (id, idempotency_key, kind, reason, actor_id, "
                 "reference_type, reference_id, merchant_id, reverses_id, posted_at, created_at) ")
        # earns: entry n*per + i
        cur.execute(
            entry + "SELECT %s + c.n * %s + t.i, 'bulk:earn:' || c.uid || ':' || t.i, 'earn', '', "
            "NULL, 'payment', c.uid * 100 + t.i, 1 + c.uid %% %s, NULL, t.e, now() "
            f"FROM bench_c c CROSS JOIN {lot_table} t",
            [e0, per, MERCHANTS, *lot_args],
        )
        # lots: lot n*lots + i, made by earn n*per + i
        cur.execute(
            "INSERT INTO points_pointslot (id, account_id, funder_id, source_entry_id, "
            "original_points, remaining_points, state, earned_at, available_at, expires_at) "
            "SELECT %s + c.n * %s + t.i, c.account, %s, %s + c.n * %s + t.i, %s, t.r, "
            f"'available', t.e, t.a, t.x FROM bench_c c CROSS JOIN {lot_table} t",
            [l0, lots, bank, e0, per, LOT_POINTS, *lot_args],
        )
        # releases: entry n*per + lots + i, one per lot
        cur.execute(
            entry + "SELECT %s + c.n * %s + %s + t.i, 'release:lot:' || (%s + c.n * %s + t.i), "
            "'make_available', 'pending period over', NULL, 'lot', %s + c.n * %s + t.i, NULL, "
            f"NULL, %s, now() FROM bench_c c CROSS JOIN {lot_table} t",
            [e0, per, lots, l0, lots, l0, lots, release_at, *lot_args],
        )
        # spends: entry n*per + 2*lots + j
        cur.execute(
            entry + "SELECT %s + c.n * %s + %s + j, 'bulk:spend:' || c.uid || ':' || j, 'spend', "
            "'', NULL, 'payment', c.uid * 100 + j, 1 + (c.uid + j) %% %s, NULL, %s, now() "
            "FROM bench_c c CROSS JOIN generate_series(0, %s) j",
            [e0, per, 2 * lots, MERCHANTS, spend_at, spends - 1],
        )
        line = "INSERT INTO points_journalline (entry_id, account_id, bucket, amount, lot_id) "
        lot_id = "%s + c.n * %s + t.i"
        cur.execute(  # earn: the bank pays, the customer's pending lot receives
            line + f"SELECT %s + c.n * %s + t.i, %s, 'available', -%s, NULL FROM bench_c c "
            f"CROSS JOIN {lot_table} t UNION ALL "
            f"SELECT %s + c.n * %s + t.i, c.account, 'pending', %s, {lot_id} FROM bench_c c "
            f"CROSS JOIN {lot_table} t",
            [e0, per, bank, LOT_POINTS, *lot_args, e0, per, LOT_POINTS, l0, lots, *lot_args],
        )
        cur.execute(  # release: pending -> available on the same lot
            line + f"SELECT %s + c.n * %s + %s + t.i, c.account, b.bucket, b.sign * %s, {lot_id} "
            f"FROM bench_c c CROSS JOIN {lot_table} t CROSS JOIN "
            "(VALUES ('pending', -1), ('available', 1)) AS b(bucket, sign)",
            [e0, per, lots, LOT_POINTS, l0, lots, *lot_args],
        )
        alloc_table = "(SELECT j, i, p FROM unnest(%s::int[], %s::int[], %s::int[]) AS a(j, i, p))"
        alloc_args = [[a[0] for a in allocations], [a[1] for a in allocations],
                      [a[2] for a in allocations]]
        cur.execute(  # spend: the customer's lots pay (FIFO), the merchant's clearing receives
            line + "SELECT %s + c.n * %s + %s + a.j, c.account, 'available', -a.p, "
            f"%s + c.n * %s + a.i FROM bench_c c CROSS JOIN {alloc_table} a UNION ALL "
            "SELECT %s + c.n * %s + %s + j, k.account, 'available', %s, NULL FROM bench_c c "
            "CROSS JOIN generate_series(0, %s) j "
            "JOIN bench_clearing k ON k.merchant = 1 + (c.uid + j) %% %s",
            [e0, per, 2 * lots, l0, lots, *alloc_args,
             e0, per, 2 * lots, spend_points, spends - 1, MERCHANTS],
        )
        cur.execute(
            "INSERT INTO points_lotallocation (entry_id, lot_id, points, refunded_points) "
            f"SELECT %s + c.n * %s + %s + a.j, %s + c.n * %s + a.i, a.p, 0 FROM bench_c c "
            f"CROSS JOIN {alloc_table} a",
            [e0, per, 2 * lots, l0, lots, *alloc_args],
        )
        # the system accounts' stored balances move by what the lines put on them
        cur.execute(
            "UPDATE points_pointsaccount a SET balance = a.balance + s.total FROM "
            "(SELECT account_id, sum(amount) AS total FROM points_journalline "
            " WHERE entry_id >= %s AND account_id IN (SELECT id FROM points_pointsaccount "
            " WHERE kind <> 'customer') GROUP BY account_id) s WHERE a.id = s.account_id",
            [e0],
        )
        for table in ("points_journalentry", "points_pointslot"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    return len(customer_ids) * per


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
    parser.add_argument("--entries", type=int, default=1_000_000, help="journal entries (about)")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--sample-customers", type=int, default=2_000,
                        help="customers whose postings go through the services on top of the "
                             "bulk-loaded ledger, to time them")
    parser.add_argument("--through-services", action="store_true",
                        help="post every entry through the services (no bulk load; hours at 1M)")
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
    next_phone = customers  # the next bench customer's phone offset
    if args.through_services:
        timed = ids
    else:
        t0 = time.perf_counter()
        n_bulk = bulk_load(connection, ids, lots, spends, spend_points)
        print(f"bulk     {n_bulk:>9,} entries  {time.perf_counter() - t0:7.1f} s  set-based SQL "
              "writing the rows the services would (checked by ledger_check below)")
        timed = make_customers(next_phone, args.sample_customers)
        next_phone += args.sample_customers
        print(f"through the services, on top of that ledger: {len(timed):,} more customers")

    t0 = time.perf_counter()
    n_earn = run_earns(timed, lots, tag="main")
    t_earn = time.perf_counter() - t0
    print(f"earn     {n_earn:>9,} entries  {t_earn:7.1f} s  {n_earn / t_earn:8,.0f} postings/s")

    t0 = time.perf_counter()
    n_rel = run_releases(timed, lots)
    t_rel = time.perf_counter() - t0
    print(f"release  {n_rel:>9,} entries  {t_rel:7.1f} s  {n_rel / t_rel:8,.0f} postings/s "
          f"(one transaction per account, {lots} entries each)")

    t0 = time.perf_counter()
    n_spend = run_spends(timed, lots, spends, spend_points)
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
          + ("" if entries == 1_000_000 else f" (scaled linearly from {entries:,} entries)"))

    if args.contention_customers > 0:
        m = args.contention_customers
        hot_lots = 3
        print(f"hot row: earns of {hot_lots} lots for {m:,} customers per process "
              "(disjoint customers)")
        g1, g2, g3, g4, g5 = (make_customers(next_phone + k * m, m) for k in range(5))
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
