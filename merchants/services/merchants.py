"""Keeping a merchant: status, branch, visits; fee plans.

active <-> suspended -> closed (closed is final). Branch managers of a grid holding one of the
merchant's stores, and head office, suspend, reinstate and close; officers get a 403, staff of
another grid a 404. Every change locks the merchant (or store) row first and writes its history.
"""

from __future__ import annotations

from datetime import date

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.models import User
from alliance.errors import Forbidden, NotFound
from branches.models import Branch, GridMove

from ..errors import (
    InvalidInput,
    InvalidTransition,
    NotInYourGrid,
)
from ..models import Merchant, Store, Visit
from ._common import (
    lock_merchant,
    record_status,
    require_merchant_in_grid,
    require_reason,
)

Status = Merchant.Status


def _transition(
    *, actor, merchant_id: int, to: str, allowed_from: tuple[str, ...], reason: str
) -> Merchant:
    reason = require_reason(reason)
    require_merchant_in_grid(actor, merchant_id=merchant_id, managers_only=True)
    merchant = lock_merchant(merchant_id)
    if merchant.status not in allowed_from:
        raise InvalidTransition(extra={"status": merchant.status})
    old = merchant.status
    # Conditional on the state we checked: the lock makes it certain, the filter says so.
    updated = Merchant.objects.filter(pk=merchant.pk, status=old).update(
        status=to, updated_at=timezone.now()
    )
    if updated != 1:
        raise InvalidTransition()
    merchant.status = to
    record_status(actor=actor, merchant=merchant, from_status=old, to_status=to, reason=reason)
    return merchant


@transaction.atomic(durable=True)
def merchant_suspend(*, actor: User, merchant_id: int, reason: str) -> Merchant:
    """Suspend an active merchant (branch manager of its grid, or head office). Reason required.
    Its offers leave the customers' nearby list in the same transaction."""
    merchant = _transition(
        actor=actor,
        merchant_id=merchant_id,
        to=Status.SUSPENDED,
        allowed_from=(Status.ACTIVE,),
        reason=reason,
    )
    from coupons.services.offers import offers_merchant_suspended

    offers_merchant_suspended(merchant_id=merchant.pk)
    return merchant


@transaction.atomic(durable=True)
def merchant_reinstate(*, actor: User, merchant_id: int, reason: str) -> Merchant:
    """Reinstate a suspended merchant (branch manager of its grid, or head office); the offers
    of its live templates return."""
    merchant = _transition(
        actor=actor,
        merchant_id=merchant_id,
        to=Status.ACTIVE,
        allowed_from=(Status.SUSPENDED,),
        reason=reason,
    )
    from coupons.services.offers import offers_merchant_reinstated

    offers_merchant_reinstated(merchant_id=merchant.pk)
    return merchant


@transaction.atomic(durable=True)
def merchant_close(*, actor: User, merchant_id: int, reason: str) -> Merchant:
    """Close a merchant for good (frees its credit code for a new application). Its coupon
    templates end in the same transaction: nothing of a closed merchant stays on offer."""
    merchant = _transition(
        actor=actor,
        merchant_id=merchant_id,
        to=Status.CLOSED,
        allowed_from=(Status.ACTIVE, Status.SUSPENDED),
        reason=reason,
    )
    from coupons.services.templates import templates_end_for_merchant

    templates_end_for_merchant(merchant_id=merchant.pk, actor=actor, reason=reason)
    return merchant


@transaction.atomic(durable=True)
def merchant_move_branch(
    *, actor: User, store_id: int, to_branch_id: int | None, reason: str
) -> Store:
    """Head office puts a store into another branch's grid (``None``: the head-office pool).
    Locks the store; a conditional update plus a ``GridMove`` row, like re-gridding records.

    The next re-gridding of an affected branch applies the grid rule again and may move it back.
    """
    if not roles.is_head_office(actor):
        raise Forbidden(_("Only head office can move a merchant to another branch."))
    reason = require_reason(reason)
    store = Store.objects.select_for_update().filter(pk=store_id).first()
    if store is None:
        raise NotFound()
    if (
        to_branch_id is not None
        and not Branch.objects.filter(pk=to_branch_id, is_active=True).exists()
    ):
        raise InvalidInput({"to_branch_id": _("Choose an open branch.")})
    if store.branch_id == to_branch_id:
        raise InvalidTransition(_("The store is already in this grid."))
    old = store.branch_id
    Store.objects.filter(pk=store.pk, branch_id=old).update(branch_id=to_branch_id)
    GridMove.objects.create(
        subject_type=ContentType.objects.get_for_model(Store),
        subject_id=store.pk,
        from_branch_id=old,
        to_branch_id=to_branch_id,
        actor=actor,
        reason=reason[:200],
    )
    store.branch_id = to_branch_id
    return store


@transaction.atomic(durable=True)
def visit_record(
    *,
    actor: User,
    merchant_id: int,
    visited_on: date,
    kind: str,
    outcome: str,
    follow_up_on: date | None = None,
) -> Visit:
    """Branch staff record a visit, call or training with a merchant of their grid."""
    if not roles.is_branch_staff(actor):
        if roles.is_head_office(actor):
            raise Forbidden(_("Visits are recorded by the staff of the merchant's branch."))
        raise NotInYourGrid()
    require_merchant_in_grid(actor, merchant_id=merchant_id)
    errors = {}
    if kind not in Visit.Kind.values:
        errors["kind"] = _("Choose the type of contact.")
    if not (outcome or "").strip():
        errors["outcome"] = _("Write down the outcome.")
    if visited_on > timezone.localdate():
        errors["visited_on"] = _("The date cannot be in the future.")
    if follow_up_on is not None and follow_up_on < visited_on:
        errors["follow_up_on"] = _("The follow-up cannot be before the visit.")
    if errors:
        raise InvalidInput(errors)
    return Visit.objects.create(
        merchant_id=merchant_id,
        branch_id=actor.branch_id,
        author=actor,
        visited_on=visited_on,
        kind=kind,
        outcome=outcome.strip(),
        follow_up_on=follow_up_on,
    )


# --- Fee plans (head-office data) ---------------------------------------------------------------


@transaction.atomic(durable=True)
def fee_plan_create(*, actor: User | None, name: str, rate_bp: int, is_active: bool = True):
    """Head office (or the system, ``actor=None``) adds a fee plan: a name and a rate in basis
    points (0..10,000; also a database constraint)."""
    from ..models import FeePlan

    if actor is not None and not roles.is_head_office(actor):
        raise Forbidden(_("Only head office manages fee plans."))
    name = (name or "").strip()
    if not name:
        raise InvalidInput({"name": _("This field is required.")})
    if isinstance(rate_bp, bool) or not isinstance(rate_bp, int) or not 0 <= rate_bp <= 10_000:
        raise InvalidInput({"rate_bp": _("Enter a whole number of basis points from 0 to 10000.")})
    try:
        with transaction.atomic():
            return FeePlan.objects.create(name=name, rate_bp=rate_bp, is_active=is_active)
    except IntegrityError as exc:
        raise InvalidInput({"name": _("A fee plan with this name exists.")}) from exc
