"""A coupon used in a payment (the unified payment QR), as opposed to at the counter.

The payment holds the coupon from the moment its order is created: the coupon is verified
against the order (a ``Verification`` keyed ``pay:<order number>``), so the counter, a second
order or a second phone cannot use it while the customer pays; the payment gives it back
(``coupon_release_from_payment``) if the order fails or closes, or when a full refund restores
it. Both run inside the payment's transaction (not durable on their own), so the order and its
coupon change together or not at all.

What a coupon takes off an amount (``discount_fen``) lives here too: the pay page, the order and
the best-coupon choice all ask the same function.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..errors import CouponAlreadyUsed, CouponNotFound, InvalidInput
from ..models import CampaignEntry, Coupon, CouponEvent, CouponTemplate, Verification
from .campaigns import reservation_move
from .verifying import mark_verified, refuse_unusable

Status = Coupon.Status
Kind = CouponTemplate.Kind

PAYMENT_KEY_PREFIX = "pay:"


def discount_fen(template: CouponTemplate, amount_fen: int) -> int:
    """What the coupon takes off a bill of ``amount_fen``; 0 when it does not apply (below the
    minimum spend, or a gift, which is an item and not money off). Never more than the bill.

    Percent off rounds the discount down to the fen (the customer is never charged a fraction;
    8.5折 of ¥12.35 takes ¥1.85, not ¥1.8525)."""
    if amount_fen <= 0 or amount_fen < template.min_spend_fen:
        return 0
    if template.kind == Kind.CASH_OFF:
        off = template.discount_fen
    elif template.kind == Kind.PERCENT_OFF:
        off = amount_fen * (100 - (template.pay_percent or 100)) // 100
        if template.cap_fen:
            off = min(off, template.cap_fen)
    elif template.kind == Kind.PAID_VOUCHER:
        off = template.discount_fen
    else:
        return 0
    return max(0, min(off, amount_fen))


def is_payment_verification(verification: Verification) -> bool:
    return verification.idempotency_key.startswith(PAYMENT_KEY_PREFIX)


def coupon_use_for_payment(
    *,
    customer_id: int,
    coupon_id: int,
    merchant_id: int,
    store_id: int,
    amount_fen: int,
    order_number: str,
    now: datetime | None = None,
) -> tuple[Verification, int]:
    """Hold the customer's coupon for a payment at ``store_id``: issued -> verified, keyed by
    the order. Returns the verification and the discount on ``amount_fen``.

    Runs in the caller's transaction (the order's); locks the coupon row. Refuses another
    customer's or another merchant's coupon (``coupon_not_found``: a payer cannot probe ids), a
    coupon that cannot be used here and now (with its reason), and one that takes nothing off
    this amount (below its minimum spend). A campaign-funded coupon turns its reservation into
    spending, as at the counter. Idempotent by the order number.
    """
    now = now or timezone.now()
    key = f"{PAYMENT_KEY_PREFIX}{order_number}"
    coupon = (
        Coupon.objects.select_for_update(of=("self",))
        .select_related("template", "template__merchant")
        .filter(pk=coupon_id, customer_id=customer_id, template__merchant_id=merchant_id)
        .first()
    )
    if coupon is None:
        raise CouponNotFound()
    done = Verification.objects.filter(merchant_id=merchant_id, idempotency_key=key).first()
    if done is not None:
        return done, discount_fen(coupon.template, amount_fen)
    refuse_unusable(coupon, now=now, store_id=store_id)
    off = discount_fen(coupon.template, amount_fen)
    if off <= 0:
        raise InvalidInput(
            {"coupon_id": _("This coupon does not apply to this amount (minimum spend not met).")}
        )
    verification = mark_verified(
        coupon, merchant_id=merchant_id, store_id=store_id, verified_by_id=customer_id,
        idempotency_key=key, now=now,
    )
    CouponEvent.objects.create(
        coupon=coupon,
        actor_id=customer_id,
        from_status=Status.ISSUED,
        to_status=Status.VERIFIED,
        reason=f"payment {order_number}",
    )
    return verification, off


def coupon_release_from_payment(
    *, verification_id: int, reason: str, now: datetime | None = None
) -> bool:
    """Give back a coupon a payment held (the order failed or closed, or a full refund while
    the coupon is still valid): verified -> issued, the verification kept with why it was
    undone. Runs in the caller's transaction; locks the coupon. Returns False (and changes
    nothing) when it was already given back. A coupon given back after its validity ended is
    issued again and the expiry job expires it, like any other.
    """
    now = now or timezone.now()
    verification = Verification.objects.filter(pk=verification_id).first()
    if verification is None or not is_payment_verification(verification):
        raise CouponNotFound()
    coupon = (
        Coupon.objects.select_for_update(of=("self",))
        .select_related("template")
        .get(pk=verification.coupon_id)
    )
    if Verification.objects.filter(pk=verification.pk, undone_at__isnull=True).update(
        undone_at=now, undo_reason=reason[:200]
    ) != 1:
        return False
    if Coupon.objects.filter(pk=coupon.pk, status=Status.VERIFIED).update(
        status=Status.ISSUED, closed_at=None
    ) != 1:
        raise AssertionError(f"coupon {coupon.pk} held by a payment was not verified")
    reservation_move(coupon, CampaignEntry.Kind.UNSPEND)
    CouponEvent.objects.create(
        coupon=coupon,
        actor_id=None,
        from_status=Status.VERIFIED,
        to_status=Status.ISSUED,
        reason=reason[:200],
    )
    return True


# --- Paid vouchers (代金券) bought through the unified payment -------------------------------
# The order takes one from the template's stock when it is created (so a voucher that sold out
# is refused before anybody pays) and gives it back if it fails or closes; the coupon itself is
# issued only once the payment is paid (``voucher_issue``).


def voucher_take_stock(
    *, customer_id: int, template_id: int, pending: int, now: datetime | None = None
) -> CouponTemplate:
    """Reserve one voucher of ``template_id`` for a purchase. In the caller's transaction;
    locks the template row. Refuses a template that is not bought (``coupon_not_claimable``),
    not live now, sold out, or a customer whose coupons of it plus ``pending`` unpaid purchases
    reach the per-customer limit (``coupon_limit_reached``)."""
    from ..errors import CouponLimitReached
    from .claiming import refusal

    now = now or timezone.now()
    template = (
        CouponTemplate.objects.select_for_update(of=("self",)).select_related("merchant")
        .filter(pk=template_id).first()
    )
    if template is None or template.status == CouponTemplate.Status.DRAFT:
        raise CouponNotFound()
    reason = refusal(template, now=now, obtain=(CouponTemplate.Obtain.PURCHASE,))
    if reason is not None:
        raise reason()
    held = Coupon.objects.filter(template=template, customer_id=customer_id).count()
    if held + pending >= template.per_customer_limit:
        raise CouponLimitReached(extra={"limit": template.per_customer_limit})
    if CouponTemplate.objects.filter(pk=template.pk, stock_left__gt=0).update(
        stock_left=F("stock_left") - 1
    ) != 1:
        from ..errors import CouponOutOfStock

        raise CouponOutOfStock()
    return template


def voucher_return_stock(*, template_id: int) -> None:
    """Give back the one a purchase took (it failed or closed). In the caller's transaction."""
    CouponTemplate.objects.filter(pk=template_id, stock_left__lt=F("total_stock")).update(
        stock_left=F("stock_left") + 1
    )


