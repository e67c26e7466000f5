"""Which of a customer's coupons can pay a bill at a store, best first (the pay page's choice)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..models import Coupon
from ..services.paying import discount_fen
from ..services.verifying import unusable_reason


@dataclass(frozen=True)
class UsableCoupon:
    coupon: Coupon
    discount_fen: int


def coupons_for_payment(
    *, customer_id: int, merchant_id: int, store_id: int, amount_fen: int, now: datetime
) -> list[UsableCoupon]:
    """The customer's coupons of this merchant that take something off ``amount_fen`` at this
    store now, the biggest discount first (then the one that expires first, so the customer
    keeps the longer-lived one)."""
    coupons = (
        Coupon.objects.filter(
            customer_id=customer_id,
            template__merchant_id=merchant_id,
            status=Coupon.Status.ISSUED,
            valid_from__lte=now,
            valid_until__gt=now,
            template__stores=store_id,
        )
        .select_related("template", "template__merchant")
        .order_by("valid_until", "pk")
    )
    usable = []
    for coupon in coupons:
        if unusable_reason(coupon, now=now) is not None:
            continue
        off = discount_fen(coupon.template, amount_fen)
        if off > 0:
            usable.append(UsableCoupon(coupon, off))
    usable.sort(key=lambda u: (-u.discount_fen, u.coupon.valid_until, u.coupon.pk))
    return usable
