"""Coupon templates: what a merchant's owner writes, and the branch's review.

draft -> submitted -> approved / rejected (reason; edited and submitted again) -> live ->
paused -> live ... -> ended. The owner writes, submits, publishes, pauses, resumes and ends;
the branch staff of a grid holding one of the template's stores (head office for the pool)
approve and reject, and may pause or end a live one (with a reason). After approval only safe
edits: wording, image, more stock. Every transition and edit locks the template row and
leaves a ``TemplateChange``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.models import User
from alliance.errors import ApplicationError
from merchants.images import check_image
from merchants.models import Merchant, Store

from ..errors import (
    InvalidInput,
    InvalidTransition,
    NotInYourGrid,
    ReasonRequired,
    StockBelowClaimed,
    UnsafeEdit,
)
from ..models import Campaign, CouponTemplate
from . import offers
from ._common import lock_template, membership_of, record_change, require_reviewer
from .claiming import forget_sold_out

Status = CouponTemplate.Status
Kind = CouponTemplate.Kind
Obtain = CouponTemplate.Obtain
Validity = CouponTemplate.Validity

_SLOT = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# Editable after approval without another review.
SAFE_FIELDS = frozenset({"title", "description"})


@dataclass
class TemplateFields:
    """Everything the owner writes on a template (the form and the API fill this)."""

    kind: str
    title: str
    total_stock: int
    claim_start: datetime
    claim_end: datetime
    validity: str
    store_ids: list[int]
    obtain: str = Obtain.FREE
    description: str = ""
    discount_fen: int = 0
    min_spend_fen: int = 0
    pay_percent: int | None = None
    cap_fen: int = 0
    price_fen: int = 0
    points_price: int = 0
    gift_item: str = ""
    campaign_id: int | None = None
    per_customer_limit: int = 1
    daily_cap: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: int | None = None
    start_delay_days: int = 0
    weekdays: int = 127
    time_slots: list = field(default_factory=list)
    refund_any_time: bool = True
    refund_on_expiry: bool = True


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate(data: TemplateFields, *, merchant: Merchant) -> dict:
    """Field errors of ``data`` (empty when valid), in the user's language."""
    errors: dict[str, object] = {}
    required = _("This field is required.")
    if data.kind not in Kind.values:
        errors["kind"] = _("Choose a kind of coupon.")
    if data.obtain not in Obtain.values:
        errors["obtain"] = _("Choose how the coupon is obtained.")
    if not (data.title or "").strip():
        errors["title"] = required
    elif len(data.title.strip()) > 60:
        errors["title"] = _("At most 60 characters.")
    money = ("discount_fen", "min_spend_fen", "cap_fen", "price_fen", "points_price")
    for name in money:
        value = getattr(data, name)
        if not _is_int(value) or value < 0 or value > 100_000_000:
            errors[name] = _("Enter an amount of zero or more.")
    if not _is_int(data.total_stock) or not 1 <= data.total_stock <= 10_000_000:
        errors["total_stock"] = _("Stock must be between 1 and 10,000,000.")
    if not _is_int(data.per_customer_limit) or not 1 <= data.per_customer_limit <= 100:
        errors["per_customer_limit"] = _("The limit per customer must be between 1 and 100.")
    if data.daily_cap is not None and (not _is_int(data.daily_cap) or data.daily_cap < 1):
        errors["daily_cap"] = _("The daily cap must be at least 1, or empty for none.")
    if not data.claim_start or not data.claim_end:
        errors["claim_end"] = required
    elif data.claim_end <= data.claim_start:
        errors["claim_end"] = _("The claim window must end after it starts.")
    if not errors.keys() & set(money):
        _validate_value(data, errors)
    _validate_validity(data, errors)
    if not _is_int(data.weekdays) or not 1 <= data.weekdays <= 127:
        errors["weekdays"] = _("Choose at least one weekday.")
    if not _slots_ok(data.time_slots):
        errors["time_slots"] = _("Give hours as HH:MM-HH:MM, each ending after it starts.")
    store_ids = set(data.store_ids or [])
    own = set(
        Store.objects.filter(merchant=merchant, pk__in=store_ids).values_list("pk", flat=True)
    )
    if not store_ids:
        errors["store_ids"] = _("Choose at least one store.")
    elif own != store_ids:
        errors["store_ids"] = _("Choose among your own stores.")
    if data.obtain == Obtain.CAMPAIGN or data.campaign_id is not None:
        _validate_campaign(data, merchant, errors)
    return errors


