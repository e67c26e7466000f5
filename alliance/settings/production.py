"""Production: every secret from the environment; refuses to start without them."""

import dj_database_url

from .base import *  # noqa: F403
from .base import env, env_required, environ_required, postgres_options

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
