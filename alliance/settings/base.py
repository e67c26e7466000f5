"""Settings shared by every environment.

Layering: ``base`` holds everything that is the same everywhere and reads what varies from
environment variables prefixed ``DJANGO_`` (plus the conventional ``DATABASE_URL``).
``local`` (the one-command demo: SQLite, eager Celery, console SMS), ``test`` (fast hashers,
in-memory SMS and email) and ``production`` (refuses to start without its secrets) import
``base`` and change only what differs. Nothing here reads a secret with a usable default
except ``local`` and ``test``.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import xstatic.pkg.leaflet
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str | None:
    """Read ``DJANGO_<name>`` from the environment."""
    return os.environ.get(f"DJANGO_{name}", default)


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_required(name: str) -> str:
    return environ_required(f"DJANGO_{name}")


def environ_required(full_name: str) -> str:
    value = os.environ.get(full_name)
    if not value:
        raise ImproperlyConfigured(f"Set the environment variable {full_name}.")
    return value


DEBUG = False
SECRET_KEY = env("SECRET_KEY", "")
ALLOWED_HOSTS = [h for h in (env("ALLOWED_HOSTS", "") or "").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accounts",
    "branches",
    "merchants",
    "points",
    "coupons",
    "payments",
    "sandbox_gateway",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.StaffIdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "alliance.urls"
WSGI_APPLICATION = "alliance.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.role",
            ],
            "builtins": ["alliance.templatetags.alliance"],
        },
    },
]


# --- Database -------------------------------------------------------------------------------
# DATABASE_URL chooses the database; without it, the embedded SQLite file.
def database_from_env(default_sqlite: Path) -> dict:
    url = os.environ.get("DATABASE_URL")
    if url:
        return postgres_options(dj_database_url.parse(url, conn_max_age=0))
    return sqlite_database(default_sqlite)


def postgres_options(database: dict) -> dict:
    """Prepared statements for the hot paths' statements (alliance.compiled.hot_cursor; the
    ORM's own queries bind on the client and are never prepared). Django turns them off by
    default for the sake of transaction-pooling proxies (PgBouncer in transaction mode before
    1.21), which lose a connection's prepared statements: ``DATABASE_PREPARED_STATEMENTS=off``
    behind one."""
    if database["ENGINE"].endswith("postgresql") and os.environ.get(
        "DATABASE_PREPARED_STATEMENTS", "on"
    ).lower() not in ("off", "0", "false", "no"):
        database.setdefault("OPTIONS", {})["prepare_threshold"] = 5
    return database


def sqlite_database(path: Path | str) -> dict:
    """SQLite set up for several writers at once.

    WAL lets readers run beside the writer; ``IMMEDIATE`` transactions take the write lock at
    BEGIN, so two writers queue on ``busy_timeout`` instead of failing with "database is
    locked" when a read lock cannot be upgraded.
    """
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
            ),
        },
    }


DATABASES = {
    "default": database_from_env(
        Path(env("SQLITE_PATH", str(BASE_DIR / "var" / "alliance.sqlite3")))
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "accounts.backends.PhonePasswordBackend",
    "accounts.backends.StaffUsernameBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# SMS one-time codes (customer sign-in).
ALLIANCE_SMS_BACKEND = "accounts.sms.ConsoleBackend"
ALLIANCE_SMS_CODE_TTL = timedelta(minutes=5)
ALLIANCE_SMS_CODE_MAX_TRIES = 5
ALLIANCE_SMS_PHONE_INTERVAL = timedelta(seconds=60)  # one code per phone per minute
ALLIANCE_SMS_PHONE_PER_HOUR = 5
ALLIANCE_SMS_ADDRESS_PER_HOUR = 20
# Merchant password sign-in lock-out.
ALLIANCE_LOGIN_MAX_FAILURES = 5
ALLIANCE_LOGIN_LOCKOUT = timedelta(minutes=15)
# Branch and head-office staff.
ALLIANCE_STAFF_OTP_REQUIRED = env_bool("STAFF_OTP_REQUIRED", True)
ALLIANCE_STAFF_IDLE_TIMEOUT = timedelta(minutes=30)

# --- Merchants --------------------------------------------------------------------------------
# Secret from which the Fernet key for encrypted model fields (settlement accounts) is derived.
# No default here: local and test set a dev value, production requires the variable.
ALLIANCE_FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", "")

# --- Grid -------------------------------------------------------------------------------------
ALLIANCE_GRID_RADIUS_M = 3000
# Map tiles for the console. Empty means "no tiles": the map still draws branches and hexagons
# on a plain background, which is what a bank intranet without internet access gets.
ALLIANCE_MAP_TILE_URL = env("MAP_TILE_URL", "")
ALLIANCE_MAP_TILE_ATTRIBUTION = env("MAP_TILE_ATTRIBUTION", "")

# --- Internationalisation ------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"  # display; storage is UTC (USE_TZ)
USE_TZ = True

# --- Static files ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static", ("leaflet", xstatic.pkg.leaflet.BASE_DIR)]
MEDIA_URL = "media/"
MEDIA_ROOT = BASE_DIR / "var" / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "accounts.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "alliance.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Merchant Alliance API",
    "DESCRIPTION": "Customer, merchant and branch operations of the merchant alliance.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the installed sidecar package: no public CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One schema name per shared choice set (several serializers use each).
    "ENUM_NAME_OVERRIDES": {
        "CouponKindEnum": "coupons.models.Kind",
        "TemplateStatusEnum": "coupons.models.TemplateStatus",
        "CouponStatusEnum": "coupons.models.CouponStatus",
        "DocumentKindEnum": "merchants.models.DocumentKind",
    },
}

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "purge-expired-sms-codes": {
        "task": "accounts.tasks.purge_expired_sms_codes",
        "schedule": crontab(minute=17, hour=3),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Server errors only. A 4xx is an answer the API gives on purpose, with its code (sold
        # out, refused, not found); the access log counts them. A warning for each would flood
        # the log in a flash sale (1,900 "Conflict" lines in two seconds) and cost every loser
        # a formatted write.
        "django.request": {"level": "ERROR"},
    },
}

# --- Points (points/) ------------------------------------------------------------------------
# Points earned from a payment stay pending this many days (a quick refund cannot mint points).
ALLIANCE_POINTS_PENDING_DAYS = 7
# Lots expire at the end of the Nth calendar month after the month they were earned, in
# ALLIANCE_POINTS_TIME_ZONE (earned any day of 2026-01 -> expire at 2027-02-01 00:00 there).
ALLIANCE_POINTS_EXPIRY_MONTHS = 12
ALLIANCE_POINTS_TIME_ZONE = TIME_ZONE
# Member-to-member transfer: off until head office turns it on (points.models.PointsPolicy,
# in the admin).
# What points are worth when spent (100 points = 1 yuan); clearing values spent points with it.
ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN = 100
# Points may pay at most this share of an order (percent).
ALLIANCE_POINTS_MAX_DEDUCTION_PERCENT = 50
# Customers are reminded of points that expire within this many days.
ALLIANCE_POINTS_EXPIRY_REMINDER_DAYS = 30
CELERY_BEAT_SCHEDULE |= {
    "points-release-pending": {
        "task": "points.tasks.release_due_pending_points",
        "schedule": crontab(minute=5, hour=0),
    },
    "points-expire": {
        "task": "points.tasks.expire_due_points",
        "schedule": crontab(minute=20, hour=0),
    },
    "points-expiry-reminders": {
        "task": "points.tasks.remind_expiring_points",
        "schedule": crontab(minute=0, hour=10),  # 10:00 in Shanghai: not at night
    },
    "points-tier-review": {
        "task": "points.tasks.review_tiers",
        "schedule": crontab(minute=40, hour=0, day_of_month=1),
    },
    "points-clearing": {
        "task": "points.tasks.clear_last_month",
        "schedule": crontab(minute=0, hour=2, day_of_month=1),
    },
}

# --- Coupons (coupons/) ----------------------------------------------------------------------
# How long the QR token on a wallet screen stays valid (the wallet renews it every 30 s).
COUPON_TOKEN_MAX_AGE = 90
# The merchant's owner can undo a verification this many minutes after it.
COUPON_UNDO_MINUTES = 10
CELERY_BEAT_SCHEDULE |= {
    "coupons-expire": {
        "task": "coupons.tasks.expire_due_coupons",
        "schedule": crontab(minute="*/5"),
    },
    "coupons-end-templates": {
        "task": "coupons.tasks.end_due_templates",
        "schedule": crontab(minute="*/5"),
    },
    "coupons-offer-popularity": {
        "task": "coupons.tasks.refresh_offer_popularity",
        "schedule": crontab(minute="*/5"),
    },
}


# --- Payments (payments/) and the sandbox gateway (sandbox_gateway/) ---------------------------
# Our own address as the payer's browser and the channels reach it: notify and return URLs are
# built on it. Tests point it at the live server.
ALLIANCE_PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# The channels a customer can pick, in this order on the pay page.
ALLIANCE_PAYMENT_CHANNELS = [
    ("bank_card", _("Our bank's card")),
    ("unionpay", _("UnionPay QuickPass")),
    ("wechat", _("WeChat Pay")),
    ("alipay", _("Alipay")),
]
# Unpaid orders are closed (coupon and points released) this long after they were created.
ALLIANCE_PAYMENT_TIMEOUT = timedelta(minutes=15)
# A refund can be asked for this many days after payment (the channels' own window is a year).
ALLIANCE_REFUND_WINDOW_DAYS = 365

# The sandbox gateway (sandbox_gateway/) is served at /sandbox-gateway/ except in production.
SANDBOX_GATEWAY_ENABLED = True
SANDBOX_KEYS_DIR = BASE_DIR / "sandbox_gateway" / "dev_keys"
# The sandbox gateway's own base URL (it is served by this project at /sandbox-gateway/).
SANDBOX_GATEWAY_BASE_URL = env("SANDBOX_GATEWAY_BASE_URL", "http://127.0.0.1:8000/sandbox-gateway")
# How long the sandbox waits between notification attempts is WeChat Pay's schedule
# (15 s, 15 s, 30 s, 3 m, 10 m, ...) times this factor; tests compress it.
SANDBOX_GATEWAY_RETRY_SCALE = 1.0
SANDBOX_GATEWAY_APIV3_KEY = "sandbox-apiv3-key-32-bytes-long!"  # AES-256-GCM: exactly 32 bytes


def sandbox_gateway_conf(channel: str, mchid: str) -> dict:
    """One channel of the sandbox: the WeChat Pay API v3 adapter pointed at the sandbox, with
    the committed dev keys (``sandbox_gateway/dev_keys``)."""
    return {
        "class": "payments.gateways.wechatpay_v3.WechatPayV3Gateway",
        "base_url": SANDBOX_GATEWAY_BASE_URL,
        "sp_mchid": mchid,
        "sp_appid": "wxsandbox0000000",
        "serial_no": "SANDBOX-MERCHANT-SERIAL-0001",
        "private_key_path": str(SANDBOX_KEYS_DIR / "merchant_private.pem"),
        "platform_keys": {
            "SANDBOX-PLATFORM-SERIAL-0001": str(SANDBOX_KEYS_DIR / "platform_public.pem")
        },
        "api_v3_key": SANDBOX_GATEWAY_APIV3_KEY,
    }


# Each channel's adapter (see payments.gateways.base). In the sandbox every channel is the v3
# protocol against the sandbox, with a service-provider merchant id of its own.
ALLIANCE_PAYMENT_GATEWAYS = {
    "bank_card": sandbox_gateway_conf("bank_card", "1900000101"),
    "unionpay": sandbox_gateway_conf("unionpay", "1900000102"),
    "wechat": sandbox_gateway_conf("wechat", "1900000103"),
    "alipay": sandbox_gateway_conf("alipay", "1900000104"),
}
# When no notification comes, the channel is asked on a back-off schedule
# (payments.services.orders.POLL_SCHEDULE_S) times this factor; tests compress it.
ALLIANCE_PAYMENT_POLL_SCALE = 1.0
CELERY_BEAT_SCHEDULE |= {
    "payments-close-expired": {
        "task": "payments.tasks.close_expired_orders",
        "schedule": crontab(minute="*"),
    },
    "payments-refund-expired-vouchers": {
        "task": "payments.tasks.refund_expired_vouchers",
        "schedule": crontab(minute="2-59/5"),  # after the coupons' expiry job (every 5 minutes)
    },
    "payments-resubmit-stale-refunds": {
        "task": "payments.tasks.resubmit_stale_refunds",
        "schedule": crontab(minute="*/10"),
    },
    "sandbox-gateway-deliver-due": {
        "task": "sandbox_gateway.tasks.deliver_due",
        "schedule": crontab(minute="*"),
    },
}

# --- Settlement and reconciliation (payments/settlement_tasks.py) ----------------------------
# The tasks live outside payments/tasks.py, which autodiscovery imports; name their module.
CELERY_IMPORTS = [*globals().get("CELERY_IMPORTS", []), "payments.settlement_tasks"]
CELERY_BEAT_SCHEDULE |= {
    # T+1: yesterday's batch, after midnight's late notifications have had two hours to land.
    "payments-settlement-daily": {
        "task": "payments.settlement_tasks.run_settlement",
        "schedule": crontab(minute=0, hour=2),
    },
    # The channels' statements of yesterday are ready after 09:00 (WeChat Pay's bill time).
    "payments-reconciliation-daily": {
        "task": "payments.settlement_tasks.run_reconciliation",
        "schedule": crontab(minute=0, hour=10),
    },
}
