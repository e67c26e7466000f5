#!/usr/bin/env python
"""Benchmark of unified payments (聚合支付) over HTTP against gunicorn on PostgreSQL: paid orders
per second end to end, and notifications processed per second with 20 % duplicates.

Setup, through the project's services (the test factories, as ``grab_bench``): a branch, a
branch officer, an approved merchant with a store in its grid and the store's payment QR, an
earning rate (1 point a yuan), customers with DRF tokens (bulk-created once) holding available
points (earned and released through the points services, topped up when short), and for every
run a fresh LIVE coupon template (满100减20) of which each order's customer claims a coupon.

Processes, all on this machine: our gunicorn (``alliance.settings.bench``: production's
settings with the sandbox as every channel; production's ``gunicorn.conf.py``, sync workers,
two per core), the channel (the sandbox gateway in a gunicorn of its own, reached over HTTP as
production reaches a channel; ``--transport inprocess`` serves it from our gunicorn instead),
the channel's notifier (a real Celery worker on the bench's own Redis queue, which also runs
our ``poll_order`` jobs), PostgreSQL and the load generator (``_http.LoadGenerator``). Phases:

1. trivial: ``GET /api/health/`` (one ``SELECT 1``), the yardstick;
2. paid orders end to end: each client, for each of its orders, ``POST /api/payments/orders/``
   (Token, ``Idempotency-Key``, ¥120 with a held coupon and 1,000 points, channel wechat; the
   server opens the trade on the channel), opens the channel's hosted page and confirms it
   (the form POSTed as a browser would, with its CSRF cookie), then asks
   ``GET /api/payments/orders/<no>/`` every ``--poll`` seconds until it is paid with its
   points earned. Meanwhile the channel's worker POSTs the signed notification to our notify
   URL. Checked in the database: every order paid once (one ``paid`` event, one applied
   notification), one earn entry each, each coupon verified once, ``ledger_check`` OK;
3. notifications: N orders opened over HTTP (no coupon, no points); the sandbox pays their
   trades with ``never_notify`` (and ``duplicate=1`` for 20 % of them), so it writes the
   notification bodies (and the duplicates' second copies) without sending them; the bench
   signs each as the sandbox's notifier does and POSTs them, shuffled, to
   ``/api/payments/notify/wechat/``. Checked: every answer 204, N applied and the rest
   duplicates, each order paid once;
4. trivial again.

It prints rates, latencies, the ratios paid orders/s and notifications/s to trivial/s, and the
CPU seconds of each process group. No targets were given: figures, no PASS/FAIL, except the
correctness checks (the exit status).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/alliance_bench_pay \\
        .venv/bin/python bench/pay_bench.py [--orders 600] [--notifications 1000]

See bench/README.md, "Payments".
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _benchdb import (  # noqa: E402
    bench_world,
    customers_with_tokens,
)
from _http import (  # noqa: E402
    BASE_HEADERS,
    LoadGenerator,
    Server,
    error_code,
    free_port,
    health_jobs,
    latency_line,
    request_row,
    send,
    server_env,
    start,
    stop_process,
    timed_phase,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/alliance_bench_pay"
BRANCH_CODE = "BP001"
OFFICER = "bench-pay-officer"
MERCHANT_NAME = "Bench Pay Noodle House"
PHONE_BASE = 13_600_000_000  # bench customers: +8613600000000 upwards
BROKER_URL = "redis://127.0.0.1:6379/14"
QUEUE = "bench-pay"
CHANNEL = "wechat"
GROSS_FEN = 12_000  # ¥120: the 满100减20 coupon applies
POINTS = 1_000  # ¥10 of points
TOP_UP = 100_000  # points given to a customer whose balance is short
NOTIFY_PATH = f"/api/payments/notify/{CHANNEL}/"


# --- The world, through the services -----------------------------------------------------------
def world(n_customers: int, orders: int):
    """(officer, owner, QR token, customers): the reusable part, made or topped up."""
    from django.utils import timezone

    from accounts.models import User
    from payments.services import qr_for_store
    from points.models import EarnRate, PointsAccount
    from points.selectors import earn_rate_at
    from tests.points.factories import earn_available

    officer, owner = bench_world(
        branch_code=BRANCH_CODE, officer_username=OFFICER, merchant_name=MERCHANT_NAME
    )
    store = owner.merchant_membership.merchant.stores.order_by("pk").first()
    qr = qr_for_store(store=store)
    now = timezone.now()
    if earn_rate_at(now) is None:  # head office sets it in the admin: no service to call
        EarnRate.objects.create(points_per_yuan=1, valid_from=now - timedelta(days=3650))
    customers = customers_with_tokens(n_customers, phone_base=PHONE_BASE)
    need = POINTS * math.ceil(orders / n_customers)
    balances = dict(
        PointsAccount.objects.filter(
            kind=PointsAccount.Kind.CUSTOMER, customer_id__in=[pk for pk, _ in customers]
        ).values_list("customer_id", "balance")
    )
    short = [pk for pk, _ in customers if balances.get(pk, 0) < need]
    if short:
        t0 = time.perf_counter()
        for user in User.objects.filter(pk__in=short).order_by("pk"):
            # Earned a month ago and released: available now, expiring in eleven months.
            earn_available(user, TOP_UP, now=now - timedelta(days=30))
        print(
            f"  earned and released {TOP_UP:,} points for {len(short):,} customers through the "
            f"points services in {time.perf_counter() - t0:.1f} s"
        )
    return officer, owner, qr.token, customers


def coupons_for(owner, officer, customer_ids: list[int]) -> tuple[int, list[int]]:
    """A fresh LIVE 满100减20 template of this run and one coupon of it per entry of
    ``customer_ids`` (claimed through ``coupon_claim``): (template id, coupon ids)."""
    from accounts.models import User
    from coupons.services import coupon_claim
    from tests.coupons.factories import live_template

    per_customer = max(Counter(customer_ids).values())
    template = live_template(
        owner=owner,
        reviewer=officer,
        title=f"Pay bench {time.strftime('%H%M%S')}",
        total_stock=len(customer_ids),
        per_customer_limit=per_customer,
    )
    users = User.objects.in_bulk(set(customer_ids))
    coupons = [
        coupon_claim(
            customer=users[pk], template_id=template.pk, claim_key=f"bench-{uuid.uuid4().hex}"
        ).pk
        for pk in customer_ids
    ]
    return template.pk, coupons


# --- The processes ---------------------------------------------------------------------------------
class CeleryWorker:
    """``celery worker`` on the bench's queue, with the servers' settings and environment."""

    def __init__(self, env: dict, concurrency: int):
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            "w+", prefix="pay-celery-", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "alliance", "worker", "-Q", QUEUE,
                "--pool", "threads", "--concurrency", str(concurrency), "--loglevel", "INFO",
                "--without-heartbeat", "--without-gossip", "--without-mingle",
            ],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while "ready." not in Path(self.log.name).read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit("celery worker did not start:\n" + Path(self.log.name).read_text()[-3000:])
            time.sleep(0.2)

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc.poll() is None else []

    def stop(self) -> None:
        """Warm shutdown: running tasks finish; the jobs it holds for later go back to the
        queue (purged by the bench)."""
        stop_process(self.proc, timeout=30)
        self.log.close()


def purge_queue() -> int:
    from kombu import Connection

    with Connection(BROKER_URL) as conn:
        return conn.default_channel.queue_purge(QUEUE) or 0


# --- The payer's client (in the load generator's processes) ----------------------------------------
_CSRF_COOKIE = re.compile(r"csrftoken=([^;]+)")
_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_REDIRECT_FIELD = re.compile(r'name="redirect_url" value="([^"]*)"')


def _pay_client(port: int, jobs, go, results: list) -> None:
    """One payer app: for each job, create the order; unless ``create_only``, open and confirm
    the channel's hosted page, then ask for the order until it is paid. A keep-alive
    connection per host (ours, the channel's)."""
    conns: dict[str, http.client.HTTPConnection] = {}

    def conn(netloc: str) -> http.client.HTTPConnection:
        if netloc not in conns:
            host, _, p = netloc.partition(":")
            conns[netloc] = http.client.HTTPConnection(host, int(p or 80), timeout=60)
        return conns[netloc]

    ours = f"127.0.0.1:{port}"
    go.wait()
    for job in jobs:
        if isinstance(job, tuple):  # one request, as every bench's client makes it
            results.append(request_row(conn(ours), job))
            continue
        try:
            results.append(_pay_one(conn, ours, job))
        except Exception as exc:  # noqa: BLE001 - counted as a failed order, not a lost client
            results.append((job["customer"], -3, f"client:{type(exc).__name__}: {exc}",
                            0.0, 0.0, 0, {"polls": 0}))  # fmt: skip
    for c in conns.values():
        c.close()


def _pay_one(conn, ours: str, job: dict) -> tuple:
    """Row ``(customer, status, code, start, end, retries, info)``: status 200 when the
    order was seen paid (or, ``create_only``, created), else the failing step's status and
    ``step:code``."""
    auth = {**BASE_HEADERS, "Authorization": f"Token {job['token']}"}
    info: dict = {"polls": 0}
    start = time.monotonic()
    retries = 0

    def row(status, code="", end=None):
        return (job["customer"], status, code, start, end or time.monotonic(), retries, info)

    payload = {"qr_token": job["qr_token"], "amount_fen": job["gross_fen"], "channel": CHANNEL}
    if job.get("coupon_id"):
        payload["coupon_id"] = job["coupon_id"]
    if job.get("points"):
        payload["points"] = job["points"]
    status, body, _h, r = send(
        conn(ours), "POST", "/api/payments/orders/",
        {**auth, "Content-Type": "application/json", "Idempotency-Key": job["key"]},
        json.dumps(payload).encode(),
    )  # fmt: skip
    retries += r
    info["created"] = time.monotonic()
    if status != 201:
        return row(status, "create:" + error_code(status, body))
    order = json.loads(body)
    info["no"] = order["out_trade_no"]
    if order["status"] != "paying":
        return row(status, f"create:status {order['status']}")
    if job.get("create_only"):
        return row(200)

    # The channel's hosted page, as the payer's browser sees it behind the TLS proxy.
    url = urlsplit(order["pay_url"])
    page = f"{url.path}?{url.query}"
    status, body, headers, r = send(
        conn(url.netloc), "GET", page, {"X-Forwarded-Proto": "https", "Accept": "text/html"}
    )
    retries += r
    info["page"] = time.monotonic()
    text = body.decode(errors="replace")
    cookie = _CSRF_COOKIE.search(" ".join(headers.get_all("Set-Cookie") or [])) if headers else None
    field = _CSRF_FIELD.search(text)
    redirect = _REDIRECT_FIELD.search(text)
    if status != 200 or not (cookie and field and redirect):
        return row(status, "page:no payable form")
    form = {
        "csrfmiddlewaretoken": field.group(1),
        "redirect_url": html.unescape(redirect.group(1)),
        "action": "confirm",
    }
    status, body, headers, r = send(
        conn(url.netloc), "POST", page,
        {
            "X-Forwarded-Proto": "https",
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookie.group(1)}",
            "Origin": f"https://{url.netloc}",
            "Referer": f"https://{url.netloc}{page}",
        },
        urlencode(form).encode(),
    )  # fmt: skip
    retries += r
    info["confirmed"] = time.monotonic()
    if status != 302:
        return row(status, "confirm:" + error_code(status, body))

    # The app asks until the order is paid (bounded in count and time).
    deadline = info["confirmed"] + job["timeout_s"]
    while time.monotonic() < deadline:
        time.sleep(job["poll_s"])
        status, body, _h, r = send(
            conn(ours), "GET", f"/api/payments/orders/{info['no']}/", auth
        )
        retries += r
        info["polls"] += 1
        if status != 200:
            return row(status, "poll:" + error_code(status, body))
        seen = json.loads(body)
        if seen["status"] == "paid" and seen["points_earned"] > 0:
            return row(200)
    return row(-2, "poll:not paid in time")


