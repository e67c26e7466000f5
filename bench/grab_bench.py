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
import http.client
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _benchdb import ensure_database, pct, setup_django  # noqa: E402

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


# --- Database and Django ------------------------------------------------------------------------
# --- The world, through the services -----------------------------------------------------------
def world():
    """(branch officer, merchant owner): made on the first run through the services, reused."""
    from accounts.models import User
    from branches.models import Branch
    from merchants.models import Merchant, MerchantStaff
    from tests.factories import BranchFactory, UserFactory
    from tests.merchants.factories import approved_merchant

    # The factories number phones from 0 in every process: start them past any bench row.
    UserFactory.reset_sequence(50_000_000 + User.objects.count())
    branch = Branch.objects.filter(code=BRANCH_CODE).first() or BranchFactory(
        code=BRANCH_CODE, name="Bench West Lake", lat=30.2590, lng=120.1640
    )
    officer = User.objects.filter(username=OFFICER).first() or UserFactory(
        role="branch_officer", username=OFFICER, branch=branch
    )
    merchant = Merchant.objects.filter(business_name=MERCHANT_NAME, status="active").first()
    if merchant is None:
        merchant = approved_merchant(reviewer=officer, business_name=MERCHANT_NAME)
        print(f"  made merchant {merchant.code} (application -> approval by {OFFICER})")
    owner = MerchantStaff.objects.get(merchant=merchant, role="owner").user
    return officer, owner


def customers_with_tokens(n: int) -> list[tuple[int, str]]:
    """(user id, token key) of n bench customers, bulk-created when missing."""
    from rest_framework.authtoken.models import Token

    from accounts.models import User

    phones = [f"+86{PHONE_BASE + i}" for i in range(n)]
    have = set(User.objects.filter(phone__in=phones).values_list("phone", flat=True))
    missing = [User(phone=p, role="customer", password="!") for p in phones if p not in have]
    if missing:
        User.objects.bulk_create(missing, batch_size=2000)
        print(f"  bulk-created {len(missing):,} customers")
    users = dict(User.objects.filter(phone__in=phones).values_list("pk", "phone"))
    with_token = set(Token.objects.filter(user_id__in=users).values_list("user_id", flat=True))
    new_tokens = [
        Token(key=Token.generate_key(), user_id=pk) for pk in users if pk not in with_token
    ]
    if new_tokens:
        Token.objects.bulk_create(new_tokens, batch_size=2000)
        print(f"  bulk-created {len(new_tokens):,} DRF tokens")
    order = {p: i for i, p in enumerate(phones)}
    tokens = dict(Token.objects.filter(user_id__in=users).values_list("user_id", "key"))
    return sorted(((pk, tokens[pk]) for pk in users), key=lambda t: order[users[t[0]]])


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


# --- The server ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(url: str) -> dict:
    """Production settings with bench values. The field-encryption key must be the one the
    setup wrote the merchant's settlement fields with (the claim reads the merchant row)."""
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="alliance.settings.production",
        DJANGO_SECRET_KEY="bench-grab-" + uuid.uuid4().hex + "-not-a-real-secret-but-long-enough",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=url,
        DJANGO_CELERY_BROKER_URL="redis://127.0.0.1:6379/15",  # never used by these endpoints
        DJANGO_SMS_BACKEND="accounts.sms.ConsoleBackend",
        DJANGO_FIELD_ENCRYPTION_KEY=settings.ALLIANCE_FIELD_ENCRYPTION_KEY,
    )
    return env


class Server:
    def __init__(self, url: str, worker_class: str, workers: int, threads: int):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            "w+", prefix=f"grab-gunicorn-{worker_class}-", suffix=".log", delete=False
        )
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "alliance.wsgi:application",
            "--config",
            str(ROOT / "gunicorn.conf.py"),  # production's; the options below override it
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--backlog",
            "2048",
            "--timeout",
            "60",
        ]
        if worker_class == "gthread":
            cmd += ["--threads", str(threads)]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=server_env(url), stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                self.log.seek(0)
                sys.exit("gunicorn did not start:\n" + self.log.read()[-3000:])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/health/", headers={"X-Forwarded-Proto": "https"})
                if conn.getresponse().status == 200:
                    conn.close()
                    break
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)

    def pids(self) -> list[int]:
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [self.proc.pid, *map(int, kids.read_text().split())]
        except OSError:
            return [self.proc.pid]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# --- CPU accounting (from /proc) ------------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
    return total


