"""Benchmarks of the payment flow (bench/pay_bench.py): production's settings, with the sandbox
gateway standing in for every channel.

Everything production requires is required here too (DEBUG off, no eager tasks, a broker, its
secrets), except that ``DJANGO_PAYMENT_GATEWAYS`` must be ``{}``: every channel is the sandbox,
at ``DJANGO_SANDBOX_GATEWAY_BASE_URL`` (served by a gunicorn of its own, or by this one), over
``DJANGO_SANDBOX_GATEWAY_TRANSPORT`` (``http``, production's transport, or ``inprocess``).
Never deploy it: it serves the sandbox and its committed keys.
"""

from django.core.exceptions import ImproperlyConfigured

from . import base
from .base import env
from .production import *  # noqa: F403
from .production import ALLIANCE_PAYMENT_GATEWAYS as _REAL_CHANNELS

if _REAL_CHANNELS:
    raise ImproperlyConfigured("the bench settings use the sandbox: set DJANGO_PAYMENT_GATEWAYS={}")

SANDBOX_GATEWAY_ENABLED = True
ALLIANCE_PAYMENT_CHANNELS = base.ALLIANCE_PAYMENT_CHANNELS
ALLIANCE_PAYMENT_GATEWAYS = {
    channel: {**conf, "transport": env("SANDBOX_GATEWAY_TRANSPORT", "http")}
    for channel, conf in base.ALLIANCE_PAYMENT_GATEWAYS.items()
}
# No TLS proxy stands in front of the bench's gunicorn. The load generator sends
# ``X-Forwarded-Proto: https`` as the proxy would; the sandbox's notifications (its Celery
# worker) and our calls to the sandbox's API come in plain HTTP, which the proxy would have
# marked https: those paths are not redirected.
SECURE_REDIRECT_EXEMPT = [r"^api/payments/notify/", r"^sandbox-gateway/v3/"]
# The bench's own queue, purged by the bench (tasks of an earlier run are not run).
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", "bench")
