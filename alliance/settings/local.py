"""The one-command local demo: embedded SQLite, demo data, tasks run eagerly, SMS to the log."""

import os

from .base import *  # noqa: F403
from .base import ALLIANCE_PAYMENT_GATEWAYS, BASE_DIR, env, env_bool

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

# Payments in the demo: the sandbox gateway this project serves, reached in-process (so the
# demo needs no second server), at the address ``make run`` serves (HOST, PORT), which is
# where the payer's browser is sent.
_ADDRESS = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
ALLIANCE_PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", _ADDRESS)
SANDBOX_GATEWAY_BASE_URL = ALLIANCE_PUBLIC_BASE_URL + "/sandbox-gateway"
ALLIANCE_PAYMENT_GATEWAYS = {
    channel: {**conf, "base_url": SANDBOX_GATEWAY_BASE_URL, "transport": "inprocess"}
    for channel, conf in ALLIANCE_PAYMENT_GATEWAYS.items()
}
SANDBOX_GATEWAY_NOTIFY_TRANSPORT = "inprocess"
SANDBOX_GATEWAY_REFUND_DELAY_S = 0.0
