"""Production settings: pass Django's deployment checks when configured, refuse to start when not."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x" * 20 + "-a-long-random-enough-production-secret-for-the-check",
    "DJANGO_ALLOWED_HOSTS": "alliance.example.com",
    "DATABASE_URL": "postgres://alliance@db.internal:5432/alliance",
    "DJANGO_CELERY_BROKER_URL": "redis://cache.internal:6379/0",
    "DJANGO_SMS_BACKEND": "accounts.sms.ConsoleBackend",
    "DJANGO_FIELD_ENCRYPTION_KEY": "a-production-field-encryption-secret",
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
