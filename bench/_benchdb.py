"""What every benchmark needs first: its PostgreSQL database (made if missing) and Django on it.

The benches run as scripts (``python bench/x.py``), so this folder is on ``sys.path``.
"""

from __future__ import annotations

import math
import os
import sys


def ensure_database(url: str) -> None:
    import dj_database_url
    import psycopg
    from psycopg import sql

    cfg = dj_database_url.parse(url)
    params = {
        "host": cfg.get("HOST") or None,
        "port": cfg.get("PORT") or None,
        "user": cfg.get("USER") or None,
        "password": cfg.get("PASSWORD") or None,
    }
    params = {k: v for k, v in params.items() if v}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg["NAME"])))
            print(f"created database {cfg['NAME']}")


def setup_django(url: str, *, bench: str):
    """Django on the test settings and this database; PostgreSQL or exit."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "alliance.settings.test"
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit(f"{bench} needs PostgreSQL, DATABASE_URL gives {connection.vendor}")
    return connection


# --- The world, through the services -----------------------------------------------------------
def bench_world(*, branch_code: str, officer_username: str, merchant_name: str):
    """(branch officer, merchant owner): a branch, its officer and an approved merchant with a
    store in its grid, made on the first run through the services (the test factories) and
    reused by later ones."""
    from accounts.models import User
    from branches.models import Branch
    from merchants.models import Merchant, MerchantStaff
    from tests.factories import BranchFactory, UserFactory
    from tests.merchants.factories import approved_merchant

    # The factories number phones from 0 in every process: start them past any bench row.
    UserFactory.reset_sequence(50_000_000 + User.objects.count())
    branch = Branch.objects.filter(code=branch_code).first() or BranchFactory(
        code=branch_code, name="Bench West Lake", lat=30.2590, lng=120.1640
    )
    officer = User.objects.filter(username=officer_username).first() or UserFactory(
        role="branch_officer", username=officer_username, branch=branch
    )
    merchant = Merchant.objects.filter(business_name=merchant_name, status="active").first()
    if merchant is None:
        merchant = approved_merchant(reviewer=officer, business_name=merchant_name)
        print(f"  made merchant {merchant.code} (application -> approval by {officer_username})")
    owner = MerchantStaff.objects.get(merchant=merchant, role="owner").user
    return officer, owner


def customers_with_tokens(n: int, *, phone_base: int) -> list[tuple[int, str]]:
    """(user id, token key) of n bench customers (phones +86<phone_base> upwards),
    bulk-created when missing."""
    from rest_framework.authtoken.models import Token

    from accounts.models import User

    phones = [f"+86{phone_base + i}" for i in range(n)]
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


# --- Figures ---------------------------------------------------------------------------------
def pct(values, q):
    """The q-th percentile (linear interpolation between closest ranks); NaN of nothing."""
    s = sorted(values)
    if not s:
        return float("nan")
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


class Recorder:
    """A database execute wrapper that keeps the SQL sent (to count queries and rows after
    timing), cheap enough to stay on while timing."""

    def __init__(self):
        self.queries = []

    def __call__(self, execute, sql, params, many, context):
        self.queries.append((sql, params))
        return execute(sql, params, many, context)
