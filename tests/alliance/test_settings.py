"""Production settings: pass Django's deployment checks when configured, refuse to start when not."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x" * 20 + "-a-long-random-enough-production-secret-for-the-check",
    "DJANGO_ALLOWED_HOSTS": "alliance.example.com",
    "DATABASE_URL": "postgres://alliance@db.internal:5432/alliance",
    "DJANGO_CELERY_BROKER_URL": "redis://cache.internal:6379/0",
    "DJANGO_SMS_BACKEND": "accounts.sms.ConsoleBackend",
    "DJANGO_FIELD_ENCRYPTION_KEY": "a-production-field-encryption-secret",
    "DJANGO_PUBLIC_BASE_URL": "https://alliance.example.com",
    "DJANGO_PAYMENT_GATEWAYS": json.dumps({"wechat": {
        "class": "payments.gateways.wechatpay_v3.WechatPayV3Gateway",
        "base_url": "https://api.mch.weixin.qq.com", "private_key_path": "/etc/alliance/wechat.pem",
    }}),
}


def manage(*args, env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "manage.py", *args, "--settings=alliance.settings.production"],
        cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_passes_with_the_production_environment():
    out = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert out.returncode == 0, out.stderr
    assert "no issues" in out.stdout


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV))
def test_production_refuses_to_start_without_each_secret(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    out = manage("check", env=env)
    assert out.returncode != 0
    assert f"Set the environment variable {missing}" in out.stderr


CACHE_PROBE = (
    "from django.core.cache import caches; c = caches['default']; c.set('probe', 42); "
    "print(type(c).__name__, c.get('probe'))"
)


def test_production_shares_a_redis_cache_when_given_one():
    # without DJANGO_CACHE_URL each process keeps its own cache
    out = manage("shell", "-v", "0", "-c", CACHE_PROBE, env=PRODUCTION_ENV)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["LocMemCache", "42"]
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    out = manage("shell", "-v", "0", "-c", CACHE_PROBE,
                 env={**PRODUCTION_ENV, "DJANGO_CACHE_URL": redis_url})
    if out.returncode != 0 and "Connection refused" in out.stderr:
        skip_or_fail(f"no Redis at {redis_url}")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["RedisCache", "42"]


@pytest.mark.parametrize(
    ("value", "prepared"), [(None, True), ("on", True), ("off", False), ("0", False)]
)
def test_prepared_statements_on_postgresql_unless_turned_off(monkeypatch, value, prepared):
    from alliance.settings.base import postgres_options

    if value is None:
        monkeypatch.delenv("DATABASE_PREPARED_STATEMENTS", raising=False)
    else:
        monkeypatch.setenv("DATABASE_PREPARED_STATEMENTS", value)
    options = postgres_options({"ENGINE": "django.db.backends.postgresql"}).get("OPTIONS", {})
    assert ("prepare_threshold" in options) is prepared
    sqlite = postgres_options({"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {}})
    assert "prepare_threshold" not in sqlite["OPTIONS"]


def test_a_hot_statement_without_prepared_statements_uses_djangos_cursor(monkeypatch, db):
    from django.db import connection

    from alliance.compiled import _PreparedCursor, hot_cursor

    connection.ensure_connection()
    if connection.vendor == "postgresql":
        monkeypatch.setattr(connection.connection, "prepare_threshold", None)
    with hot_cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1
        assert not isinstance(cursor.cursor, _PreparedCursor)


SANDBOX_KEY = str(ROOT / "sandbox_gateway" / "dev_keys" / "merchant_private.pem")


@pytest.mark.parametrize(
    "channel",
    [
        {"base_url": "https://api.mch.weixin.qq.com", "private_key_path": SANDBOX_KEY},
        {"base_url": "https://alliance.example.com/sandbox-gateway", "private_key_path": "/k.pem"},
    ],
)
def test_production_refuses_a_channel_on_the_sandbox_or_its_keys(channel):
    gateways = json.dumps({"wechat": {"class": "payments.gateways.wechatpay_v3.WechatPayV3Gateway",
                                      **channel}})
    out = manage("check", env={**PRODUCTION_ENV, "DJANGO_PAYMENT_GATEWAYS": gateways})
    assert out.returncode != 0
    assert "payment channel 'wechat' uses the sandbox" in out.stderr


def test_production_serves_no_sandbox_and_offers_only_its_channels():
    probe = ("from django.urls import resolve, Resolver404\n"
             "from django.conf import settings\n"
             "try:\n resolve('/sandbox-gateway/v3/pay/partner/transactions/h5'); print('served')\n"
             "except Resolver404: print('not served')\n"
             "print([c for c, _ in settings.ALLIANCE_PAYMENT_CHANNELS])")
    out = manage("shell", "-v", "0", "-c", probe, env=PRODUCTION_ENV)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["not served", "['wechat']"]
