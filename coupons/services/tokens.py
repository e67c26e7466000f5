"""The short-lived signed token a coupon's QR carries (never the bare code).

``TimestampSigner`` over the coupon code, with its own salt: the wallet renders a fresh one
about every 30 seconds, the counter accepts it for ``COUPON_TOKEN_MAX_AGE`` seconds, so a
screenshot is useless a minute later. The code inside is unguessable and unique.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing

from ..errors import TokenExpired, TokenInvalid

_SALT = "coupons.qr-token"


def token_for(code: str) -> str:
    return signing.TimestampSigner(salt=_SALT).sign(code)


def code_from_token(token: str) -> str:
    signer = signing.TimestampSigner(salt=_SALT)
    try:
        return signer.unsign((token or "").strip(), max_age=settings.COUPON_TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise TokenExpired() from None
    except signing.BadSignature:
        raise TokenInvalid() from None
