"""The one-command local demo: embedded SQLite, demo data, tasks run eagerly, SMS to the log."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env, env_bool

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env("SECRET_KEY", "local-demo-secret-key-not-for-production")  # noqa: S105
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

# Eager tasks are allowed here only, so the demo needs no broker or worker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

ALLIANCE_SMS_BACKEND = "accounts.sms.ConsoleBackend"
ALLIANCE_FIELD_ENCRYPTION_KEY = env(
    "FIELD_ENCRYPTION_KEY", "local-demo-field-key-not-for-production"
)
# Demo staff sign in with username and password; production requires a TOTP code too.
ALLIANCE_STAFF_OTP_REQUIRED = env_bool("STAFF_OTP_REQUIRED", False)

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
(BASE_DIR / "var").mkdir(exist_ok=True)

# Eager tasks would log every run at INFO and bury the printed demo logins.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "WARNING"},
    },
}
