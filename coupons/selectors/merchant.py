"""Reads for the merchant pages and API: the merchant's templates and their numbers, one
template's file, the campaigns it may use, today's verifications.

Everything is scoped by the membership resolved once per request
(``merchants.selectors.membership_for``): another merchant's template or verification is a
``NotInYourGrid`` (404), never a 403, so ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from merchants.models import Merchant, MerchantStaff

from ..errors import NotInYourGrid
from ..models import Campaign, Coupon, CouponTemplate, TemplateChange, Verification
from ..services import TemplateFields
from ..services._common import local, local_midnight
from ..wording import value_in_words

Kind = CouponTemplate.Kind


@dataclass(frozen=True)
class TemplateNumbers:
    """How a template is doing: coupons claimed (any state), used, expired, and the
    claim -> verify conversion in whole per cent (None before the first claim)."""

    claimed: int = 0
    verified: int = 0
    expired: int = 0

    @property
    def conversion_percent(self) -> int | None:
        if not self.claimed:
            return None
        return (self.verified * 100 + self.claimed // 2) // self.claimed


@dataclass(frozen=True)
class TemplateRow:
    template: CouponTemplate
    numbers: TemplateNumbers

    @property
    def value_text(self) -> str:
        return value_text(self.template)


def templates_of(membership: MerchantStaff) -> QuerySet[CouponTemplate]:
    return CouponTemplate.objects.filter(merchant_id=membership.merchant_id)


def numbers_by_template(template_ids) -> dict[int, TemplateNumbers]:
    """One aggregate query over coupons, grouped by template and status."""
    counts: dict[int, dict[str, int]] = {}
    rows = (
        Coupon.objects.filter(template_id__in=template_ids)
        .order_by()
        .values_list("template_id", "status")
        .annotate(n=Count("pk"))
    )
    for template_id, status, n in rows:
        counts.setdefault(template_id, {})[status] = n
    return {
        template_id: TemplateNumbers(
            claimed=sum(by_status.values()),
            verified=by_status.get(Coupon.Status.VERIFIED, 0),
            expired=by_status.get(Coupon.Status.EXPIRED, 0),
        )
        for template_id, by_status in counts.items()
    }


def template_rows(membership: MerchantStaff) -> list[TemplateRow]:
    """The merchant's templates, newest first, with their numbers: two queries whatever the
    number of templates."""
    templates = list(templates_of(membership).prefetch_related("stores").order_by("-pk"))
    numbers = numbers_by_template([t.pk for t in templates]) if templates else {}
    return [TemplateRow(t, numbers.get(t.pk, TemplateNumbers())) for t in templates]


def template_get(membership: MerchantStaff, template_id: int) -> CouponTemplate:
    template = (
        templates_of(membership)
        .select_related("campaign", "reviewer")
        .prefetch_related("stores")
        .filter(pk=template_id)
        .first()
    )
    if template is None:
        raise NotInYourGrid()
    return template


def template_row(membership: MerchantStaff, template_id: int) -> TemplateRow:
    template = template_get(membership, template_id)
    numbers = numbers_by_template([template.pk]).get(template.pk, TemplateNumbers())
    return TemplateRow(template, numbers)


def template_history(template: CouponTemplate) -> list[TemplateChange]:
    return list(TemplateChange.objects.filter(template=template).select_related("actor"))


def usable_campaigns(merchant: Merchant) -> QuerySet[Campaign]:
    """Open campaigns that may fund this merchant's giveaways: head office's and those of the
    branches holding its stores (the same rule the service checks)."""
    branches = merchant.stores.filter(branch__isnull=False).values_list("branch_id", flat=True)
    return Campaign.objects.filter(
        Q(branch__isnull=True) | Q(branch_id__in=list(branches)), is_active=True
    ).order_by("-pk")


def template_fields_of(template: CouponTemplate) -> TemplateFields:
    """What the owner wrote on ``template``, as the services take it (an edit starts here)."""
    return TemplateFields(
        kind=template.kind,
        title=template.title,
        description=template.description,
        total_stock=template.total_stock,
        claim_start=template.claim_start,
        claim_end=template.claim_end,
        validity=template.validity,
        store_ids=sorted(s.pk for s in template.stores.all()),
        obtain=template.obtain,
        discount_fen=template.discount_fen,
        min_spend_fen=template.min_spend_fen,
        pay_percent=template.pay_percent,
        cap_fen=template.cap_fen,
        price_fen=template.price_fen,
        points_price=template.points_price,
        gift_item=template.gift_item,
        campaign_id=template.campaign_id,
        per_customer_limit=template.per_customer_limit,
        daily_cap=template.daily_cap,
        valid_from=template.valid_from,
        valid_until=template.valid_until,
        valid_days=template.valid_days,
        start_delay_days=template.start_delay_days,
        weekdays=template.weekdays,
        time_slots=[list(slot) for slot in template.time_slots],
        refund_any_time=template.refund_any_time,
        refund_on_expiry=template.refund_on_expiry,
    )


# One wording with the console (``coupons.wording``).
value_text = value_in_words


def today_start(now: datetime | None = None) -> datetime:
    return local_midnight(local(now or timezone.now()).date())


def verifications_today(
    membership: MerchantStaff, *, now: datetime | None = None
) -> QuerySet[Verification]:
    """This merchant's verifications since local midnight, newest first."""
    return (
        Verification.objects.filter(
            merchant_id=membership.merchant_id, created_at__gte=today_start(now)
        )
        .select_related("coupon__template", "coupon__customer", "store", "verified_by")
        .order_by("-pk")
    )


def verification_by_key(membership: MerchantStaff, key: str) -> Verification | None:
    return Verification.objects.filter(
        merchant_id=membership.merchant_id, idempotency_key=(key or "").strip()
    ).first()


def verification_get(membership: MerchantStaff, verification_id: int) -> Verification:
    verification = (
        Verification.objects.filter(merchant_id=membership.merchant_id, pk=verification_id)
        .select_related("coupon__template", "coupon__customer", "store", "verified_by")
        .first()
    )
    if verification is None:
        raise NotInYourGrid()
    return verification


def undo_deadline(verification: Verification) -> datetime:
    return verification.created_at + timedelta(minutes=settings.COUPON_UNDO_MINUTES)


def undoable(verification: Verification, *, now: datetime | None = None) -> bool:
    """Whether the Undo button is offered (the service decides for real)."""
    return verification.undone_at is None and (now or timezone.now()) <= undo_deadline(verification)