def voucher_issue(
    *, customer_id: int, template_id: int, order_number: str, now: datetime | None = None
) -> Coupon:
    """The bought voucher, issued to its buyer once the payment is paid (stock was taken when
    the order was made). In the caller's transaction; idempotent by the order (its claim key).
    Raises ``coupon_limit_reached`` if the buyer already holds the limit (two purchases paid
    at once): the payment then refunds that one."""
    from ..errors import CouponLimitReached
    from .claiming import new_code, validity_of

    now = now or timezone.now()
    key = f"{PAYMENT_KEY_PREFIX}{order_number}"
    existing = Coupon.objects.filter(customer_id=customer_id, claim_key=key).first()
    if existing is not None:
        return existing
    template = CouponTemplate.objects.select_for_update(of=("self",)).get(pk=template_id)
    held = Coupon.objects.filter(template=template, customer_id=customer_id).count()
    if held >= template.per_customer_limit:
        raise CouponLimitReached(extra={"limit": template.per_customer_limit})
    valid_from, valid_until = validity_of(template, claimed_at=now)
    coupon = Coupon.objects.create(
        template=template, customer_id=customer_id, code=new_code(), slot=held + 1,
        claim_key=key, claimed_at=now, valid_from=valid_from, valid_until=valid_until,
    )
    CouponEvent.objects.create(coupon=coupon, actor_id=customer_id, from_status="",
                               to_status=Status.ISSUED, reason=f"bought, payment {order_number}")
    return coupon


def voucher_refund(*, coupon_id: int, reason: str, now: datetime | None = None) -> Coupon:
    """An unused bought voucher is refunded: issued (or expired) -> refunded, so it can no
    longer be used while its money goes back. In the caller's transaction; locks the coupon.
    Refuses a voucher already used (``coupon_already_used``)."""
    now = now or timezone.now()
    coupon = Coupon.objects.select_for_update(of=("self",)).filter(pk=coupon_id).first()
    if coupon is None:
        raise CouponNotFound()
    if coupon.status == Status.REFUNDED:
        return coupon
    if coupon.status not in (Status.ISSUED, Status.EXPIRED):
        raise CouponAlreadyUsed()
    Coupon.objects.filter(pk=coupon.pk, status=coupon.status).update(
        status=Status.REFUNDED, closed_at=now
    )
    CouponEvent.objects.create(coupon=coupon, actor_id=None, from_status=coupon.status,
                               to_status=Status.REFUNDED, reason=reason[:200])
    coupon.status = Status.REFUNDED
    return coupon