def order_jobs(customers, qr_token, n, *, coupons=None, create_only=False, args=None) -> list:
    jobs = []
    for i in range(n):
        pk, token = customers[i % len(customers)]
        job = {
            "customer": pk, "token": token, "qr_token": qr_token, "key": str(uuid.uuid4()),
            "gross_fen": GROSS_FEN if coupons else 8_800, "create_only": create_only,
        }  # fmt: skip
        if coupons:
            job.update(coupon_id=coupons[i], points=POINTS)
        if args is not None:
            job.update(poll_s=args.poll, timeout_s=args.timeout)
        jobs.append(job)
    return jobs


# --- Notifications, as the sandbox makes them --------------------------------------------------
def signed_notifications(nos: list[str], *, duplicate_share: float, seed: int) -> list:
    """Pay each order's trade in the sandbox with its notification held back (``never_notify``;
    ``duplicate=1`` for ``duplicate_share`` of them: the sandbox writes a second copy), then
    sign each copy as the sandbox's notifier signs an attempt. Notify jobs, shuffled."""
    from sandbox_gateway import services as sandbox
    from sandbox_gateway.models import Delivery
    from sandbox_gateway.notifications import _headers

    rng = random.Random(seed)
    doubled = set(rng.sample(nos, round(len(nos) * duplicate_share)))
    for no in nos:
        sandbox.misbehave(no, never_notify=True, duplicate=1 if no in doubled else 0)
        sandbox.pay(no)
    deliveries = list(
        Delivery.objects.filter(trade__out_trade_no__in=nos, status=Delivery.Status.SUPPRESSED)
        .select_related("trade")
        .order_by("pk")
    )
    jobs = [
        (
            "POST",
            NOTIFY_PATH,
            # What the notifier sends (``notifications._post``), through the TLS proxy.
            {**BASE_HEADERS, "Content-Type": "application/json", "User-Agent": "Mozilla/4.0",
             **_headers(d)},
            d.trade.out_trade_no,
            d.body.encode(),
        )
        for d in deliveries
    ]  # fmt: skip
    rng.shuffle(jobs)
    return jobs


