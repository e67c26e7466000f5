"""What a merchant's owner changes: staff, stores, profile; and the review of legal and
settlement changes. The owner acts (cashiers get a 403, another merchant's users a 404); every
change locks the merchant row and leaves a ``ProfileChange`` row.
"""

from __future__ import annotations

import json
import math
import uuid

from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.phones import mask_phone, normalize_phone
from accounts.roles import Role
from alliance.errors import NotFound
from branches.models import GridMove
from branches.services import InvalidLocation

from .. import selectors
from ..crypto import mask_account
from ..errors import (
    ChangePending,
    InvalidInput,
    InvalidTransition,
    NeedsReview,
    StaffUnavailable,
)
from ..images import check_image
from ..models import Category, Merchant, MerchantStaff, ProfileChange, Store, StorePhoto
from ._common import (
    lock_merchant,
    membership_of,
    owning_branch_id,
    require_merchant_in_grid,
    require_reason,
)

Status = Merchant.Status


@transaction.atomic(durable=True)
def staff_add(*, actor: User, phone: str, name: str = "") -> MerchantStaff:
    """The owner adds a cashier by mobile number: links the existing customer account or
    creates one, with role ``merchant_staff``. Locks the merchant. A number that belongs to bank
    staff or to another merchant's staff is refused (``staff_unavailable``)."""
    membership = membership_of(actor, owner=True)
    merchant = lock_merchant(membership.merchant_id)
    if merchant.status != Status.ACTIVE:
        raise InvalidTransition(_("Only an active merchant can add staff."))
    e164 = normalize_phone(phone)
    user = User.objects.select_for_update().filter(phone=e164).first()
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    phone=e164, role=Role.MERCHANT_STAFF, name=(name or "").strip()[:64]
                )
        except IntegrityError as exc:  # created meanwhile by a sign-in: ask again
            raise StaffUnavailable() from exc
    elif user.role != Role.CUSTOMER or MerchantStaff.objects.filter(user=user).exists():
        raise StaffUnavailable()
    else:
        User.objects.filter(pk=user.pk).update(role=Role.MERCHANT_STAFF)
    staff = MerchantStaff.objects.create(
        merchant=merchant, user=user, role=MerchantStaff.Role.CASHIER, added_by=actor
    )
    ProfileChange.objects.create(
        merchant=merchant,
        status=ProfileChange.Status.APPLIED,
        actor=actor,
        fields=["staff"],
        new={"staff_added": mask_phone(e164), "role": MerchantStaff.Role.CASHIER},
    )
    return staff


@transaction.atomic(durable=True)
def store_add(
    *,
    actor: User,
    merchant_id: int,
    name: str,
    address: str,
    lat: float,
    lng: float,
    opening_hours: str = "",
    description: str = "",
) -> Store:
    """The owner opens another store of an active merchant. Its location decides its grid
    (the rule ``branch_owning`` applies), recorded as a ``GridMove`` into that grid and in the
    profile history. Locks the merchant."""
    membership_of(actor, merchant_id=merchant_id, owner=True)
    errors = {}
    if not (name or "").strip():
        errors["name"] = _("This field is required.")
    if not (address or "").strip():
        errors["address"] = _("This field is required.")
    if errors:
        raise InvalidInput(errors)
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidLocation()
    merchant = lock_merchant(merchant_id)
    if merchant.status != Status.ACTIVE:
        raise InvalidTransition(_("Only an active merchant can open a store."))
    store = Store(
        merchant=merchant,
        name=name.strip()[:100],
        address=address.strip()[:200],
        opening_hours=(opening_hours or "").strip()[:200],
        description=(description or "").strip(),
        branch_id=owning_branch_id(lat=lat, lng=lng),
    )
    store.set_location(lat=lat, lng=lng)
    store.save()
    if store.branch_id is not None:
        GridMove.objects.create(
            subject_type=ContentType.objects.get_for_model(Store),
            subject_id=store.pk,
            from_branch=None,
            to_branch_id=store.branch_id,
            actor=actor,
            reason=f"Store opened by merchant {merchant.code}",
        )
    ProfileChange.objects.create(
        merchant=merchant,
        store=store,
        status=ProfileChange.Status.APPLIED,
        actor=actor,
        fields=["stores"],
        new={"store_added": store.name, "branch_id": store.branch_id},
    )
    return store


# --- Profile ------------------------------------------------------------------------------------

FREE_MERCHANT_FIELDS = ("description", "contact_phone")
FREE_STORE_FIELDS = ("name", "opening_hours", "description")
REVIEWED_FIELDS = (
    "business_name",
    "category",
    "legal_representative",
    "settlement_bank",
    "settlement_account_name",
    "settlement_account_number",
)


def _shown(field: str, value: str) -> str:
    if field == "settlement_account_number":
        return mask_account(value)
    if field == "settlement_account_name":
        return f"{value[:1]}**" if value else ""
    if field == "contact_phone":
        return mask_phone(value) if value else ""
    return value


def _clean(field: str, value) -> str:
    value = str(value or "").strip()
    if field == "contact_phone":
        return normalize_phone(value)
    if field == "category" and value not in Category.values:
        raise InvalidInput({field: _("Choose a category from the list.")})
    if field == "settlement_account_number":
        value = "".join(value.split())
        if not (value.isdigit() and 8 <= len(value) <= 32):
            raise InvalidInput({field: _("Enter the account number as 8 to 32 digits.")})
    if field in {"business_name", "legal_representative", "settlement_bank", "name"} and not value:
        raise InvalidInput({field: _("This field is required.")})
    return value