def _validate_value(data: TemplateFields, errors: dict) -> None:
    if data.kind == Kind.CASH_OFF:
        if data.discount_fen <= 0:
            errors["discount_fen"] = _("Say how much is taken off.")
        elif data.min_spend_fen and data.discount_fen >= data.min_spend_fen:
            errors["discount_fen"] = _("The discount must be less than the minimum spend.")
    elif data.kind == Kind.PERCENT_OFF:
        if not _is_int(data.pay_percent) or not 1 <= data.pay_percent <= 99:
            errors["pay_percent"] = _(
                "Enter what the customer pays, 1 to 99 per cent (85 = 8.5折)."
            )
        if data.cap_fen <= 0:
            errors["cap_fen"] = _("Say the most that can be taken off.")
    elif data.kind == Kind.PAID_VOUCHER:
        if data.price_fen <= 0:
            errors["price_fen"] = _("Say what the voucher costs.")
        if data.discount_fen <= data.price_fen:
            errors["discount_fen"] = _("The voucher must be worth more than it costs.")
        if data.obtain != Obtain.PURCHASE:
            errors["obtain"] = _("A paid voucher is obtained by purchase.")
    elif data.kind == Kind.GIFT:
        if not (data.gift_item or "").strip():
            errors["gift_item"] = _("Name the free item.")
    if data.obtain == Obtain.POINTS and data.points_price <= 0:
        errors["points_price"] = _("Say how many points it costs.")
    if data.obtain == Obtain.PURCHASE and data.kind != Kind.PAID_VOUCHER:
        errors["obtain"] = _("Only a paid voucher is bought.")


def _validate_validity(data: TemplateFields, errors: dict) -> None:
    if data.validity == Validity.FIXED:
        if not data.valid_from or not data.valid_until:
            errors["valid_until"] = _("Give the first and the last moment the coupon is valid.")
        elif data.valid_until <= data.valid_from:
            errors["valid_until"] = _("The validity must end after it starts.")
        elif data.claim_end and data.valid_until < data.claim_end:
            errors["valid_until"] = _("Coupons must stay valid at least until claiming ends.")
    elif data.validity == Validity.RELATIVE:
        if not _is_int(data.valid_days) or not 1 <= data.valid_days <= 366:
            errors["valid_days"] = _("Valid for 1 to 366 days after claim.")
        if not _is_int(data.start_delay_days) or not 0 <= data.start_delay_days <= 90:
            errors["start_delay_days"] = _("Usable after 0 to 90 days.")
    else:
        errors["validity"] = _("Choose fixed dates or a number of days after claim.")


def _slots_ok(slots) -> bool:
    if not isinstance(slots, list):
        return False
    for slot in slots:
        if not (isinstance(slot, list | tuple) and len(slot) == 2):
            return False
        start, end = slot
        if not (isinstance(start, str) and isinstance(end, str)):
            return False
        if not (_SLOT.match(start) and (_SLOT.match(end) or end == "24:00")) or end <= start:
            return False
    return True


def _validate_campaign(data: TemplateFields, merchant: Merchant, errors: dict) -> None:
    if data.campaign_id is None:
        errors["campaign_id"] = _("Choose the campaign that funds this giveaway.")
        return
    branches = set(merchant.stores.filter(branch__isnull=False).values_list("branch_id", flat=True))
    ok = Campaign.objects.filter(
        Q(branch__isnull=True) | Q(branch_id__in=branches), pk=data.campaign_id, is_active=True
    ).exists()
    if not ok:
        errors["campaign_id"] = _("Choose an open campaign of your branch or of head office.")


def _apply(template: CouponTemplate, data: TemplateFields) -> None:
    values = asdict(data)
    values.pop("store_ids")
    values["title"] = data.title.strip()
    values["description"] = (data.description or "").strip()
    values["gift_item"] = (data.gift_item or "").strip()
    if data.campaign_id is not None:
        values["funded_by"] = CouponTemplate.FundedBy.CAMPAIGN
    else:
        values["funded_by"] = CouponTemplate.FundedBy.MERCHANT
    if data.validity == Validity.FIXED:
        values.update(valid_days=None, start_delay_days=0)
    else:
        values.update(valid_from=None, valid_until=None)
    if data.kind != Kind.PERCENT_OFF:
        values.update(pay_percent=None)
    for name, value in values.items():
        setattr(template, name, value)
    template.time_slots = [list(slot) for slot in data.time_slots]


