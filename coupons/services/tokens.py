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


# --- The offline code (离线码) ---------------------------------------------------------------
# What the phone shows without a network, like a payment app's pay code: computed by the
# wallet page's script (static/coupons/offline.js, WebCrypto) from the customer's own secret,
# which the phone keeps from its last visit online, and here from the same secret:
#
#     "9" + coupon id (9 digits, more past a billion) + 30-second step mod 100 (2 digits)
#         + MAC (8 digits: HMAC-SHA256 under the customer's secret, first 8 bytes mod 10^8)
#
# 20 digits: the leading 9 and the length tell it from the 18 counter digits (whose first
# digit is 0-8 until coupon ids pass 900 million, and which reach 20 digits only past ten
# billion). One digit more of MAC than the counter code: the key is the customer's and lives
# on a phone, so a guess should be rarer still (1 in 10^8, at the coupon's own merchant,
# inside the window, under the wrong-digits limit). A used code is refused even after an undo:
# the verification records its step (see ``verifying``).
OFFLINE_PREFIX = "9"
_OFFLINE_MAC_DIGITS = 8
_OFFLINE_TAIL = 2 + _OFFLINE_MAC_DIGITS
_OFFLINE_LENGTH = len(OFFLINE_PREFIX) + _ID_DIGITS + _OFFLINE_TAIL
# Steps accepted: the current one, two before it (a code read out at the end of its step
# still confirms a minute later, like the QR's 90 s) and one ahead (a phone's clock a little
# fast; it has not synchronised since it lost the network).
OFFLINE_STEPS_BACK = 2
OFFLINE_STEPS_AHEAD = 1


def offline_step(now: float | None = None) -> int:
    return int(time.time() if now is None else now) // COUNTER_STEP_S


def _offline_mac(secret: bytes, coupon_id: int, step: int) -> str:
    digest = hmac.new(secret, f"offline-code v1:{coupon_id}:{step}".encode(), hashlib.sha256)
    value = int.from_bytes(digest.digest()[:8], "big") % 10**_OFFLINE_MAC_DIGITS
    return f"{value:0{_OFFLINE_MAC_DIGITS}d}"


def offline_code_for(secret: bytes, coupon_id: int, *, now: float | None = None) -> str:
    """The offline code of coupon ``coupon_id`` under the customer's ``secret`` at ``now``
    (Unix seconds): what the phone's script computes."""
    step = offline_step(now)
    mac = _offline_mac(secret, coupon_id, step)
    return f"{OFFLINE_PREFIX}{coupon_id:0{_ID_DIGITS}d}{step % 100:02d}{mac}"


def is_offline_code(text: str) -> bool:
    return text.isdigit() and len(text) >= _OFFLINE_LENGTH and text.startswith(OFFLINE_PREFIX)


def coupon_id_from_offline_code(text: str) -> int:
    """The coupon id in offline digits (before their MAC is checked: the key is the coupon's
    customer's); ``coupon_token_invalid`` if they are not offline digits."""
    if not is_offline_code(text):
        raise TokenInvalid()
    return int(text[len(OFFLINE_PREFIX) : -_OFFLINE_TAIL])


def offline_code_step(text: str, secret: bytes, *, now: float | None = None) -> int:
    """The full time step of valid offline digits made under ``secret``: accepted from
    ``OFFLINE_STEPS_BACK`` steps ago to ``OFFLINE_STEPS_AHEAD`` ahead; ``coupon_token_expired``
    if older (within the last 100 steps), ``coupon_token_invalid`` if forged, mistyped, made
    under another secret (a rotated one, another customer's) or from further ahead."""
    coupon_id = coupon_id_from_offline_code(text)
    shown_step = int(text[-_OFFLINE_TAIL:-_OFFLINE_MAC_DIGITS])
    current = offline_step(now)
    newest = current + OFFLINE_STEPS_AHEAD
    step = newest - (newest - shown_step) % 100  # the latest step ending in those two digits
    if not hmac.compare_digest(_offline_mac(secret, coupon_id, step), text[-_OFFLINE_MAC_DIGITS:]):
        raise TokenInvalid()
    if step < current - OFFLINE_STEPS_BACK:
        raise TokenExpired()
    return step
