"""The customer's key for offline codes (离线码): made on first need, rotated on demand.

The key is 32 random bytes (256 bits), kept hex-encoded in an encrypted column
(``merchants.crypto``) and handed to the customer's own phone by the wallet page over the
signed-in session; the phone computes the codes from it (``static/coupons/offline.js``) and
the counter checks them with ``tokens.offline_code_step``.
"""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User

from ..models import OfflineSecret

_KEY_BYTES = 32


def offline_secret_ensure(*, customer: User) -> OfflineSecret:
    """The customer's key, made now if they have none. Idempotent: two first visits at once
    (two tabs) make one key, and both get it."""
    found = OfflineSecret.objects.filter(customer_id=customer.pk).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return OfflineSecret.objects.create(
                customer_id=customer.pk, secret=secrets.token_hex(_KEY_BYTES)
            )
    except IntegrityError:  # the other visit made it first
        return OfflineSecret.objects.get(customer_id=customer.pk)


@transaction.atomic
def offline_secret_rotate(*, customer: User) -> OfflineSecret:
    """A new key for the customer (e.g. when they sign out everywhere or lose a phone): every
    offline code made under the old key stops verifying at once; a phone gets the new key on
    its next visit to the wallet online. Not durable, so it can join the caller's transaction
    (signing out everywhere rotates in the same commit)."""
    key = secrets.token_hex(_KEY_BYTES)
    updated = OfflineSecret.objects.filter(customer_id=customer.pk).update(
        secret=key, rotated_at=timezone.now()
    )
    if not updated:
        return offline_secret_ensure(customer=customer)
    return OfflineSecret.objects.get(customer_id=customer.pk)


def offline_key_of_coupon(coupon_id: int) -> bytes | None:
    """The key of the customer who holds coupon ``coupon_id`` (None: no such coupon, or its
    customer has never been given a key, so no offline code of it can be real)."""
    found = OfflineSecret.objects.filter(customer__coupons__pk=coupon_id).first()
    return found.key if found else None