# --- Checks in the database ------------------------------------------------------------------------
def check_paid_once(nos: list[str], *, template_id: int | None = None) -> tuple[list[str], dict]:
    """Every order paid exactly once, with one earn entry and one applied notification; with a
    template, each of its coupons verified once. (failures, notification outcomes)."""
    from django.db.models import Count

    from coupons.models import Verification
    from payments.models import GatewayNotification, OrderEvent, PaymentOrder
    from points.models import JournalEntry

    failures = []
    orders = PaymentOrder.objects.filter(out_trade_no__in=nos)
    ids = list(orders.values_list("pk", flat=True))
    statuses = Counter(orders.values_list("status", flat=True))
    if len(ids) != len(nos) or statuses != {"paid": len(nos)}:
        failures.append(f"{len(nos)} orders, found {len(ids)} with statuses {dict(statuses)}")
    paid_events = Counter(
        dict(
            OrderEvent.objects.filter(order_id__in=ids, to_status="paid")
            .values("order_id").annotate(n=Count("pk")).values_list("order_id", "n")
        )
    )  # fmt: skip
    if set(paid_events.values()) - {1} or len(paid_events) != len(ids):
        failures.append(f"paid events per order: {Counter(paid_events.values())}, of {len(ids)}")
    earns = Counter(
        JournalEntry.objects.filter(
            kind=JournalEntry.Kind.EARN, reference_type="payment", reference_id__in=ids
        ).values_list("reference_id", flat=True)
    )
    unearned = orders.filter(points_earned=0).count() + orders.filter(
        points_earn_entry_id__isnull=True
    ).count()
    if set(earns.values()) - {1} or len(earns) != len(ids) or unearned:
        failures.append(
            f"earn entries per order {dict(Counter(earns.values()))} over {len(earns)} of "
            f"{len(ids)} orders; {unearned} without points earned"
        )
    outcomes = Counter(
        GatewayNotification.objects.filter(out_trade_no__in=nos).values_list("outcome", flat=True)
    )
    applied = Counter(
        GatewayNotification.objects.filter(out_trade_no__in=nos, outcome="applied").values_list(
            "out_trade_no", flat=True
        )
    )
    # A notification later than the poll job (10 s after the payer was sent to the channel)
    # finds the order paid already (a duplicate): fine. Two that both applied are not.
    if set(applied.values()) - {1}:
        failures.append(f"applied notifications per order: {dict(Counter(applied.values()))}")
    if template_id is not None:
        verified = Counter(
            Verification.objects.filter(
                coupon__template_id=template_id, undone_at__isnull=True
            ).values_list("coupon_id", flat=True)
        )
        if len(verified) != len(nos) or set(verified.values()) != {1}:
            failures.append(
                f"{len(verified)} coupons verified, of {len(nos)}; per coupon "
                f"{dict(Counter(verified.values()))}"
            )
    return failures, dict(outcomes)


