"""The sandbox's settings, each with a default (``getattr(settings, NAME, default)``), and its
keys, read once per process.

- ``SANDBOX_GATEWAY_PLATFORM_SERIAL`` / ``SANDBOX_GATEWAY_PLATFORM_PRIVATE_KEY_PATH``: the
  platform key that signs answers and notifications (dev key committed in ``dev_keys``).
- ``SANDBOX_GATEWAY_MERCHANT_KEYS``: ``{serial: public key path}`` of the merchant API keys
  the sandbox accepts requests from.
- ``SANDBOX_GATEWAY_APIV3_KEY``: the 32-byte key notifications are encrypted with.
- ``SANDBOX_GATEWAY_RETRY_SCALE``: factor on WeChat Pay's retry schedule (tests compress it).
- ``SANDBOX_GATEWAY_AUTO_DELIVER``: hand each new notification (and each refund's outcome) to
  Celery after commit (default True). False: they wait for ``services.deliver_due`` /
  the ``deliver_due`` task, which tests then call themselves.
- ``SANDBOX_GATEWAY_NOTIFY_TRANSPORT``: ``"http"`` (urllib to the notify URL, default) or
  ``"inprocess"`` (the same signed POST through ``django.test.Client`` to the notify URL's
  path in this project, for tests without a live server).
- ``SANDBOX_GATEWAY_NOTIFY_TIMEOUT_S``: per attempt (default 5 s, as the channel's).
- ``SANDBOX_GATEWAY_REFUND_DELAY_S``: a refund is PROCESSING this long before its outcome.
- ``SANDBOX_GATEWAY_REORDER_HOLD_S``: longest a reordered event is held back for a later one.
- ``SANDBOX_GATEWAY_FEE_RATE_BP``: the channel's fee in basis points on the bill (default 0).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings

DEV_KEYS = Path(__file__).resolve().parent / "dev_keys"

PLATFORM_SERIAL_DEFAULT = "SANDBOX-PLATFORM-SERIAL-0001"
MERCHANT_SERIAL_DEFAULT = "SANDBOX-MERCHANT-SERIAL-0001"

# WeChat Pay's notification schedule after a failed attempt (seconds): 15s, 15s, 30s, 3m, 10m,
# 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h; after the last it gives up (16 attempts).
RETRY_SCHEDULE_S = (
    15,
    15,
    30,
    180,
    600,
    1200,
    1800,
    1800,
    1800,
    3600,
    10800,
    10800,
    10800,
    21600,
    21600,
)


def setting(name: str, default):
    return getattr(settings, name, default)


def platform_serial() -> str:
    return setting("SANDBOX_GATEWAY_PLATFORM_SERIAL", PLATFORM_SERIAL_DEFAULT)


@cache
def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def platform_private_key() -> bytes:
    return _read(
        str(setting("SANDBOX_GATEWAY_PLATFORM_PRIVATE_KEY_PATH", DEV_KEYS / "platform_private.pem"))
    )


def merchant_public_keys() -> dict[str, bytes]:
    keys = setting(
        "SANDBOX_GATEWAY_MERCHANT_KEYS",
        {MERCHANT_SERIAL_DEFAULT: DEV_KEYS / "merchant_public.pem"},
    )
    return {serial: _read(str(path)) for serial, path in keys.items()}


def api_v3_key() -> bytes:
    key = setting("SANDBOX_GATEWAY_APIV3_KEY", "sandbox-apiv3-key-32-bytes-long!")
    return key.encode() if isinstance(key, str) else key


def retry_scale() -> float:
    return float(setting("SANDBOX_GATEWAY_RETRY_SCALE", 1.0))


def auto_deliver() -> bool:
    return bool(setting("SANDBOX_GATEWAY_AUTO_DELIVER", True))


def notify_transport() -> str:
    return setting("SANDBOX_GATEWAY_NOTIFY_TRANSPORT", "http")


def notify_timeout_s() -> float:
    return float(setting("SANDBOX_GATEWAY_NOTIFY_TIMEOUT_S", 5.0))


def refund_delay_s() -> float:
    return float(setting("SANDBOX_GATEWAY_REFUND_DELAY_S", 1.0))


def reorder_hold_s() -> float:
    return float(setting("SANDBOX_GATEWAY_REORDER_HOLD_S", 300.0))


def fee_rate_bp() -> int:
    return int(setting("SANDBOX_GATEWAY_FEE_RATE_BP", 0))


def merchants() -> dict[str, str]:
    """Service-provider merchant ids the sandbox knows -> our channel key, from the gateway
    settings (every sandbox channel has an ``sp_mchid`` of its own)."""
    found = {}
    for channel, conf in setting("ALLIANCE_PAYMENT_GATEWAYS", {}).items():
        if conf.get("sp_mchid"):
            found[str(conf["sp_mchid"])] = channel
    return found


def channel_label(sp_mchid: str) -> str:
    """The channel's name for the hosted page (``ALLIANCE_PAYMENT_CHANNELS``), or the id."""
    channel = merchants().get(sp_mchid)
    labels = dict(setting("ALLIANCE_PAYMENT_CHANNELS", []))
    return labels.get(channel, sp_mchid)
