"""What the customer shows at the counter: the QR's short-lived token, and the counter code
(digits the cashier types when there is no scanner). Both change every 30 seconds and expire;
neither is, or reveals, the coupon's permanent code.

Fernet (``cryptography``: AES-128-CBC + HMAC-SHA256, with the time of issue inside) under a
key derived from ``SECRET_KEY`` for this purpose only. The wallet renders a fresh token about
every 30 seconds; the counter accepts one for ``COUPON_TOKEN_MAX_AGE`` seconds, so a
screenshot is useless a minute later, and decoding the QR gives nobody the code to type.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from ..errors import TokenExpired, TokenInvalid

_PURPOSE = b"merchant-alliance coupons.qr-token v1:"
_COUNTER_PURPOSE = b"merchant-alliance coupons.counter-code v1:"
# A token "from the future" beyond this much clock skew between web servers is forged.
_SKEW_S = 30


def _fernet() -> Fernet:
    digest = hashlib.sha256(_PURPOSE + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def token_for(code: str, *, now: float | None = None) -> str:
    """A token for the coupon ``code``, issued ``now`` (Unix seconds; default: this moment)."""
    issued = int(time.time() if now is None else now)
    return _fernet().encrypt_at_time(code.encode(), issued).decode()


def code_from_token(token: str) -> str:
    """The code inside a valid, unexpired token; ``coupon_token_invalid`` or
    ``coupon_token_expired`` otherwise."""
    fernet = _fernet()
    raw = (token or "").strip().encode()
    try:
        issued = fernet.extract_timestamp(raw)  # checks the HMAC
        code = fernet.decrypt(raw).decode()
    except (InvalidToken, UnicodeDecodeError, ValueError):
        raise TokenInvalid() from None
    age = time.time() - issued
    if age < -_SKEW_S:
        raise TokenInvalid()
    if age > settings.COUPON_TOKEN_MAX_AGE:
        raise TokenExpired()
    return code


# --- The counter code ------------------------------------------------------------------------
# 18 digits, like a payment app's payment code: the coupon's id (9 digits, more once ids pass a
# billion), the 30-second time step modulo 100 (2 digits) and a MAC of both (7 digits,
# HMAC-SHA256 under a key of its own). Stateless: nothing is stored per code. A guess at the
# MAC succeeds once in 10 million, and only at the coupon's own merchant, within its window.
COUNTER_STEP_S = 30
_ID_DIGITS = 9
_MAC_DIGITS = 7
_TAIL = 2 + _MAC_DIGITS


def _counter_mac(coupon_id: int, step: int) -> int:
    key = hashlib.sha256(_COUNTER_PURPOSE + settings.SECRET_KEY.encode()).digest()
    digest = hmac.new(key, f"{coupon_id}:{step}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % 10**_MAC_DIGITS


def counter_code_for(coupon_id: int, *, now: float | None = None) -> str:
    """The digits the cashier types for coupon ``coupon_id`` at ``now`` (Unix seconds)."""
    step = int(time.time() if now is None else now) // COUNTER_STEP_S
    mac = _counter_mac(coupon_id, step)
    return f"{coupon_id:0{_ID_DIGITS}d}{step % 100:02d}{mac:0{_MAC_DIGITS}d}"


def is_counter_code(text: str) -> bool:
    return text.isdigit() and len(text) >= _ID_DIGITS + _TAIL


def coupon_id_from_counter_code(text: str, *, now: float | None = None) -> int:
    """The coupon id in valid counter digits. Accepted from the steps that began within
    ``COUPON_TOKEN_MAX_AGE`` seconds (rounded up to whole steps: 90 s accepts digits made 90
    to 119 s ago at most), like the QR's token; ``coupon_token_expired`` if older,
    ``coupon_token_invalid`` if forged or mistyped."""
    if not is_counter_code(text):
        raise TokenInvalid()
    coupon_id = int(text[:-_TAIL])
    shown_step, mac = int(text[-_TAIL:-_MAC_DIGITS]), int(text[-_MAC_DIGITS:])
    current = int(time.time() if now is None else now) // COUNTER_STEP_S
    oldest = current - -(-settings.COUPON_TOKEN_MAX_AGE // COUNTER_STEP_S)  # ceil
    # The step is known modulo 100: the one of the last 100 steps (50 minutes; one step of
    # clock skew ahead allowed) that ends in those two digits. Only the MAC says it is real.
    step = current + 1 - (current + 1 - shown_step) % 100
    expected = f"{_counter_mac(coupon_id, step):0{_MAC_DIGITS}d}"
    if not hmac.compare_digest(expected, f"{mac:0{_MAC_DIGITS}d}"):
        raise TokenInvalid()
    if step < oldest:
        raise TokenExpired()
    return coupon_id