def notification_latency_ms(nos: list[str]) -> list[float]:
    """Per order, from the channel's confirm (the trade's ``paid_at``) to our ``paid`` event:
    the notification's way through Redis, the worker and our notify URL (server clocks)."""
    from payments.models import OrderEvent
    from sandbox_gateway.models import Trade

    paid = dict(Trade.objects.filter(out_trade_no__in=nos).values_list("out_trade_no", "paid_at"))
    events = OrderEvent.objects.filter(order__out_trade_no__in=nos, to_status="paid")
    return [
        (at - paid[no]).total_seconds() * 1000
        for no, at in events.values_list("order__out_trade_no", "created_at")
    ]


def delivery_summary(nos: list[str]) -> str:
    from django.db.models import Sum

    from sandbox_gateway.models import Delivery

    rows = Delivery.objects.filter(trade__out_trade_no__in=nos)
    statuses = Counter(rows.values_list("status", flat=True))
    attempts = rows.aggregate(n=Sum("attempts"))["n"] or 0
    return f"deliveries {dict(statuses)}, {attempts:,} attempts"


# --- Phases ----------------------------------------------------------------------------------------
def step_ms(rows, a: str | None, b: str | None) -> list[float]:
    """Milliseconds between two moments of the successful rows (None: start / end)."""
    return [
        ((r[6][b] if b else r[4]) - (r[6][a] if a else r[3])) * 1000 for r in rows if r[1] == 200
    ]