def _owner_merchant(actor) -> Merchant:
    membership = membership_of(actor, owner=True)
    merchant = membership.merchant
    if merchant.status != Merchant.Status.ACTIVE:
        raise InvalidTransition(_("Only an active merchant can publish coupons."))
    return merchant


def _own_template(actor, template_id: int, *, owner: bool = True) -> CouponTemplate:
    membership = membership_of(actor, owner=owner)
    template = lock_template(template_id)
    if template.merchant_id != membership.merchant_id:
        raise NotInYourGrid()
    return template


@transaction.atomic(durable=True)
def template_create(
    *, actor: User, data: TemplateFields, image: UploadedFile | None = None
) -> CouponTemplate:
    """The owner writes a new template (a draft). Field errors are ``invalid`` with
    ``extra.fields``; nothing is written unless all is valid."""
    merchant = _owner_merchant(actor)
    errors = _validate(data, merchant=merchant)
    if image is not None:
        try:
            check_image(image)
        except ApplicationError as exc:
            errors["image"] = exc.message
    if errors:
        raise InvalidInput(errors)
    template = CouponTemplate(merchant=merchant, created_by=actor, stock_left=data.total_stock)
    _apply(template, data)
    template.stock_left = data.total_stock
    if image is not None:
        template.image = image
    template.save()
    template.stores.set(data.store_ids)
    record_change(template=template, actor=actor, from_status="", to_status=Status.DRAFT)
    return template


@transaction.atomic(durable=True)
def template_update(*, actor: User, template_id: int, data: TemplateFields) -> CouponTemplate:
    """Before approval (draft or rejected) the owner changes anything. After approval only
    the wording (``SAFE_FIELDS``) and more stock (``template_add_stock``); any other change is
    refused with ``unsafe_edit``."""
    template = _own_template(actor, template_id)
    if template.status in (Status.DRAFT, Status.REJECTED):
        errors = _validate(data, merchant=template.merchant)
        if errors:
            raise InvalidInput(errors)
        if data.total_stock != template.total_stock:
            template.stock_left = data.total_stock
        _apply(template, data)
        template.save()
        template.stores.set(data.store_ids)
        record_change(
            template=template,
            actor=actor,
            from_status=template.status,
            to_status=template.status,
            reason="edited",
        )
        return template
    if template.status == Status.SUBMITTED:
        raise InvalidTransition(_("The template is being reviewed. Wait for the decision."))
    if template.status == Status.ENDED:
        raise InvalidTransition(_("An ended coupon cannot be changed."))
    changed = _changed_fields(template, data)
    if changed - SAFE_FIELDS:
        raise UnsafeEdit(extra={"fields": sorted(changed - SAFE_FIELDS)})
    if not (data.title or "").strip():
        raise InvalidInput({"title": _("This field is required.")})
    old = {name: getattr(template, name) for name in sorted(changed)}
    template.title = data.title.strip()[:60]
    template.description = (data.description or "").strip()
    template.save(update_fields=["title", "description", "updated_at"])
    new = {name: getattr(template, name) for name in sorted(changed)}
    record_change(
        template=template,
        actor=actor,
        from_status=template.status,
        to_status=template.status,
        reason="edited",
        fields={"old": old, "new": new},
    )
    if template.status == Status.LIVE:
        offers.offers_withdraw(template)
        offers.offers_publish(template)
    return template


def _changed_fields(template: CouponTemplate, data: TemplateFields) -> set[str]:
    changed = set()
    for name, value in asdict(data).items():
        if name == "store_ids":
            if set(value) != set(template.stores.values_list("pk", flat=True)):
                changed.add(name)
        elif name == "time_slots":
            if [list(s) for s in value] != template.time_slots:
                changed.add(name)
        elif name in ("title", "description", "gift_item"):
            if (value or "").strip() != getattr(template, name):
                changed.add(name)
        elif name == "total_stock":
            if value != template.total_stock:
                changed.add(name)
        elif getattr(template, name) != value:
            changed.add(name)
    return changed


@transaction.atomic(durable=True)
def template_set_image(*, actor: User, template_id: int, image: UploadedFile) -> CouponTemplate:
    """The owner replaces the image (a safe edit in any state but ended)."""
    template = _own_template(actor, template_id)
    if template.status in (Status.SUBMITTED, Status.ENDED):
        raise InvalidTransition()
    check_image(image)
    template.image = image
    template.save(update_fields=["image", "updated_at"])
    record_change(
        template=template,
        actor=actor,
        from_status=template.status,
        to_status=template.status,
        reason="image",
    )
    return template


