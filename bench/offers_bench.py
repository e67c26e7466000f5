#!/usr/bin/env python
"""Benchmark of "offers near me" on PostgreSQL at city scale: 100,000 stores and 300,000 live
coupon templates in one city, and the server time of the page that lists them.

The data set is Hangzhou-like (30.10-30.40 N, 119.90-120.40 E; see ``CENTRES``): 35 % of the
stores in a Gaussian around the old centre (West Lake / Wulin, sigma 2.5 km), 48 % in six
district centres (sigma 1.5-2.5 km), 17 % uniform over the box. About 60,000 merchants, most
with one store and some chains of 2-8 stores spread over the city; 300,000 live templates spread
uniformly over the merchants, each offered at every store of its merchant, so about 500,000
``Offer`` rows. Every row is a valid row of the real tables (users, approved applications,
merchants with an owner, stores with their H3 leaf cell from ``branches.geo.leaf_cell``,
templates, the template-store table, offers), bulk-inserted (``bulk_create`` for the models,
COPY for the template-store pairs and the offers), not made through the services. The data set
is kept between runs (a marker on ``coupons_offer``); ``--rebuild`` makes it again.

Then, at N random points drawn like the stores (people are where the shops are), for each sort
(distance, newest, popular; each also with a category, and with ``--search`` a name), it times

* the selector ``coupons.selectors.customer.offers_near``, and
* the HTML page ``coupons:offers`` (``GET /offers/?lat=..&lng=..``) through
  ``django.test.Client`` as a signed-in customer: server time, request in to response out,
  no network;

and prints p50/p95/p99, the queries per request and PASS/FAIL against p95 < 100 ms. When the
target is missed it prints EXPLAIN (ANALYZE, BUFFERS) of the main query at the slowest point.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/alliance_bench_offers \\
        .venv/bin/python bench/offers_bench.py [--points 300] [--rebuild]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _benchdb import Recorder, ensure_database, pct, setup_django  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/alliance_bench_offers"
GENERATOR_VERSION = 2  # bump when the generator changes, so old data sets are rebuilt
MARKER_TABLE = "coupons_offer"
TARGET_P95_MS = 100.0
KM_PER_DEG = 111.195
BOX = (30.10, 30.40, 119.90, 120.40)  # lat min, lat max, lng min, lng max
# (name, lat, lng, sigma km, share of stores); the rest is uniform over BOX.
CENTRES = [
    ("West Lake / Wulin (old centre)", 30.265, 120.165, 2.5, 0.35),
    ("Qianjiang New City", 30.245, 120.210, 1.5, 0.08),
    ("Binjiang", 30.205, 120.210, 2.0, 0.10),
    ("Xiaoshan", 30.165, 120.270, 2.5, 0.08),
    ("Future Sci-Tech City (Yuhang)", 30.290, 120.010, 2.0, 0.08),
    ("Gongshu north", 30.325, 120.145, 2.0, 0.08),
    ("Xiasha", 30.310, 120.350, 2.0, 0.06),
]
UNIFORM_SHARE = 1 - sum(c[4] for c in CENTRES)
# Stores per merchant: most have one, chains up to eight.
CHAIN_SIZES = [(1, 0.75), (2, 0.10), (3, 0.06), (4, 0.03), (5, 0.02), (6, 0.02), (8, 0.02)]
CATEGORIES = [
    ("food", 0.34),
    ("drinks_desserts", 0.18),
    ("retail", 0.14),
    ("life_services", 0.10),
    ("beauty_hair", 0.09),
    ("leisure", 0.07),
    ("kids_education", 0.04),
    ("sports_fitness", 0.04),
]
PHONE_BASE = 15_000_000_000  # bench users: +8615000000000 upwards
SORTS = ["distance", "newest", "popular"]


# --- Database and Django ------------------------------------------------------------------------
# --- The city ----------------------------------------------------------------------------------
def city_point(rng: random.Random) -> tuple[float, float]:
    lat_min, lat_max, lng_min, lng_max = BOX
    while True:
        r = rng.random()
        for _name, clat, clng, sigma, share in CENTRES:
            if r < share:
                lat = clat + rng.gauss(0, sigma) / KM_PER_DEG
                lng = clng + rng.gauss(0, sigma) / (KM_PER_DEG * math.cos(math.radians(clat)))
                break
            r -= share
        else:
            lat, lng = rng.uniform(lat_min, lat_max), rng.uniform(lng_min, lng_max)
        if lat_min <= lat <= lat_max and lng_min <= lng <= lng_max:
            return round(lat, 6), round(lng, 6)


def weighted(rng: random.Random, table):
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights=weights)[0]


def marker_of(cur) -> dict:
    cur.execute("SELECT obj_description(%s::regclass, 'pg_class')", [MARKER_TABLE])
    raw = cur.fetchone()[0]
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


def wanted_marker(args) -> dict:
    return {
        "generator": GENERATOR_VERSION,
        "seed": args.seed,
        "stores": args.stores,
        "templates": args.templates,
    }


def reset(cur) -> None:
    """Empty everything the data set writes (TRUNCATE fires no row triggers)."""
    cur.execute(
        "TRUNCATE coupons_offer, coupons_coupontemplate_stores, coupons_templatechange, "
        "coupons_coupontemplate, merchants_merchantstaff, merchants_store, merchants_merchant, "
        "merchants_merchantapplication, merchants_feeplan, accounts_user "
        "RESTART IDENTITY CASCADE"
    )


def copy_rows(connection, table: str, columns: list[str], rows) -> None:
    raw = connection.connection
    with raw.cursor() as pg, pg.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        buf = io.StringIO()
        for n, row in enumerate(rows, 1):
            buf.write("\t".join(str(v) for v in row))
            buf.write("\n")
            if n % 50_000 == 0:
                copy.write(buf.getvalue())
                buf = io.StringIO()
        copy.write(buf.getvalue())


def build(connection, args) -> None:
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from branches.geo import leaf_cell
    from coupons.models import CouponTemplate
    from merchants.credit_code import check_character
    from merchants.models import (
        FeePlan,
        Merchant,
        MerchantApplication,
        MerchantStaff,
        Store,
    )

    rng = random.Random(f"offers-{args.seed}")
    now = timezone.now()
    t0 = time.perf_counter()

    # Merchants and their chain sizes, until the stores are all placed.
    sizes = []
    left = args.stores
    while left > 0:
        size = min(weighted(rng, CHAIN_SIZES), left)
        sizes.append(size)
        left -= size
    n_merchants = len(sizes)

    def step(label: str, start: float) -> float:
        t = time.perf_counter()
        print(f"  {label} in {t - start:.1f} s")
        return t

    batch = 5000
    with transaction.atomic():
        reviewer = User.objects.create(
            phone=f"+86{PHONE_BASE - 1}",
            username="bench-offers-head-office",
            role="head_office",
            password="!",
        )
        plan = FeePlan.objects.create(name="Standard", rate_bp=60)
        owners = User.objects.bulk_create(
            [
                User(phone=f"+86{PHONE_BASE + i}", role="merchant_owner", password="!", name="")
                for i in range(n_merchants)
            ],
            batch_size=batch,
        )
        t = step(f"{n_merchants:,} owners", t0)

        first_store = [city_point(rng) for _ in range(n_merchants)]
        categories = [weighted(rng, CATEGORIES) for _ in range(n_merchants)]
        applications = []
        for i, owner in enumerate(owners):
            lat, lng = first_store[i]
            applications.append(
                MerchantApplication(
                    applicant=owner,
                    status="approved",
                    business_name=f"Shop {i:05d}",
                    category=categories[i],
                    contact_phone="13800000000",
                    store_name=f"Shop {i:05d}",
                    store_address=f"{i} Bench Road, Hangzhou",
                    lat=lat,
                    lng=lng,
                    h3_cell=leaf_cell(lat, lng),
                    credit_code="",
                    reviewer=reviewer,
                    submitted_at=now - timedelta(days=200),
                    decided_at=now - timedelta(days=199),
                )
            )
        applications = MerchantApplication.objects.bulk_create(applications, batch_size=batch)
        t = step(f"{n_merchants:,} approved applications", t)

        merchants = []
        for i, app in enumerate(applications):
            first17 = f"91330106MA{i:07d}"
            merchants.append(
                Merchant(
                    code=f"M{app.pk:08d}",
                    application=app,
                    business_name=app.business_name,
                    category=app.category,
                    credit_code=first17 + check_character(first17),
                    contact_phone=app.contact_phone,
                    fee_plan=plan,
                )
            )
        merchants = Merchant.objects.bulk_create(merchants, batch_size=batch)
        MerchantStaff.objects.bulk_create(
            [
                MerchantStaff(merchant=m, user=o, role="owner")
                for m, o in zip(merchants, owners, strict=True)
            ],
            batch_size=batch,
        )
        t = step(f"{n_merchants:,} merchants with their owner", t)

        stores = []
        for i, merchant in enumerate(merchants):
            for k in range(sizes[i]):
                lat, lng = first_store[i] if k == 0 else city_point(rng)
                stores.append(
                    Store(
                        merchant=merchant,
                        name=f"{merchant.business_name} #{k + 1}",
                        address=f"{i}-{k} Bench Road, Hangzhou",
                        lat=lat,
                        lng=lng,
                        h3_cell=leaf_cell(lat, lng),
                    )
                )
        stores = Store.objects.bulk_create(stores, batch_size=batch)
        stores_of: dict[int, list] = {}
        for store in stores:
            stores_of.setdefault(store.merchant_id, []).append(store)
        t = step(f"{len(stores):,} stores (with H3 leaf cells)", t)

        templates = []
        for j in range(args.templates):
            i = rng.randrange(n_merchants)
            kind = weighted(
                rng,
                [("cash_off", 0.5), ("percent_off", 0.25), ("paid_voucher", 0.15), ("gift", 0.1)],
            )
            stock = rng.choice([50, 100, 200, 500, 1000, 5000])
            values = dict(
                merchant=merchants[i],
                kind=kind,
                title=f"Offer {j}",
                obtain="purchase" if kind == "paid_voucher" else "free",
                total_stock=stock,
                stock_left=rng.randint(0, stock),
                per_customer_limit=rng.choice([1, 1, 1, 2]),
                claim_start=now - timedelta(days=rng.uniform(0, 30)),
                claim_end=now + timedelta(days=rng.uniform(730, 1095)),  # outlives the data set
                validity="relative",
                valid_days=rng.choice([7, 14, 30]),
                status="live",
                reviewer=reviewer,
                created_by=owners[i],
                published_at=now - timedelta(days=rng.uniform(0, 60)),
            )
            if kind == "cash_off":
                values.update(
                    discount_fen=rng.choice([500, 1000, 2000]),
                    min_spend_fen=rng.choice([0, 5000, 10000]),
                )
            elif kind == "percent_off":
                values.update(pay_percent=rng.randint(70, 95), cap_fen=rng.choice([2000, 5000]))
            elif kind == "paid_voucher":
                values.update(price_fen=rng.choice([5000, 8000]), discount_fen=10000)
            else:
                values.update(gift_item="Dessert of the day", discount_fen=1500)
            templates.append(CouponTemplate(**values))
        templates = CouponTemplate.objects.bulk_create(templates, batch_size=batch)
        t = step(f"{len(templates):,} live templates", t)

        def pairs():
            for template in templates:
                for store in stores_of[template.merchant_id]:
                    yield template, store

        copy_rows(
            connection,
            "coupons_coupontemplate_stores",
            ["coupontemplate_id", "store_id"],
            ((tp.pk, s.pk) for tp, s in pairs()),
        )
        names = {m.pk: m.business_name for m in merchants}
        cats = {m.pk: m.category for m in merchants}
        copy_rows(
            connection,
            "coupons_offer",
            [
                "template_id",
                "store_id",
                "merchant_id",
                "category",
                "merchant_name",
                "published_at",
                "claim_start",
                "claim_end",
                "lat",
                "lng",
                "h3_cell",
                "popularity",  # coarse_cell is computed by the database
            ],
            (
                (
                    tp.pk,
                    s.pk,
                    tp.merchant_id,
                    cats[tp.merchant_id],
                    names[tp.merchant_id],
                    tp.published_at.isoformat(),
                    tp.claim_start.isoformat(),
                    tp.claim_end.isoformat(),
                    repr(s.lat),
                    repr(s.lng),
                    s.h3_cell,
                    tp.total_stock - tp.stock_left,
                )
                for tp, s in pairs()
            ),
        )
        t = step("template-store pairs and offers (COPY)", t)
        with connection.cursor() as cur:
            marker = {**wanted_marker(args), "built_at": now.isoformat()}
            cur.execute(f"COMMENT ON TABLE {MARKER_TABLE} IS %s", [json.dumps(marker)])
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    step("VACUUM ANALYZE", t)


def describe(cur) -> dict:
    counts = {}
    for table in (
        "merchants_merchant",
        "merchants_store",
        "coupons_coupontemplate",
        "coupons_offer",
    ):
        cur.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
        counts[table] = cur.fetchone()[0]
    return counts


# --- Timing ---------------------------------------------------------------------------------------
def variants(category: str, search: str = "") -> list[tuple[str, dict]]:
    out = [(sort, {"sort": sort}) for sort in SORTS]
    out += [(f"{sort}, {category}", {"sort": sort, "category": category}) for sort in SORTS]
    if search:
        out += [(f"{sort}, q={search}", {"sort": sort, "q": search}) for sort in SORTS]
    return out


def time_calls(connection, points, label: str, call) -> dict:
    times, queries, rows, worst = [], [], [], None
    for lat, lng in points:
        rec = Recorder()
        with connection.execute_wrapper(rec):
            t0 = time.perf_counter()
            n = call(lat, lng)
            ms = (time.perf_counter() - t0) * 1000
        times.append(ms)
        queries.append(len(rec.queries))
        rows.append(n)
        if worst is None or ms > worst[0]:
            worst = (ms, lat, lng, rec.queries)
    return {"label": label, "times": times, "queries": queries, "rows": rows, "worst": worst}


def report_line(kind: str, r: dict) -> str:
    t = r["times"]
    q = sorted(set(r["queries"]))
    queries = f"{q[0]}" if len(q) == 1 else f"{q[0]}-{q[-1]}"
    p95 = pct(t, 95)
    verdict = "PASS" if p95 < TARGET_P95_MS else f"FAIL (x{p95 / TARGET_P95_MS:.1f})"
    return (
        f"  {kind:<9} {r['label']:<22} p50 {pct(t, 50):7.1f}  p95 {p95:7.1f}  p99 {pct(t, 99):7.1f}"
        f"  max {max(t):7.1f} ms  {queries:>5} queries  {sum(r['rows']) / len(t):5.1f} rows"
        f"  {verdict}"
    )


def explain(connection, r: dict) -> None:
    """EXPLAIN ANALYZE of the slowest query of the slowest request."""
    ms, lat, lng, queries = r["worst"]
    candidates = [(sql, params) for sql, params in queries if "coupons_offer" in sql]
    if not candidates:
        return
    best = None
    with connection.cursor() as cur:
        for sql, params in candidates:
            t0 = time.perf_counter()
            cur.execute(sql, params)
            cur.fetchall()
            took = time.perf_counter() - t0
            if best is None or took > best[0]:
                best = (took, sql, params)
        _, sql, params = best
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = [row[0] for row in cur.fetchall()]
    print(
        f"\n  EXPLAIN (ANALYZE, BUFFERS), {r['label']} at ({lat:.5f}, {lng:.5f}) "
        f"({ms:.0f} ms for the whole request); long lines cut, the index scans of the "
        "cell ranges folded:"
    )
    shown = scans = 0
    for line in plan:
        if "Bitmap Index Scan" in line or line.strip().startswith(("Index Cond", "Buffers")):
            scans += "Bitmap Index Scan" in line
            continue
        if shown < 40:
            print("    " + (line if len(line) <= 150 else line[:147] + "..."))
            shown += 1
    if scans:
        print(f"    ({scans} bitmap index scans of h3_cell ranges, one per range of the cover)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="make the data set again")
    parser.add_argument("--stores", type=int, default=100_000)
    parser.add_argument("--templates", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=20260611)
    parser.add_argument("--points", type=int, default=300, help="query points per variant")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--category", default="food")
    parser.add_argument("--search", default="", help="also time each sort with this name search")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN even when on target")
    parser.add_argument("--selector-only", action="store_true", help="skip the page")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    ensure_database(url)
    connection = setup_django(url, bench="offers_bench")
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cur:
        server = cur.execute("SHOW server_version").fetchone()[0]
        print(
            f"offers_bench on PostgreSQL {server}, {os.cpu_count()} CPUs, "
            f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        marker = marker_of(cur)
        fresh = {k: marker.get(k) for k in wanted_marker(args)} == wanted_marker(args)
        if args.rebuild or not fresh:
            print("building the data set" + (" (--rebuild)" if args.rebuild else ""))
            reset(cur)
    if args.rebuild or not fresh:
        t0 = time.perf_counter()
        build(connection, args)
        print(f"  built in {time.perf_counter() - t0:.0f} s")
    else:
        print(f"reusing the data set built {marker.get('built_at', '?')}")
    with connection.cursor() as cur:
        counts = describe(cur)
    print("  " + ", ".join(f"{table} {n:,}" for table, n in counts.items()))
    print(
        "  city: "
        + ", ".join(f"{name} {share:.0%}" for name, *_x, share in CENTRES)
        + f", uniform {UNIFORM_SHARE:.0%} over {BOX[0]}-{BOX[1]} N, {BOX[2]}-{BOX[3]} E"
    )

    rng = random.Random(f"points-{args.seed}")
    points = [city_point(rng) for _ in range(args.points)]
    warm = [city_point(rng) for _ in range(args.warmup)]

    from coupons.selectors import customer as selectors

    def offers_near_call(params):
        def call(lat, lng):
            return len(selectors.offers_near(lat=lat, lng=lng, **params).results)

        return call

    results = []
    print(f"\nselector offers_near at {len(points)} points (+{len(warm)} warm-up), milliseconds:")
    for label, params in variants(args.category, args.search):
        time_calls(connection, warm, label, offers_near_call(params))
        r = time_calls(connection, points, label, offers_near_call(params))
        results.append(("selector", r))
        print(report_line("selector", r))

    page_ready = True
    try:
        from django.urls import reverse

        offers_url = reverse("coupons:offers")
    except Exception as exc:  # noqa: BLE001 - the page may not exist yet
        page_ready = False
        print(f"\nthe page coupons:offers is not there ({exc}): not measured")
    if page_ready and not args.selector_only:
        from django.test import Client

        from accounts.models import User

        customer, _ = User.objects.get_or_create(
            phone=f"+86{PHONE_BASE - 2}", defaults={"role": "customer", "password": "!"}
        )
        client = Client()
        client.force_login(customer)

        def page_call(params):
            def call(lat, lng):
                response = client.get(
                    offers_url, {"lat": f"{lat:.6f}", "lng": f"{lng:.6f}", **params}
                )
                if response.status_code != 200:
                    raise SystemExit(f"GET {offers_url} answered {response.status_code}")
                return response.content.count(b'<li class="offer"')

            return call

        print(
            f"\npage GET {offers_url}?lat=..&lng=.. (django.test.Client, signed-in customer, "
            "server time), milliseconds:"
        )
        for label, params in variants(args.category, args.search):
            time_calls(connection, warm, label, page_call(params))
            r = time_calls(connection, points, label, page_call(params))
            results.append(("page", r))
            print(report_line("page", r))
        print('  (rows: <li class="offer"> in the page)')

    # EXPLAIN each variant that misses the target once (the page runs the selector's queries).
    explained = set()
    for _kind, r in results:
        if r["label"] not in explained and (args.explain or pct(r["times"], 95) >= TARGET_P95_MS):
            explained.add(r["label"])
            explain(connection, r)
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
