"""Tests: fast hashers, in-memory SMS and email. DATABASE_URL picks PostgreSQL (CI) or SQLite."""

from .base import *  # noqa: F403
from .base import ALLIANCE_PAYMENT_GATEWAYS, BASE_DIR, INSTALLED_APPS, database_from_env, env

DEBUG = False
SECRET_KEY = "test-secret-key"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLIANCE_SMS_BACKEND = "accounts.sms.MemoryBackend"
ALLIANCE_FIELD_ENCRYPTION_KEY = "test-field-encryption-key"
ALLIANCE_STAFF_OTP_REQUIRED = False

DATABASES = {"default": database_from_env(BASE_DIR / "var" / "test.sqlite3")}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tasks go to a real broker and worker in the tests that need one (marked ``worker``); the
# worker is started by tests/conftest.py on its own queue.
CELERY_TASK_ALWAYS_EAGER = False
# Static files straight from the finders (no collectstatic in tests; the live server serves them).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
LOGGING = {"version": 1, "disable_existing_loggers": False}

# A concrete gridded model for the re-gridding tests.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.gridplaces"]

# Payments: the channels speak to the sandbox gateway through the in-process transport (the
# sandbox's real views, headers and signatures, no server), and the sandbox POSTs its
# notifications to our notify view the same way. Tests with a live server and a real worker
# switch both to HTTP (tests/payments/test_worker_flow.py; the worker reads the environment).
ALLIANCE_PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "http://testserver")
SANDBOX_GATEWAY_BASE_URL = "http://testserver/sandbox-gateway"
ALLIANCE_PAYMENT_GATEWAYS = {
    channel: {**conf, "base_url": SANDBOX_GATEWAY_BASE_URL, "transport": "inprocess"}
    for channel, conf in ALLIANCE_PAYMENT_GATEWAYS.items()
}
SANDBOX_GATEWAY_NOTIFY_TRANSPORT = env("SANDBOX_NOTIFY_TRANSPORT", "inprocess")
SANDBOX_GATEWAY_RETRY_SCALE = 0.01
SANDBOX_GATEWAY_REFUND_DELAY_S = 0.0
ALLIANCE_PAYMENT_POLL_SCALE = 0.01
# The worker started by tests/conftest.py sets its own queue here (see there).
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", "celery")