@transaction.atomic(durable=True)
def template_add_stock(*, actor: User, template_id: int, more: int) -> CouponTemplate:
    """The owner adds stock (never removes: what is claimed stays claimed). One conditional
    update of both counters."""
    template = _own_template(actor, template_id)
    if not _is_int(more) or not 1 <= more <= 10_000_000:
        raise InvalidInput({"more": _("Add between 1 and 10,000,000.")})
    if template.status == Status.ENDED:
        raise InvalidTransition(_("An ended coupon cannot be changed."))
    CouponTemplate.objects.filter(pk=template.pk).update(
        total_stock=F("total_stock") + more,
        stock_left=F("stock_left") + more,
        updated_at=timezone.now(),
    )
    template.refresh_from_db()
    # Now, and again once committed (a claim in between may have set the hint again).
    forget_sold_out(template.pk)
    transaction.on_commit(partial(forget_sold_out, template.pk))
    record_change(
        template=template,
        actor=actor,
        from_status=template.status,
        to_status=template.status,
        reason="stock",
        fields={"added": more},
    )
    return template


@transaction.atomic(durable=True)
def template_set_stock(*, actor: User, template_id: int, total_stock: int) -> CouponTemplate:
    """The owner sets the total stock; refused below what is claimed (``stock_below_claimed``),
    and after approval refused below the current total (only more stock is a safe edit)."""
    template = _own_template(actor, template_id)
    if not _is_int(total_stock) or not 1 <= total_stock <= 10_000_000:
        raise InvalidInput({"total_stock": _("Stock must be between 1 and 10,000,000.")})
    if template.status == Status.ENDED:
        raise InvalidTransition(_("An ended coupon cannot be changed."))
    claimed = template.total_stock - template.stock_left
    if total_stock < claimed:
        raise StockBelowClaimed(extra={"claimed": claimed})
    reviewed = template.status not in (Status.DRAFT, Status.REJECTED)
    if reviewed and total_stock < template.total_stock:
        raise UnsafeEdit(extra={"fields": ["total_stock"]})
    delta = total_stock - template.total_stock
    # Conditional on the claimed count we checked: claims move stock_left under a lock too.
    updated = CouponTemplate.objects.filter(pk=template.pk, stock_left__gte=-delta).update(
        total_stock=total_stock, stock_left=F("stock_left") + delta, updated_at=timezone.now()
    )
    if updated != 1:
        raise StockBelowClaimed()
    template.refresh_from_db()
    # Now, and again once committed (a claim in between may have set the hint again).
    forget_sold_out(template.pk)
    transaction.on_commit(partial(forget_sold_out, template.pk))
    record_change(
        template=template,
        actor=actor,
        from_status=template.status,
        to_status=template.status,
        reason="stock",
        fields={"total_stock": total_stock},
    )
    return template


def _move(template: CouponTemplate, *, actor, to: str, allowed: tuple, reason: str = "", **extra):
    if template.status not in allowed:
        raise InvalidTransition(extra={"status": template.status})
    old = template.status
    updated = CouponTemplate.objects.filter(pk=template.pk, status=old).update(
        status=to, updated_at=timezone.now(), **extra
    )
    if updated != 1:
        raise InvalidTransition()
    template.status = to
    for name, value in extra.items():
        setattr(template, name, value)
    record_change(template=template, actor=actor, from_status=old, to_status=to, reason=reason)
    if to == Status.LIVE:
        offers.offers_publish(template)
    elif old == Status.LIVE:
        offers.offers_withdraw(template)
    return template


@transaction.atomic(durable=True)
def template_submit(*, actor: User, template_id: int) -> CouponTemplate:
    """The owner sends a draft (or a rejected template, edited) to the branch."""
    template = _own_template(actor, template_id)
    if template.merchant.status != Merchant.Status.ACTIVE:
        raise InvalidTransition(_("Only an active merchant can publish coupons."))
    return _move(
        template, actor=actor, to=Status.SUBMITTED, allowed=(Status.DRAFT, Status.REJECTED)
    )


def _reviewed(actor, template_id: int) -> CouponTemplate:
    if not roles.is_bank_staff(actor):
        raise NotInYourGrid()
    template = lock_template(template_id)
    require_reviewer(actor, template)
    return template


@transaction.atomic(durable=True)
def template_approve(*, actor: User, template_id: int, reason: str = "") -> CouponTemplate:
    """Branch staff of the template's grid (head office for the pool) approve it."""
    template = _reviewed(actor, template_id)
    return _move(
        template,
        actor=actor,
        to=Status.APPROVED,
        allowed=(Status.SUBMITTED,),
        reason=(reason or "").strip(),
        reviewer=actor,
        decision_reason=(reason or "").strip(),
    )


