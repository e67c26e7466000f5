"""Coupon templates: what a merchant's owner writes, and the branch's review.

draft -> submitted -> approved / rejected (reason; edited and submitted again) -> live ->
paused -> live ... -> ended. The owner writes, submits, publishes, pauses, resumes and ends;
the branch staff of a grid holding one of the template's stores (head office for the pool)
approve and reject, and may pause or end a live one (with a reason). After approval only safe
edits: wording, image, more stock. Every transition and edit locks the template row and
leaves a ``TemplateChange``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from functools import partial

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.models import User
from alliance.errors import ApplicationError
from merchants.images import check_image
from merchants.models import Merchant

from ..errors import (
    InvalidInput,
    InvalidTransition,
    NotInYourGrid,
    ReasonRequired,
    StockBelowClaimed,
    UnsafeEdit,
)
from ..models import CouponTemplate
from . import offers
from ._common import lock_template, membership_of, record_change, require_reviewer
from .claiming import forget_sold_out
from .template_fields import TemplateFields, apply_fields, is_int, validate_fields

Status = CouponTemplate.Status
Kind = CouponTemplate.Kind
Obtain = CouponTemplate.Obtain
Validity = CouponTemplate.Validity

# Editable after approval without another review.
SAFE_FIELDS = frozenset({"title", "description"})


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
    errors = validate_fields(data, merchant=merchant)
    if image is not None:
        try:
            check_image(image)
        except ApplicationError as exc:
            errors["image"] = exc.message
    if errors:
        raise InvalidInput(errors)
    template = CouponTemplate(merchant=merchant, created_by=actor, stock_left=data.total_stock)
    apply_fields(template, data)
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
        errors = validate_fields(data, merchant=template.merchant)
        if errors:
            raise InvalidInput(errors)
        if data.total_stock != template.total_stock:
            template.stock_left = data.total_stock
        apply_fields(template, data)
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


def _stock_changed(template: CouponTemplate, *, actor, fields: dict) -> CouponTemplate:
    """After a stock change: the row read again, the sold-out hint forgotten (now, and again
    once committed: a claim in between may have set it again), the change recorded."""
    template.refresh_from_db()
    forget_sold_out(template.pk)
    transaction.on_commit(partial(forget_sold_out, template.pk))
    record_change(
        template=template,
        actor=actor,
        from_status=template.status,
        to_status=template.status,
        reason="stock",
        fields=fields,
    )
    return template


@transaction.atomic(durable=True)
def template_add_stock(*, actor: User, template_id: int, more: int) -> CouponTemplate:
    """The owner adds stock (never removes: what is claimed stays claimed). One conditional
    update of both counters."""
    template = _own_template(actor, template_id)
    if not is_int(more) or not 1 <= more <= 10_000_000:
        raise InvalidInput({"more": _("Add between 1 and 10,000,000.")})
    if template.status == Status.ENDED:
        raise InvalidTransition(_("An ended coupon cannot be changed."))
    CouponTemplate.objects.filter(pk=template.pk).update(
        total_stock=F("total_stock") + more,
        stock_left=F("stock_left") + more,
        updated_at=timezone.now(),
    )
    return _stock_changed(template, actor=actor, fields={"added": more})


@transaction.atomic(durable=True)
def template_set_stock(*, actor: User, template_id: int, total_stock: int) -> CouponTemplate:
    """The owner sets the total stock; refused below what is claimed (``stock_below_claimed``),
    and after approval refused below the current total (only more stock is a safe edit)."""
    template = _own_template(actor, template_id)
    if not is_int(total_stock) or not 1 <= total_stock <= 10_000_000:
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
    return _stock_changed(template, actor=actor, fields={"total_stock": total_stock})


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
