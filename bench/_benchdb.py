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