@transaction.atomic(durable=True)
def template_reject(*, actor: User, template_id: int, reason: str) -> CouponTemplate:
    """Reject with a reason the merchant sees; the owner may edit and submit again."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    template = _reviewed(actor, template_id)
    return _move(
        template,
        actor=actor,
        to=Status.REJECTED,
        allowed=(Status.SUBMITTED,),
        reason=reason,
        reviewer=actor,
        decision_reason=reason,
    )


@transaction.atomic(durable=True)
def template_publish(*, actor: User, template_id: int) -> CouponTemplate:
    """The owner puts an approved template live (customers find it from its claim start)."""
    template = _own_template(actor, template_id)
    if template.merchant.status != Merchant.Status.ACTIVE:
        raise InvalidTransition(_("Only an active merchant can publish coupons."))
    if template.claim_end <= timezone.now():
        raise InvalidTransition(_("The claim window has passed."))
    return _move(
        template,
        actor=actor,
        to=Status.LIVE,
        allowed=(Status.APPROVED,),
        published_at=template.published_at or timezone.now(),
    )


def _owner_or_reviewer(actor, template_id: int, reason: str) -> tuple[CouponTemplate, str]:
    if roles.is_bank_staff(actor):
        reason = (reason or "").strip()
        if not reason:
            raise ReasonRequired()
        return _reviewed(actor, template_id), reason
    return _own_template(actor, template_id), (reason or "").strip()


@transaction.atomic(durable=True)
def template_pause(*, actor: User, template_id: int, reason: str = "") -> CouponTemplate:
    """Stop claims for now (owner; or the branch, with a reason). Coupons held stay usable."""
    template, reason = _owner_or_reviewer(actor, template_id, reason)
    return _move(template, actor=actor, to=Status.PAUSED, allowed=(Status.LIVE,), reason=reason)


@transaction.atomic(durable=True)
def template_resume(*, actor: User, template_id: int) -> CouponTemplate:
    template = _own_template(actor, template_id)
    if template.claim_end <= timezone.now():
        raise InvalidTransition(_("The claim window has passed."))
    return _move(template, actor=actor, to=Status.LIVE, allowed=(Status.PAUSED,))


@transaction.atomic(durable=True)
def template_end(*, actor: User, template_id: int, reason: str = "") -> CouponTemplate:
    """End for good (owner; or the branch, with a reason). Coupons held stay usable."""
    template, reason = _owner_or_reviewer(actor, template_id, reason)
    return _move(
        template,
        actor=actor,
        to=Status.ENDED,
        allowed=(Status.APPROVED, Status.LIVE, Status.PAUSED),
        reason=reason,
    )


def templates_end_due(*, now: datetime | None = None) -> int:
    """The beat job: end every template whose claim window has closed. Each in its own
    transaction (a conditional update: one ended concurrently by its owner is skipped)."""
    now = now or timezone.now()
    due = CouponTemplate.objects.filter(
        status__in=(Status.APPROVED, Status.LIVE, Status.PAUSED), claim_end__lte=now
    ).values_list("pk", flat=True)
    ended = 0
    for template_id in list(due[:10_000]):
        with transaction.atomic(durable=True):
            template = lock_template(template_id)
            if template.status in (Status.APPROVED, Status.LIVE, Status.PAUSED):
                _move(
                    template,
                    actor=None,
                    to=Status.ENDED,
                    allowed=(template.status,),
                    reason="claim window closed",
                )
                ended += 1
    return ended


def templates_end_for_merchant(*, merchant_id: int, actor, reason: str) -> int:
    """Inside the closing of a merchant: end every template still open (submitted ones are
    rejected: nobody should review a closed merchant's coupons). Coupons held stay as they are
    (refunds of paid ones come with payments)."""
    ended = 0
    open_ = (Status.DRAFT, Status.SUBMITTED, Status.APPROVED, Status.LIVE, Status.PAUSED)
    ids = CouponTemplate.objects.filter(merchant_id=merchant_id, status__in=open_)
    for template_id in list(ids.order_by("pk").values_list("pk", flat=True)):
        template = lock_template(template_id)
        to = Status.REJECTED if template.status == Status.SUBMITTED else Status.ENDED
        if template.status == Status.DRAFT:
            continue  # a draft is nobody's concern; it can no longer be submitted
        _move(template, actor=actor, to=to, allowed=(template.status,), reason=reason)
        ended += 1
    return ended
