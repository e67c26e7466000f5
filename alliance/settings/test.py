"""Tests: fast hashers, in-memory SMS and email. DATABASE_URL picks PostgreSQL (CI) or SQLite."""

from .base import *  # noqa: F403
from .base import BASE_DIR, INSTALLED_APPS, database_from_env

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
