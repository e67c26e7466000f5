"""Helpers shared by the merchants services: who may act where, history rows, notifications."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import translation

from accounts import roles
from accounts.sms import send_sms
from alliance.errors import Forbidden, NotFound
from branches.selectors import branch_owning

from ..errors import NotInYourGrid, ReasonRequired
from ..models import Merchant, MerchantApplication, MerchantStaff, StatusChange, Store


def require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    return reason


def record_status(
    *,
    actor,
    from_status: str,
    to_status: str,
    reason: str = "",
    application: MerchantApplication | None = None,
    merchant: Merchant | None = None,
) -> StatusChange:
    return StatusChange.objects.create(
        application=application,
        merchant=merchant,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
    )


def owning_branch_id(*, lat: float, lng: float) -> int | None:
    """The grid rule: nearest active branch whose circle holds the point (ties: lower id)."""
    branch = branch_owning(lat=lat, lng=lng).branch
    return branch.pk if branch else None


def require_application_reviewer(actor, *, branch_id: int | None) -> None:
    """Head office reviews everything (and the pool); branch staff only their grid's.

    Anybody else gets the same 404 as an application that does not exist.
    """
    if roles.is_head_office(actor):
        return
    if roles.is_branch_staff(actor) and branch_id is not None and actor.branch_id == branch_id:
        return
    raise NotInYourGrid()


def merchant_branch_ids(merchant_id: int) -> set[int]:
    return set(
        Store.objects.filter(merchant_id=merchant_id, branch__isnull=False).values_list(
            "branch_id", flat=True
        )
    )


def require_merchant_in_grid(actor, *, merchant_id: int, managers_only: bool = False) -> None:
    """Head office: any merchant. Branch staff: a merchant with a store in their grid (else a
    404); ``managers_only`` refuses officers with a 403. Merchant staff and customers: 404 for
    another merchant, 403 for their own."""
    if roles.is_head_office(actor):
        return
    if roles.is_branch_staff(actor) and actor.branch_id in merchant_branch_ids(merchant_id):
        if managers_only and not roles.is_branch_manager(actor):
            raise Forbidden()
        return
    if (
        roles.is_merchant(actor)
        and MerchantStaff.objects.filter(user=actor, merchant_id=merchant_id).exists()
    ):
        raise Forbidden()
    raise NotInYourGrid()


def membership_of(actor, *, merchant_id: int | None = None, owner: bool = False) -> MerchantStaff:
    """The actor's membership (of ``merchant_id`` if given): a 404 if none, a 403 for a cashier
    when ``owner`` is required."""
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise NotFound()
    qs = MerchantStaff.objects.select_related("merchant").filter(user=actor)
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id)
    membership = qs.first()
    if membership is None:
        raise NotFound()
    if owner and membership.role != MerchantStaff.Role.OWNER:
        raise Forbidden()
    return membership


def sms_on_commit(*, phone: str, text, params: dict) -> None:
    """Send an SMS once the transaction has committed. Rendered now in the site language (an SMS
    has no request); a failing provider must not undo what has been committed (``robust``)."""
    with translation.override(settings.LANGUAGE_CODE):
        rendered = str(text) % params
    transaction.on_commit(partial(send_sms, phone=phone, text=rendered), robust=True)


def lock_merchant(merchant_id: int) -> Merchant:
    """The merchant row, locked (``SELECT ... FOR UPDATE``); a 404 if there is none."""
    merchant = Merchant.objects.select_for_update().filter(pk=merchant_id).first()
    if merchant is None:
        raise NotInYourGrid()
    return merchant