def run(url: str, args) -> int:
    from django.db import connections

    t0 = time.perf_counter()
    officer, owner, qr_token, customers = world(args.customers, args.orders)
    template_id, coupons = coupons_for(
        owner, officer, [customers[i % len(customers)][0] for i in range(args.orders)]
    )
    print(
        f"  setup in {time.perf_counter() - t0:.1f} s: {len(customers):,} customers with tokens "
        f"and points, template #{template_id} with {len(coupons):,} coupons claimed"
    )
    print(f"  purged {purge_queue()} stale tasks from {BROKER_URL} queue {QUEUE}")
    connections.close_all()  # the setup's connection stays idle during the phases

    port = free_port()
    inprocess = args.transport == "inprocess"
    channel_port = port if inprocess else free_port()
    env = server_env(
        url,
        settings_module="alliance.settings.bench",
        name="pay",
        DJANGO_CELERY_BROKER_URL=BROKER_URL,
        DJANGO_CELERY_TASK_DEFAULT_QUEUE=QUEUE,
        DJANGO_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DJANGO_PAYMENT_GATEWAYS="{}",
        DJANGO_SANDBOX_GATEWAY_BASE_URL=f"http://127.0.0.1:{channel_port}/sandbox-gateway",
        DJANGO_SANDBOX_GATEWAY_TRANSPORT=args.transport,
    )
    channel = None if inprocess else Server(
        url, "sync", args.channel_workers, 1, env=env, name="pay-channel", port=channel_port
    )
    server = Server(url, "sync", args.workers, 1, env=env, name="pay", port=port)
    worker = CeleryWorker(env, args.celery_concurrency)
    gen = LoadGenerator(server.port, args.processes, args.threads_per_process, client=_pay_client)
    others = {
        "channel server": (lambda: channel.pids()) if channel else list,
        "channel's celery worker": worker.pids,
    }
    failures: list[str] = []
    try:
        print(
            f"  our server on 127.0.0.1:{server.port} ({args.workers} sync workers); channel "
            + (
                "served by it, called in process"
                if inprocess
                else f"on 127.0.0.1:{channel_port} ({args.channel_workers} sync workers), over HTTP"
            )
            + f"; celery worker ({args.celery_concurrency} threads) on {QUEUE}; "
            f"{gen.clients} clients ({args.processes} processes x {args.threads_per_process} "
            "threads)"
        )
        gen.run(health_jobs(gen.clients * 3))  # connections, imports, caches
        # ... and the payment path's, paid in full (an order left open would be polled).
        gen.run(order_jobs(customers, qr_token, args.pay_clients, args=args), args.pay_clients)
        trivial1 = timed_phase("trivial", gen, server, health_jobs(args.trivial), others=others)
        paid = timed_phase(
            "paid end to end", gen, server,
            order_jobs(customers, qr_token, args.orders, coupons=coupons, args=args),
            others=others, per="order", clients=args.pay_clients,
        )  # fmt: skip
        worker.stop()  # from here on nothing delivers or polls: the bench posts notifications
        t1 = time.perf_counter()
        opened = gen.run(
            order_jobs(customers, qr_token, args.notifications, create_only=True, args=args)
        )
        open_nos = [r[6]["no"] for r in opened if r[1] == 200]
        if len(open_nos) != args.notifications:
            failures.append(f"opened {len(open_nos)} orders of {args.notifications}: "
                            f"{Counter(r[1:3] for r in opened if r[1] != 200)}")  # fmt: skip
        jobs = signed_notifications(open_nos, duplicate_share=args.duplicates, seed=args.seed)
        print(
            f"  notifications: {len(open_nos):,} orders opened over HTTP, their trades paid in "
            f"the sandbox and {len(jobs):,} notifications signed in "
            f"{time.perf_counter() - t1:.1f} s"
        )
        notified = timed_phase(
            "notifications", gen, server, jobs, others=others, per="notification"
        )
        trivial2 = timed_phase("trivial", gen, server, health_jobs(args.trivial), others=others)
    finally:
        gen.stop()
        worker.stop()
        server.stop()
        if channel:
            channel.stop()
        purge_queue()

    # --- Figures and checks -------------------------------------------------------------------
    trivial = (trivial1.rate + trivial2.rate) / 2
    print(f"  throughput, {gen.clients} clients each on its own keep-alive connection:")
    print(trivial1.line("GET /api/health/ (SELECT 1)", rate=trivial1.rate))
    print(trivial1.cpu_line())

    ok = [r for r in paid.rows if r[1] == 200]
    bad = Counter(r[1:3] for r in paid.rows if r[1] != 200)
    paid_rate = len(ok) / paid.wall
    nos = [r[6]["no"] for r in ok]
    polls = sum(r[6]["polls"] for r in paid.rows)
    print(
        f"  paid end to end, {min(args.pay_clients, gen.clients)} payers at once: "
        f"{len(ok):,} of {len(paid.rows):,} orders seen paid in {paid.wall:.2f} s = "
        f"{paid_rate:,.1f} paid orders/s; failed {dict(bad) or 'none'}; {paid.retries} resent; "
        f"{polls / len(paid.rows):.2f} polls per order (every {args.poll} s)"
    )
    print(latency_line("create (POST orders/)", step_ms(ok, None, "created")))
    print(latency_line("channel's page (GET)", step_ms(ok, "created", "page")))
    print(latency_line("confirm (POST the form)", step_ms(ok, "page", "confirmed")))
    print(latency_line("confirm to seen paid", step_ms(ok, "confirmed", None)))
    print(latency_line("create to seen paid", step_ms(ok, None, None)))
    print(latency_line("confirm to paid (server clocks)", notification_latency_ms(nos)))
    print(paid.cpu_line())
    if bad:
        failures.append(f"end to end: {dict(bad)}")
    paid_failures, outcomes = check_paid_once(nos, template_id=template_id)
    failures += paid_failures
    by_notification = outcomes.get("applied", 0)
    print(f"    database: notifications {outcomes} (paid by the notification {by_notification:,}, "
          f"by our poll job first {len(nos) - by_notification:,}); {delivery_summary(nos)}; "
          + ("every order paid once, one earn entry, coupon verified once"
             if not paid_failures else "FAIL: " + "; ".join(paid_failures)))  # fmt: skip

    answers = Counter(r[1] for r in notified.rows)
    print(
        f"  notifications, {len(notified.rows):,} for {len(open_nos):,} orders "
        f"({len(notified.rows) - len(open_nos):,} duplicates, shuffled) in {notified.wall:.2f} s "
        f"= {notified.rate:,.0f} notifications/s; answers {dict(answers)}; "
        f"{notified.retries} resent"
    )
    print(notified.line("POST notify/wechat/", rate=notified.rate))
    print(notified.cpu_line())
    note_failures, outcomes = check_paid_once(open_nos)
    expected = {"applied": len(open_nos), "duplicate": len(notified.rows) - len(open_nos)}
    if outcomes != expected:
        note_failures.append(f"recorded {outcomes}, expected {expected}")
    if answers != {204: len(notified.rows)}:
        note_failures.append(f"answers {dict(answers)}")
    failures += note_failures
    print(f"    database: recorded {outcomes}; "
          + ("each order paid once" if not note_failures else "FAIL: " + "; ".join(note_failures)))  # fmt: skip

    print(trivial2.line("GET /api/health/ again", rate=trivial2.rate))
    print(trivial2.cpu_line())

    from points.selectors import ledger_check

    t2 = time.perf_counter()
    report = ledger_check()
    print(
        f"  ledger_check: {report.entries:,} entries, {report.accounts:,} accounts, "
        f"{report.lots:,} lots in {time.perf_counter() - t2:.1f} s: "
        + ("OK" if report.ok else f"{len(report.breaks)} breaks, first {report.breaks[0]}")
    )
    if not report.ok:
        failures.append(f"ledger_check: {len(report.breaks)} breaks")

    print("  figures only (the issue gives no targets):")
    print(f"    trivial                {trivial:8,.0f}/s (before {trivial1.rate:,.0f}, "
          f"after {trivial2.rate:,.0f})")  # fmt: skip
    print(f"    paid orders end to end {paid_rate:8,.1f}/s  ratio to trivial "
          f"{paid_rate / trivial:.4f}")  # fmt: skip
    print(f"    notifications          {notified.rate:8,.0f}/s  ratio to trivial "
          f"{notified.rate / trivial:.3f}")  # fmt: skip
    print("  correctness: " + ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=250, help="paid end to end")
    parser.add_argument("--pay-clients", type=int, default=20, help="payers at once")
    parser.add_argument("--notifications", type=int, default=400, help="orders notified")
    parser.add_argument("--duplicates", type=float, default=0.2, help="share sent twice")
    parser.add_argument("--customers", type=int, default=600)
    parser.add_argument("--trivial", type=int, default=4000, help="requests of a trivial phase")
    parser.add_argument(
        "--workers", type=int, default=2 * (os.cpu_count() or 1), help="production's: 2 per core"
    )
    parser.add_argument(
        "--transport", choices=["http", "inprocess"], default="http",
        help="http: the channel in a gunicorn of its own; inprocess: served by ours",
    )  # fmt: skip
    parser.add_argument("--channel-workers", type=int, default=3)
    parser.add_argument("--celery-concurrency", type=int, default=8)
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between the app's asks")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for paid")
    parser.add_argument("--processes", type=int, default=4, help="load generator processes")
    parser.add_argument("--threads-per-process", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args()

    url, _connection = start(
        "pay_bench",
        DEFAULT_DATABASE_URL,
        sharing="our server, the channel, its worker, PostgreSQL and the load generator",
    )
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    status = run(url, args)
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sys.exit(status)


if __name__ == "__main__":
    main()
