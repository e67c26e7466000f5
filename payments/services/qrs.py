"""Payment QRs: each store's static QR (its poster), and a cashier's one-off QR."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.models import Store
from merchants.services._common import membership_of

from ..errors import AmountInvalid, InvalidInput
from ..models import PaymentQR
from ._common import MAX_GROSS_FEN

# How long a cashier's one-off QR can be scanned, at most and by default.
ONE_OFF_MAX_MINUTES = 60
ONE_OFF_DEFAULT_MINUTES = 10


def _token() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 bits: cannot be guessed


def qr_for_store(*, store: Store) -> PaymentQR:
    """The store's static payment QR, made on first need. Idempotent under races (one active
    static QR per store is a database constraint)."""
    qr = PaymentQR.objects.filter(store=store, kind=PaymentQR.Kind.STATIC, is_active=True).first()
    if qr is not None:
        return qr
    try:
        with transaction.atomic():
            return PaymentQR.objects.create(
                token=_token(), kind=PaymentQR.Kind.STATIC, merchant_id=store.merchant_id,
                store=store,
            )
    except IntegrityError:
        return PaymentQR.objects.get(store=store, kind=PaymentQR.Kind.STATIC, is_active=True)


@transaction.atomic(durable=True)
def qr_one_off_create(
    *, actor, store_id: int, amount_fen: int, minutes: int = ONE_OFF_DEFAULT_MINUTES,
    note: str = "", now: datetime | None = None,
) -> PaymentQR:
    """A cashier's QR for a fixed amount at one of the merchant's stores, valid ``minutes``
    (1-60) and paid once. Any staff member of the merchant may make one."""
    now = now or timezone.now()
    membership = membership_of(actor)
    store = Store.objects.filter(pk=store_id, merchant_id=membership.merchant_id).first()
    if store is None:
        raise InvalidInput({"store_id": _("Choose one of your stores.")})
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or not (
        0 < amount_fen <= MAX_GROSS_FEN
    ):
        raise AmountInvalid()
    if not isinstance(minutes, int) or not 1 <= minutes <= ONE_OFF_MAX_MINUTES:
        raise InvalidInput({"minutes": _("A one-off code lasts 1 to 60 minutes.")})
    return PaymentQR.objects.create(
        token=_token(), kind=PaymentQR.Kind.ONE_OFF, merchant_id=membership.merchant_id,
        store=store, amount_fen=amount_fen, note=(note or "").strip()[:60],
        expires_at=now + timedelta(minutes=minutes), created_by=actor,
    )