@transaction.atomic(durable=True)
def profile_update(
    *, actor: User, merchant_id: int, changes: dict[str, str], store_id: int | None = None
) -> ProfileChange:
    """The owner edits the free parts of the profile (description, contact phone; a store's
    name, hours, description) at once. Legal or settlement fields are refused with
    ``needs_review``: they go through :func:`profile_change_request`. Cashiers: 403."""
    membership_of(actor, merchant_id=merchant_id, owner=True)
    reviewed = sorted(set(changes) & set(REVIEWED_FIELDS))
    if reviewed:
        raise NeedsReview(extra={"fields": reviewed})
    allowed = FREE_STORE_FIELDS if store_id is not None else FREE_MERCHANT_FIELDS
    unknown = set(changes) - set(allowed)
    if unknown or not changes:
        raise InvalidInput(
            {name: _("This cannot be changed here.") for name in unknown or ["changes"]}
        )
    merchant = lock_merchant(merchant_id)
    if merchant.status == Status.CLOSED:
        raise InvalidTransition(_("The merchant is closed."))
    target = merchant
    if store_id is not None:
        target = Store.objects.select_for_update().filter(pk=store_id, merchant=merchant).first()
        if target is None:
            raise NotFound()
    old, new = {}, {}
    for field, value in changes.items():
        cleaned = _clean(field, value)
        old[field], new[field] = _shown(field, getattr(target, field)), _shown(field, cleaned)
        setattr(target, field, cleaned)
    target.save()
    return ProfileChange.objects.create(
        merchant=merchant,
        store=target if store_id is not None else None,
        status=ProfileChange.Status.APPLIED,
        actor=actor,
        fields=sorted(changes),
        old=old,
        new=new,
    )


@transaction.atomic(durable=True)
def store_photo_add(*, actor: User, store_id: int, upload: UploadedFile) -> StorePhoto:
    """The owner adds a photo to one of its stores (checked like application photos)."""
    store = Store.objects.filter(pk=store_id).first()
    if store is None:
        raise NotFound()
    membership_of(actor, merchant_id=store.merchant_id, owner=True)
    checked = check_image(upload)
    lock_merchant(store.merchant_id)
    photo = StorePhoto(store=store)
    photo.image.save(f"store-{uuid.uuid4().hex}.{checked.extension}", upload, save=False)
    photo.save()
    ProfileChange.objects.create(
        merchant_id=store.merchant_id,
        store=store,
        status=ProfileChange.Status.APPLIED,
        actor=actor,
        fields=["photos"],
        new={"photo": photo.image.name},
    )
    return photo


def open_change_request(merchant_id: int) -> ProfileChange | None:
    return selectors.profile_changes_pending(merchant_id).first()


@transaction.atomic(durable=True)
def profile_change_request(
    *, actor: User, merchant_id: int, changes: dict[str, str]
) -> ProfileChange:
    """The owner asks to change legal or settlement details; nothing changes until a reviewer
    approves. One open request per merchant (the merchant row is locked to check it). The
    proposal is stored encrypted; the history shows it masked."""
    membership_of(actor, merchant_id=merchant_id, owner=True)
    unknown = set(changes) - set(REVIEWED_FIELDS)
    if unknown or not changes:
        raise InvalidInput(
            {name: _("This cannot be changed here.") for name in unknown or ["changes"]}
        )
    merchant = lock_merchant(merchant_id)
    if merchant.status == Status.CLOSED:
        raise InvalidTransition(_("The merchant is closed."))
    if open_change_request(merchant_id):
        raise ChangePending()
    cleaned = {field: _clean(field, value) for field, value in changes.items()}
    return ProfileChange.objects.create(
        merchant=merchant,
        status=ProfileChange.Status.PENDING,
        actor=actor,
        fields=sorted(cleaned),
        old={f: _shown(f, getattr(merchant, f)) for f in cleaned},
        new={f: _shown(f, v) for f, v in cleaned.items()},
        proposal=json.dumps(cleaned, ensure_ascii=False),
    )


@transaction.atomic(durable=True)
def profile_change_decide(
    *, actor: User, change_id: int, approve: bool, reason: str = ""
) -> ProfileChange:
    """A reviewer of the merchant's grid (or head office) approves or rejects a pending change
    request (a reason is required to reject). The decision is a new row pointing at the request
    (one decision per request: a one-to-one column). Approval applies the proposal."""
    request = ProfileChange.objects.filter(
        pk=change_id, status=ProfileChange.Status.PENDING
    ).first()
    if request is None:
        raise NotFound()
    require_merchant_in_grid(actor, merchant_id=request.merchant_id)
    reason = (reason or "").strip() if approve else require_reason(reason)
    merchant = lock_merchant(request.merchant_id)
    if ProfileChange.objects.filter(decides=request).exists():
        raise InvalidTransition(_("This change request has already been decided."))
    if approve:
        for field, value in json.loads(request.proposal).items():
            setattr(merchant, field, value)
        merchant.save()
        # The nearby-offers rows carry the name and category customers search and filter by.
        from coupons.services.offers import offers_merchant_renamed

        offers_merchant_renamed(
            merchant_id=merchant.pk, name=merchant.business_name, category=merchant.category
        )
    try:
        with transaction.atomic():
            return ProfileChange.objects.create(
                merchant=merchant,
                decides=request,
                actor=actor,
                fields=request.fields,
                status=ProfileChange.Status.APPROVED if approve else ProfileChange.Status.REJECTED,
                old=request.old,
                new=request.new,
                reason=reason,
            )
    except IntegrityError as exc:
        raise InvalidTransition(_("This change request has already been decided.")) from exc
