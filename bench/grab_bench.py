#!/usr/bin/env python
"""Benchmark of a flash sale (抢券): 2,000 customers claim a coupon of stock 100 at once, over
HTTP, against the app under gunicorn on PostgreSQL.

Setup, through the project's services (``tests/merchants/factories.py`` and
``tests/coupons/factories.py``): a branch, a branch officer, an approved merchant with a store
in its grid, and for every run fresh LIVE templates (create -> submit -> approve -> publish).
The customers (users with role ``customer``) and their DRF tokens are bulk-created once and
reused by later runs. Then gunicorn serves ``alliance.wsgi`` with the production settings
(DEBUG off) and production's ``gunicorn.conf.py`` (sync workers, two per core) on a free local
port, and a load generator in other processes (4 processes x 50 threads = 200 clients, each
with its own keep-alive ``http.client`` connection, re-opened when a sync worker closes it) runs:

1. warm-up: ``GET /api/health/`` (every worker thread opens its database connection);
2. trivial: ``GET /api/health/`` (one ``SELECT 1``), the yardstick for the claim figures;
3. the flash sale: 2,000 ``POST /api/coupons/templates/<id>/claim/`` (one per customer, with
   ``Authorization: Token`` and a fresh ``Idempotency-Key``) on a template of stock 100 and
   limit 1; expected 100 x 201 and 1,900 x 409 ``coupon_out_of_stock``. Checked in the
   database: 100 coupons, ``stock_left == 0``, at most one coupon per customer, and the
   customers who got a 201 are exactly those holding a coupon;
4. winners only: the same 2,000 customers claim a template whose stock covers them all;
5. sold-out only: the 2,000 customers claim the sold-out template again (new keys);
6. trivial again (the machine may have drifted).

It prints claims per second, p50/p99 latency for winners and for losers, the throughput of the
trivial endpoint, the ratios claim/trivial for winners and for sold-out answers against the
targets, and the CPU seconds spent by the server, the database and the load generator.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/alliance_bench_grab \\
        .venv/bin/python bench/grab_bench.py [--worker-class sync|gthread|both]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _benchdb import (  # noqa: E402
    bench_world,
    customers_with_tokens,
    pct,
)
from _http import (  # noqa: E402
    BASE_HEADERS,
    LoadGenerator,
    Server,
    health_jobs,
    start,
    timed_phase,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/alliance_bench_grab"
BRANCH_CODE = "BG001"
OFFICER = "bench-grab-officer"
MERCHANT_NAME = "Bench Grab Tea House"
PHONE_BASE = 13_700_000_000  # bench customers: +8613700000000 upwards
STOCK = 100
TARGET_WINNER_RATIO = 0.5
TARGET_SOLD_OUT_RATIO = 0.8
TARGET_P99_MS = 300.0
OUT_OF_STOCK = "coupon_out_of_stock"


# --- The world, through the services -----------------------------------------------------------
def world():
    """(branch officer, merchant owner): made on the first run through the services, reused."""
    return bench_world(branch_code=BRANCH_CODE, officer_username=OFFICER, merchant_name=MERCHANT_NAME)


def fresh_template(owner, officer, *, title: str, stock: int):
    """A LIVE template of this run: create -> submit -> approve (officer) -> publish."""
    from tests.coupons.factories import live_template

    return live_template(
        owner=owner, reviewer=officer, title=title, total_stock=stock, per_customer_limit=1
    )


def check_flash_sale(template_id: int, winners_by_http: set[int]) -> list[str]:
    """What the database says after the flash sale; returns the failed checks."""
    from django.db.models import Count

    from coupons.models import Coupon, CouponTemplate

    template = CouponTemplate.objects.get(pk=template_id)
    coupons = Coupon.objects.filter(template_id=template_id)
    held = coupons.count()
    most = coupons.values("customer").annotate(n=Count("pk")).order_by("-n").first()
    holders = set(coupons.values_list("customer_id", flat=True))
    print(
        f"  database: {held} coupons, stock_left {template.stock_left}, "
        f"oversold {max(held - STOCK, 0)}, most coupons held by one customer "
        f"{most['n'] if most else 0}"
    )
    failures = []
    if held != STOCK:
        failures.append(f"{held} coupons in the database, expected {STOCK}")
    if template.stock_left != 0:
        failures.append(f"stock_left is {template.stock_left}, expected 0")
    if most and most["n"] > 1:
        failures.append(f"a customer holds {most['n']} coupons of the template")
    if holders != winners_by_http:
        failures.append(
            f"{len(holders - winners_by_http)} holders without a 201, "
            f"{len(winners_by_http - holders)} 201s without a coupon"
        )
    return failures


def claim_jobs(template_id: int, customers: list[tuple[int, str]]) -> list:
    path = f"/api/coupons/templates/{template_id}/claim/"
    return [
        (
            "POST",
            path,
            {**BASE_HEADERS, "Authorization": f"Token {key}", "Idempotency-Key": str(uuid.uuid4())},
            pk,
        )
        for pk, key in customers
    ]


def mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def run_config(url, args, customers, officer, owner, worker_class: str) -> dict:
    label = f"{args.workers} {worker_class} workers" + (
        f" x {args.threads} threads" if worker_class == "gthread" else ""
    )
    print(f"\n== gunicorn, {label} ==")
    stamp = time.strftime("%H%M%S")
    flash = fresh_template(owner, officer, title=f"Flash sale {stamp} {worker_class}", stock=STOCK)
    plenty = fresh_template(
        owner, officer, title=f"Plenty {stamp} {worker_class}", stock=len(customers)
    )
    print(
        f"  templates: flash sale #{flash.pk} (stock {STOCK}, limit 1), "
        f"winners-only #{plenty.pk} (stock {len(customers):,}); both LIVE"
    )
    from django.db import connections

    connections.close_all()  # the setup's connection stays idle during the phases
    server = Server(url, worker_class, args.workers, args.threads)
    gen = LoadGenerator(server.port, args.processes, args.threads_per_process)
    try:
        print(
            f"  server on 127.0.0.1:{server.port}; {gen.clients} clients "
            f"({args.processes} processes x {args.threads_per_process} threads)"
        )
        gen.run(health_jobs(gen.clients * 3))  # warm-up: connections, imports, caches
        trivial1 = timed_phase("trivial", gen, server, health_jobs(args.trivial))
        sale = timed_phase("flash sale", gen, server, claim_jobs(flash.pk, customers))
        winners = timed_phase("winners", gen, server, claim_jobs(plenty.pk, customers))
        sold_out = timed_phase("sold out", gen, server, claim_jobs(flash.pk, customers))
        trivial2 = timed_phase("trivial", gen, server, health_jobs(args.trivial))
    finally:
        gen.stop()
        server.stop()

    def won(r):  # 200: a resent claim answered with the coupon its key already got
        return r[1] in (200, 201)

    def lost(r):
        return r[1] == 409 and r[2] == OUT_OF_STOCK

    statuses = Counter((r[1], r[2]) for r in sale.rows)
    others = {
        k: v for k, v in statuses.items() if k not in ((200, ""), (201, ""), (409, OUT_OF_STOCK))
    }
    successes = statuses[(201, "")] + statuses[(200, "")]
    print(
        f"  flash sale: {len(sale.rows):,} claims in {sale.wall:.2f} s = "
        f"{sale.rate:,.0f} claims/s; {successes} x 201 (200 if resent), {statuses[(409, OUT_OF_STOCK)]:,} "
        f"x 409 {OUT_OF_STOCK}, other answers {dict(others) or 'none'}, "
        f"{sale.retries} resent"
    )
    print(sale.line("winners (201)", won))
    print(sale.line("losers (409 out of stock)", lost))
    print(sale.cpu_line())
    failures = check_flash_sale(flash.pk, {r[0] for r in sale.rows if won(r)})
    if successes != STOCK:
        failures.append(f"{successes} successes, expected {STOCK}")
    if others:
        failures.append(f"unexpected answers {dict(others)}")

    trivial_rate = (trivial1.rate + trivial2.rate) / 2
    w_ok = [r for r in winners.rows if won(r)]
    s_ok = [r for r in sold_out.rows if lost(r)]
    if len(w_ok) != len(winners.rows):
        failures.append(f"winners-only phase: {Counter(r[1:3] for r in winners.rows)}")
    if len(s_ok) != len(sold_out.rows):
        failures.append(f"sold-out phase: {Counter(r[1:3] for r in sold_out.rows)}")
    print(f"  throughput, {gen.clients} clients each on its own keep-alive connection:")
    print(trivial1.line("GET /api/health/ (SELECT 1)", rate=trivial1.rate))
    print(trivial1.cpu_line())
    print(winners.line("claim, every one wins", won, rate=winners.rate))
    print(winners.cpu_line())
    print(sold_out.line("claim, sold out (409)", lost, rate=sold_out.rate))
    print(sold_out.cpu_line())
    print(trivial2.line("GET /api/health/ again", rate=trivial2.rate))
    w_ratio = winners.rate / trivial_rate
    s_ratio = sold_out.rate / trivial_rate
    p99 = pct(sale.ms(), 99)
    print(
        f"  ratio winners / trivial   {w_ratio:5.2f}  (target >= {TARGET_WINNER_RATIO})  "
        f"{mark(w_ratio >= TARGET_WINNER_RATIO)}"
    )
    print(
        f"  ratio sold out / trivial  {s_ratio:5.2f}  (target >= {TARGET_SOLD_OUT_RATIO})  "
        f"{mark(s_ratio >= TARGET_SOLD_OUT_RATIO)}"
    )
    print(
        f"  flash-sale p99 (all claims) {p99:6.1f} ms at {gen.clients} clients "
        f"(target < {TARGET_P99_MS:.0f} ms)  {mark(p99 < TARGET_P99_MS)}"
    )
    print("  correctness: " + ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
    return {
        "label": label,
        "failures": failures,
        "sale": sale.rate,
        "trivial": trivial_rate,
        "winners": winners.rate,
        "sold_out": sold_out.rate,
        "p99": p99,
    }


def wait_for_endpoint(timeout: float) -> bool:
    """The claim endpoint may still be being written: wait (in a fresh interpreter each time,
    so new code is seen) until its path resolves."""
    probe = (
        "import django; django.setup(); from django.urls import resolve; "
        "resolve('/api/coupons/templates/1/claim/')"
    )
    deadline = time.monotonic() + timeout
    while True:
        done = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, env=dict(os.environ), capture_output=True
        )
        if done.returncode == 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument(
        "--worker-class",
        choices=["gthread", "sync", "both"],
        default="sync",
        help="sync: production's (gunicorn.conf.py)",
    )
    parser.add_argument(
        "--workers", type=int, default=2 * (os.cpu_count() or 1), help="production's: 2 per core"
    )
    parser.add_argument("--threads", type=int, default=8, help="threads per gthread worker")
    parser.add_argument("--processes", type=int, default=4, help="load generator processes")
    parser.add_argument("--threads-per-process", type=int, default=50)
    parser.add_argument("--trivial", type=int, default=4000, help="requests of the trivial phase")
    parser.add_argument(
        "--wait", type=float, default=0, help="seconds to wait for the claim endpoint to exist"
    )
    args = parser.parse_args()

    url, _connection = start(
        "grab_bench", DEFAULT_DATABASE_URL, sharing="the server, PostgreSQL and the load generator"
    )
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    officer, owner = world()
    customers = customers_with_tokens(args.customers, phone_base=PHONE_BASE)
    print(f"  setup in {time.perf_counter() - t0:.1f} s: {len(customers):,} customers with tokens")
    if not wait_for_endpoint(args.wait):
        sys.exit("POST /api/coupons/templates/<id>/claim/ does not exist (yet): nothing to time")

    classes = ["gthread", "sync"] if args.worker_class == "both" else [args.worker_class]
    results = [run_config(url, args, customers, officer, owner, wc) for wc in classes]
    if len(results) > 1:
        print("\n== worker classes ==")
        for r in results:
            print(
                f"  {r['label']:<28} flash sale {r['sale']:6,.0f}/s  trivial "
                f"{r['trivial']:6,.0f}/s  winners {r['winners']:6,.0f}/s  sold out "
                f"{r['sold_out']:6,.0f}/s  p99 {r['p99']:6.1f} ms"
            )
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if any(r["failures"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