def postgres_cpu(dbname: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to the bench database."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            if f" {dbname} " not in (entry / "cmdline").read_text().replace("\0", " "):
                continue
        except OSError:
            continue
        found[int(entry.name)] = cpu_seconds([int(entry.name)])
    return found


def machine_busy() -> float:
    """Seconds of CPU the whole machine has spent (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    idle = int(fields[3]) + int(fields[4])
    return (sum(int(f) for f in fields[:8]) - idle) / _TICK


# --- The load generator (other processes) --------------------------------------------------------
def _client_thread(port: int, jobs, go: threading.Event, results: list) -> None:
    """One client: its own keep-alive connection; re-connects when the server closes it (sync
    workers close after every response) and retries a failed send with the same headers (the
    same Idempotency-Key: a retried claim gets the same coupon)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    go.wait()
    for method, path, headers, customer in jobs:
        retries = 0
        start = time.monotonic()
        while True:
            try:
                conn.request(method, path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                status = response.status
                if response.will_close:
                    conn.close()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                retries += 1
                if retries > 3:
                    status, body = -1, b""
                    break
        end = time.monotonic()
        code = ""
        if 400 <= status < 500:
            try:
                code = json.loads(body).get("code", "")
            except ValueError:
                code = "?"
        results.append((customer, status, code, start, end, retries))
    conn.close()


def _client_process(port: int, commands, out) -> None:
    while True:
        command = commands.get()
        if command[0] == "stop":
            return
        _, per_thread = command
        go = threading.Event()
        results: list = []
        threads = [
            threading.Thread(target=_client_thread, args=(port, jobs, go, results), daemon=True)
            for jobs in per_thread
        ]
        for t in threads:
            t.start()
        out.put(("ready", None))
        commands.get()  # ("go",)
        go.set()
        for t in threads:
            t.join()
        out.put(("done", results))


class LoadGenerator:
    def __init__(self, port: int, processes: int, threads: int):
        ctx = mp.get_context("spawn")
        self.threads = threads
        self.out = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(processes)]
        self.procs = [
            ctx.Process(target=_client_process, args=(port, q, self.out), daemon=True)
            for q in self.commands
        ]
        for p in self.procs:
            p.start()

    @property
    def clients(self) -> int:
        return len(self.procs) * self.threads

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def run(self, jobs: list) -> list:
        """Spread the jobs round-robin over the clients, start them together, return
        (customer, status, code, start, end, retries) per request."""
        slots = [[] for _ in range(self.clients)]
        for i, job in enumerate(jobs):
            slots[i % self.clients].append(job)
        for k, q in enumerate(self.commands):
            q.put(("run", slots[k * self.threads : (k + 1) * self.threads]))
        for _ in self.procs:
            assert self.out.get()[0] == "ready"
        for q in self.commands:
            q.put(("go",))
        results = []
        for _ in self.procs:
            kind, rows = self.out.get()
            results += rows
        return results

    def stop(self) -> None:
        for q in self.commands:
            q.put(("stop",))
        for p in self.procs:
            p.join(timeout=10)


BASE_HEADERS = {"X-Forwarded-Proto": "https", "Accept": "application/json"}


def health_jobs(n: int) -> list:
    return [("GET", "/api/health/", dict(BASE_HEADERS), 0) for _ in range(n)]


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


# --- Figures -------------------------------------------------------------------------------------
class Phase:
    def __init__(self, name: str, rows: list, cpu: dict):
        self.name = name
        self.rows = rows
        self.cpu = cpu
        self.wall = max(r[4] for r in rows) - min(r[3] for r in rows)
        self.rate = len(rows) / self.wall
        self.retries = sum(r[5] for r in rows)

    def ms(self, pred=lambda r: True) -> list[float]:
        return [(r[4] - r[3]) * 1000 for r in self.rows if pred(r)]

    def line(self, label: str, pred=lambda r: True, rate: float | None = None) -> str:
        lat = self.ms(pred)
        rate_s = f"{rate:8,.0f}/s" if rate is not None else " " * 10
        return (
            f"  {label:<32} {len(lat):>6,}  {rate_s}  p50 {pct(lat, 50):7.1f} ms  "
            f"p99 {pct(lat, 99):7.1f} ms  max {max(lat, default=float('nan')):7.1f} ms"
        )

    def cpu_line(self) -> str:
        c, n = self.cpu, len(self.rows)
        return (
            f"    cpu over {self.wall:.2f} s wall: server {c['server']:.1f} s "
            f"({c['server'] / n * 1000:.1f} ms/request), postgres {c['postgres']:.1f} s "
            f"({c['postgres'] / n * 1000:.1f} ms/request), load generator {c['clients']:.1f} s; "
            f"whole machine {c['machine'] / c['capacity']:.0%} busy"
        )


def timed_phase(name: str, gen: LoadGenerator, server: Server, jobs: list) -> Phase:
    from django.db import connection

    dbname = connection.settings_dict["NAME"]
    pg_before = postgres_cpu(dbname)
    before = (
        cpu_seconds(server.pids()),
        0.0,
        cpu_seconds(gen.pids()),
        machine_busy(),
        time.monotonic(),
    )
    rows = gen.run(jobs)
    pg_after = postgres_cpu(dbname)
    after = (
        cpu_seconds(server.pids()),
        sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items()),
        cpu_seconds(gen.pids()),
        machine_busy(),
        time.monotonic(),
    )
    cpu = {
        "server": after[0] - before[0],
        "postgres": after[1] - before[1],
        "clients": after[2] - before[2],
        "machine": after[3] - before[3],
        "capacity": (after[4] - before[4]) * (os.cpu_count() or 1),
    }
    return Phase(name, rows, cpu)


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

    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    ensure_database(url)
    connection = setup_django(url, bench="grab_bench")
    from django.core.management import call_command

    with connection.cursor() as cur:
        server_version = cur.execute("SHOW server_version").fetchone()[0]
        max_conn = cur.execute("SHOW max_connections").fetchone()[0]
    print(
        f"grab_bench on PostgreSQL {server_version} (max_connections {max_conn}), "
        f"{os.cpu_count()} CPUs, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print("  the server, PostgreSQL and the load generator share these CPUs")
    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    officer, owner = world()
    customers = customers_with_tokens(args.customers)
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
