"""Production: every secret from the environment; refuses to start without them."""

import json

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    ALLIANCE_PAYMENT_CHANNELS,
    SANDBOX_KEYS_DIR,
    env,
    env_required,
    environ_required,
    postgres_options,
)

DEBUG = False
SECRET_KEY = env_required("SECRET_KEY")
ALLOWED_HOSTS = env_required("ALLOWED_HOSTS").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in (env("CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o]
DATABASES = {
    "default": postgres_options(
        dj_database_url.parse(environ_required("DATABASE_URL"), conn_max_age=60)
    )
}
CELERY_BROKER_URL = env_required("CELERY_BROKER_URL")
ALLIANCE_SMS_BACKEND = env_required("SMS_BACKEND")
ALLIANCE_FIELD_ENCRYPTION_KEY = env_required("FIELD_ENCRYPTION_KEY")

# A cache the web processes share (e.g. redis://cache.internal:6379/1): the counter's limit on
# wrong typed digits is then one count per merchant, and a sold-out hint reaches every process
# at once. Without it each process keeps its own (LocMem): the limit holds per process.
if cache_url := env("CACHE_URL", ""):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": cache_url}
    }

# Staff must present a TOTP code; there is no switch for it here on purpose.
ALLIANCE_STAFF_OTP_REQUIRED = True

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

# Payments: our public address (notify and return URLs) and the real channels, as JSON
# ``{"wechat": {"class": "payments.gateways.wechatpay_v3.WechatPayV3Gateway", "base_url":
# "https://api.mch.weixin.qq.com", "sp_mchid": ..., "private_key_path": ..., ...}, ...}``.
# The sandbox gateway is not served, and a channel keyed with the committed sandbox keys or
# pointed at the sandbox refuses to start.
ALLIANCE_PUBLIC_BASE_URL = env_required("PUBLIC_BASE_URL")
ALLIANCE_PAYMENT_GATEWAYS = json.loads(env_required("PAYMENT_GATEWAYS"))
SANDBOX_GATEWAY_ENABLED = False
for _channel, _conf in ALLIANCE_PAYMENT_GATEWAYS.items():
    _paths = [_conf.get("private_key_path", ""), *(_conf.get("platform_keys") or {}).values()]
    if any(str(SANDBOX_KEYS_DIR) in str(p) for p in _paths) or "sandbox-gateway" in str(
        _conf.get("base_url", "")
    ):
        raise ImproperlyConfigured(f"payment channel {_channel!r} uses the sandbox")
ALLIANCE_PAYMENT_CHANNELS = [c for c in ALLIANCE_PAYMENT_CHANNELS if c[0] in ALLIANCE_PAYMENT_GATEWAYS]
