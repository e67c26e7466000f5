"""Claiming a coupon: the hot path of a flash sale.

Every refusal that can be decided from a plain read (not live, not started, ended, sold out,
the customer's limit) is answered before any transaction, so the losers of a flash sale cost
one indexed read — and, once a process has seen the stock run out, not even that (a
two-second sold-out hint in the cache). The winners' transaction writes the coupon first and takes the stock last:
the template row, which every winner needs, is locked only from that update to the commit.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.models import User
from alliance.errors import Forbidden
from points.services import points_spend_within

from ..errors import (
    CouponDailyCapReached,
    CouponEnded,
    CouponLimitReached,
    CouponNotClaimable,
    CouponNotFound,
    CouponNotStarted,
    CouponOutOfStock,
    CouponPaused,
    InvalidInput,
)
from ..models import ClaimDay, Coupon, CouponTemplate
from ._common import days_after, local, local_midnight, record_event
from .campaigns import budget_reserve

Status = CouponTemplate.Status
# Unambiguous when read aloud or typed: no 0/O, 1/I/L.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12  # 31**12 ~ 2**59: not guessable at any rate the counter allows


def new_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


# What a claim reads of the template and its merchant: never the merchant's whole row (its
# settlement fields are encrypted, and decrypting them on every claim costs the hot path).
_CLAIM_FIELDS = (
    "kind",
    "obtain",
    "status",
    "claim_start",
    "claim_end",
    "stock_left",
    "total_stock",
    "per_customer_limit",
    "daily_cap",
    "campaign_id",
    "discount_fen",
    "cap_fen",
    "price_fen",
    "points_price",
    "title",
    "validity",
    "valid_from",
    "valid_until",
    "valid_days",
    "start_delay_days",
    "merchant__status",
)
# A sold-out template is remembered this long, per process, so that the flash crowd's losers
# are answered without reading the template. A hint, never the decision: stock added back
# reaches the other processes within this time; the claim itself still decides by the
# conditional update.
SOLD_OUT_HINT_S = 2


def _sold_out_key(template_id: int) -> str:
    return f"coupons:sold-out:{template_id}"


def sold_out_hint(template_id: int) -> bool:
    """Whether this process has just seen the template sold out (a hint; see above)."""
    return bool(cache.get(_sold_out_key(template_id)))


def forget_sold_out(template_id: int) -> None:
    cache.delete(_sold_out_key(template_id))


def _claimable_template(template_id: int) -> CouponTemplate:
    template = (
        CouponTemplate.objects.select_related("merchant")
        .only(*_CLAIM_FIELDS)
        .filter(pk=template_id, status__in=(Status.LIVE, Status.PAUSED, Status.ENDED))
        .first()
    )
    if template is None:
        raise CouponNotFound()
    return template


FREE = (CouponTemplate.Obtain.FREE, CouponTemplate.Obtain.CAMPAIGN)
FOR_POINTS = (CouponTemplate.Obtain.POINTS,)


def refusal(template: CouponTemplate, *, now: datetime, obtain=FREE) -> type | None:
    """Why this template cannot be claimed (``obtain``: the ways this call may obtain it) by
    anybody now (an error class), or None."""
    if template.obtain not in obtain:
        return CouponNotClaimable
    if template.status == Status.ENDED or now >= template.claim_end:
        return CouponEnded
    if template.status != Status.LIVE or template.merchant.status != "active":
        return CouponPaused
    if now < template.claim_start:
        return CouponNotStarted
    if template.stock_left <= 0:
        return CouponOutOfStock
    return None


def validity_of(template: CouponTemplate, *, claimed_at: datetime) -> tuple[datetime, datetime]:
    """[valid_from, valid_until) of a coupon claimed at ``claimed_at``.

    Fixed: the template's dates. Relative: usable at once (or from local midnight after the
    start delay) until local midnight ``valid_days`` days after the day of claim (the day of
    claim counts as the first).
    """
    if template.validity == CouponTemplate.Validity.FIXED:
        return template.valid_from, template.valid_until
    delay = template.start_delay_days
    start = days_after(claimed_at, delay) if delay else claimed_at
    return start, days_after(claimed_at, delay + template.valid_days)


@transaction.atomic(durable=True)
def _claim(*, customer: User, template: CouponTemplate, claim_key: str, now: datetime, held: int):
    """One attempt, one transaction. A unique violation (this customer's slot taken, or this
    key used, by a concurrent claim that committed first: the insert waited for it) rolls it
    all back and reaches the caller, who looks again; no savepoint on the hot path."""
    valid_from, valid_until = validity_of(template, claimed_at=now)
    coupon = Coupon(
        template=template,
        customer=customer,
        code=new_code(),
        slot=held + 1,
        claim_key=claim_key,
        claimed_at=now,
        valid_from=valid_from,
        valid_until=valid_until,
        reserved_fen=template.worst_case_cost_fen if template.campaign_id else 0,
    )
    coupon.save(force_insert=True)
    record_event(coupon=coupon, actor=customer, from_status="", to_status=Coupon.Status.ISSUED)
    if template.daily_cap:
        _take_daily(template, now)
    if template.campaign_id:
        budget_reserve(
            campaign_id=template.campaign_id, coupon=coupon, amount_fen=coupon.reserved_fen
        )
    if template.obtain == CouponTemplate.Obtain.POINTS:
        points_spend_within(
            customer_id=customer.pk,
            points=template.points_price,
            idempotency_key=f"coupon-exchange:{customer.pk}:{claim_key}",
            reference_type="coupon",
            reference_id=coupon.pk,
            reason=template.title,
            actor=customer,
            now=now,
        )
    # Last: the row every winner needs stays locked only until the commit just after this.
    taken = CouponTemplate.objects.filter(
        pk=template.pk, status=Status.LIVE, stock_left__gt=0, claim_end__gt=now
    ).update(stock_left=F("stock_left") - 1)
    if taken != 1:
        template.refresh_from_db(fields=["status", "stock_left", "claim_end"])
        reason = refusal(template, now=now, obtain=(template.obtain,)) or CouponOutOfStock
        if reason is CouponOutOfStock:
            cache.set(_sold_out_key(template.pk), True, SOLD_OUT_HINT_S)
        raise reason()
    return coupon


def _claim_until_decided(
    *, customer: User, template: CouponTemplate, claim_key: str, now: datetime, held: int
) -> Coupon:
    while True:
        if held >= template.per_customer_limit:
            raise CouponLimitReached(extra={"limit": template.per_customer_limit})
        try:
            return _claim(
                customer=customer, template=template, claim_key=claim_key, now=now, held=held
            )
        except IntegrityError:
            existing = Coupon.objects.filter(customer=customer, claim_key=claim_key).first()
            if existing is not None:
                return existing  # the same request, made twice at once
            held = Coupon.objects.filter(template=template, customer=customer).count()


def _take_daily(template: CouponTemplate, now: datetime) -> None:
    day = local(now).date()
    ClaimDay.objects.get_or_create(template=template, day=day, defaults={"cap": template.daily_cap})
    taken = ClaimDay.objects.filter(template=template, day=day, claimed__lt=F("cap")).update(
        claimed=F("claimed") + 1
    )
    if taken != 1:
        raise CouponDailyCapReached(
            extra={"next_claim_at": local_midnight(day + timedelta(days=1)).isoformat()}
        )


def coupon_claim(
    *, customer: User, template_id: int, claim_key: str, now: datetime | None = None
) -> Coupon:
    """Give the customer one coupon of the template, or refuse with the reason.

    Atomic and idempotent: the same ``claim_key`` (a double tap, a retried request) returns the
    coupon it made. Stock (conditional update, ``stock_left >= 0``), the per-customer limit
    (unique slot per customer), the daily cap (conditional update, ``claimed <= cap``) and the
    campaign budget (conditional update, ``reserved + spent <= budget``) each hold in the
    database under any concurrency; a refused claim writes nothing.
    """
    return _obtain(
        customer=customer, template_id=template_id, claim_key=claim_key, now=now, obtain=FREE
    )


def coupon_exchange(
    *, customer: User, template_id: int, claim_key: str, now: datetime | None = None
) -> Coupon:
    """Exchange points for a coupon: :func:`coupon_claim` for a template obtained by points,
    and the points are spent (oldest lot first) in the same transaction — the customer gets
    the coupon and pays, or neither (``points_insufficient``). Idempotent by ``claim_key``."""
    return _obtain(
        customer=customer, template_id=template_id, claim_key=claim_key, now=now, obtain=FOR_POINTS
    )


def _obtain(*, customer, template_id: int, claim_key: str, now, obtain) -> Coupon:
    if not roles.is_customer(customer):
        raise Forbidden()
    claim_key = (claim_key or "").strip()
    if not 8 <= len(claim_key) <= 64:
        raise InvalidInput({"claim_key": _("Send a unique key of 8 to 64 characters per claim.")})
    # One read answers both "did this key already claim?" and "how many does the customer
    # hold of this template?" (at most the limit's few rows).
    mine = list(
        Coupon.objects.filter(Q(claim_key=claim_key) | Q(template_id=template_id), customer=customer)
    )
    existing = next((c for c in mine if c.claim_key == claim_key), None)
    if existing is not None:
        if existing.template_id != template_id:
            raise InvalidInput({"claim_key": _("This key was used for another coupon.")})
        return existing
    if sold_out_hint(template_id):
        raise CouponOutOfStock()
    now = now or timezone.now()
    template = _claimable_template(template_id)
    reason = refusal(template, now=now, obtain=obtain)
    if reason is CouponOutOfStock:
        cache.set(_sold_out_key(template_id), True, SOLD_OUT_HINT_S)
    if reason is not None:
        raise reason()
    held = sum(1 for c in mine if c.template_id == template_id)
    if held >= template.per_customer_limit:
        raise CouponLimitReached(extra={"limit": template.per_customer_limit})
    return _claim_until_decided(
        customer=customer, template=template, claim_key=claim_key, now=now, held=held
    )
