"""The short-lived token a coupon's QR carries: the code encrypted and authenticated, never
readable from the QR.

Fernet (``cryptography``: AES-128-CBC + HMAC-SHA256, with the time of issue inside) under a
key derived from ``SECRET_KEY`` for this purpose only. The wallet renders a fresh token about
every 30 seconds; the counter accepts one for ``COUPON_TOKEN_MAX_AGE`` seconds, so a
screenshot is useless a minute later, and decoding the QR gives nobody the code to type.
"""

from __future__ import annotations

import base64
import hashlib
import time

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from ..errors import TokenExpired, TokenInvalid

_PURPOSE = b"merchant-alliance coupons.qr-token v1:"
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
