"""Coupon state built through the coupons services, the way merchants and branches build it."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from coupons import services
from coupons.models import CouponTemplate


def template_fields(*, store_ids, **overrides) -> services.TemplateFields:
    """满100减20, 100 in stock, claimable from an hour ago for a week, valid 7 days."""
    now = timezone.now()
    values = dict(
        kind=CouponTemplate.Kind.CASH_OFF,
        title="满100减20",
        description="Spend ¥100, get ¥20 off.",
        discount_fen=2000,
        min_spend_fen=10000,
        total_stock=100,
        per_customer_limit=1,
        claim_start=now - timedelta(hours=1),
        claim_end=now + timedelta(days=7),
        validity=CouponTemplate.Validity.RELATIVE,
        valid_days=7,
        store_ids=list(store_ids),
    )
    values.update(overrides)
    return services.TemplateFields(**values)


def draft_template(*, owner, **overrides) -> CouponTemplate:
    membership = owner.merchant_membership
    store_ids = overrides.pop("store_ids", None) or list(
        membership.merchant.stores.values_list("pk", flat=True)
    )
    return services.template_create(
        actor=owner, data=template_fields(store_ids=store_ids, **overrides)
    )


def approved_template(*, owner, reviewer, **overrides) -> CouponTemplate:
    template = draft_template(owner=owner, **overrides)
    services.template_submit(actor=owner, template_id=template.pk)
    return services.template_approve(actor=reviewer, template_id=template.pk)


def live_template(*, owner, reviewer, **overrides) -> CouponTemplate:
    template = approved_template(owner=owner, reviewer=reviewer, **overrides)
    return services.template_publish(actor=owner, template_id=template.pk)


def typed(coupon, *, now: float | None = None) -> str:
    """What the cashier types for ``coupon``: the digits under the customer's QR, as shown
    ``now`` (Unix seconds; default this moment). The counter takes no permanent code."""
    return services.counter_code_for(coupon.pk, now=now)


def offline_typed(coupon, *, now: float | None = None) -> str:
    """The offline code the customer's phone shows for ``coupon`` at ``now``, from the key the
    wallet page gives it (made on first need, as the page makes it)."""
    secret = services.offline_secret_ensure(customer=coupon.customer)
    return services.offline_code_for(secret.key, coupon.pk, now=now)
