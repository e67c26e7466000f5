"""Applying to join and reviewing the application.

draft -> submitted -> approved / rejected / returned -> (edited) -> submitted ...

Only the applicant edits and submits, only while draft or returned. Only the branch staff of
the grid that holds the store's location (``branches.selectors.branch_owning``, decided again
at the moment of the decision) or head office decide; the pool is head office's. Each change of
state locks the application row, checks the state under the lock and writes a ``StatusChange``.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from functools import partial

from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.models import User
from accounts.phones import normalize_phone
from accounts.roles import Role
from alliance.errors import Forbidden, NotFound
from branches.models import GridMove
from branches.services import InvalidLocation

from ..credit_code import InvalidCreditCode, normalize_credit_code, validate_credit_code
from ..errors import (
    AlreadyAMerchant,
    ApplicationExists,
    ApplicationIncomplete,
    DuplicateCreditCode,
    InvalidFeePlan,
    InvalidInput,
    InvalidTransition,
    TooManyDocuments,
)
from ..images import check_image
from ..models import (
    ApplicationDocument,
    Category,
    FeePlan,
    Merchant,
    MerchantApplication,
    MerchantStaff,
    Store,
    StorePhoto,
)
from ._common import (
    owning_branch_id,
    record_status,
    require_application_reviewer,
    require_reason,
    sms_on_commit,
)

Status = MerchantApplication.Status
EDITABLE = (Status.DRAFT, Status.RETURNED)
MAX_DOCUMENTS_PER_KIND = 9


@dataclass(frozen=True)
class ApplicationFields:
    """What the applicant types. ``None``: leave as it is; ``""``: clear it."""

    business_name: str | None = None
    category: str | None = None
    credit_code: str | None = None
    legal_representative: str | None = None
    contact_phone: str | None = None
    settlement_bank: str | None = None
    settlement_account_name: str | None = None
    settlement_account_number: str | None = None
    store_name: str | None = None
    store_address: str | None = None
    opening_hours: str | None = None
    description: str | None = None
    lat: float | None = None
    lng: float | None = None


# What must be filled in before submitting (the location is checked on its own).
REQUIRED = (
    "business_name",
    "category",
    "credit_code",
    "legal_representative",
    "contact_phone",
    "settlement_bank",
    "settlement_account_name",
    "settlement_account_number",
    "store_name",
    "store_address",
    "opening_hours",
)


def _apply_fields(application: MerchantApplication, data: ApplicationFields) -> None:
    errors: dict[str, str] = {}
    for f in dataclass_fields(data):
        value = getattr(data, f.name)
        if value is None or f.name in {"lat", "lng"}:
            continue
        value = str(value).strip()
        if f.name == "credit_code":
            value = normalize_credit_code(value)
            if len(value) > 18:
                raise InvalidCreditCode(extra={"problem": "length"})
        elif f.name == "contact_phone" and value:
            value = normalize_phone(value)  # invalid_phone
        elif f.name == "category" and value and value not in Category.values:
            errors[f.name] = _("Choose a category from the list.")
            continue
        elif f.name == "settlement_account_number":
            value = "".join(value.split())
            if value and not (value.isdigit() and 8 <= len(value) <= 32):
                errors[f.name] = _("Enter the account number as 8 to 32 digits.")
                continue
        max_length = getattr(MerchantApplication._meta.get_field(f.name), "max_length", None)
        if max_length and len(value) > max_length:
            errors[f.name] = _("This is too long.")
            continue
        setattr(application, f.name, value)
    if errors:
        raise InvalidInput(errors)
    if (data.lat is None) != (data.lng is None):
        raise InvalidLocation()
    if data.lat is not None:
        lat, lng = float(data.lat), float(data.lng)
        if not (
            math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180
        ):
            raise InvalidLocation()
        application.set_location(lat=lat, lng=lng)
        # Which queue it will sit in; decided again when it is reviewed.
        application.branch_id = owning_branch_id(lat=lat, lng=lng)


def _require_may_apply(user) -> None:
    if user is None or not user.is_authenticated or not user.is_active:
        raise Forbidden()
    if roles.is_bank_staff(user):
        raise Forbidden(_("Bank staff cannot apply as a merchant."))
    if MerchantStaff.objects.filter(user=user).exists():
        raise AlreadyAMerchant()


def _lock_own_application(*, actor, application_id: int) -> MerchantApplication:
    """The applicant's own application, locked; anybody else's is a 404."""
    application = MerchantApplication.objects.select_for_update().filter(pk=application_id).first()
    if application is None or actor is None or application.applicant_id != actor.pk:
        raise NotFound()
    return application


def _require_editable(application: MerchantApplication) -> None:
    if application.status not in EDITABLE:
        raise InvalidTransition(
            _("The application is under review or decided and cannot be changed.")
        )


@transaction.atomic(durable=True)
def application_create(
    *, applicant: User, data: ApplicationFields | None = None
) -> MerchantApplication:
    """Start a draft for ``applicant``. One open application per applicant (also a database
    constraint): a second one is refused with ``application_exists`` naming the open one."""
    _require_may_apply(applicant)
    User.objects.select_for_update().filter(pk=applicant.pk).first()  # queue a double click
    existing = MerchantApplication.objects.filter(
        applicant=applicant, status__in=MerchantApplication.OPEN
    ).first()
    if existing:
        raise ApplicationExists(extra={"application_id": existing.pk})
    application = MerchantApplication(applicant=applicant)
    _apply_fields(application, data or ApplicationFields())
    try:
        with transaction.atomic():
            application.save()
    except IntegrityError as exc:
        raise ApplicationExists() from exc
    record_status(actor=applicant, application=application, from_status="", to_status=Status.DRAFT)
    return application


@transaction.atomic(durable=True)
def application_update(
    *, actor: User, application_id: int, data: ApplicationFields
) -> MerchantApplication:
    """Save what the applicant typed (a draft may be incomplete). Applicant only, while draft
    or returned. Locks the application."""
    application = _lock_own_application(actor=actor, application_id=application_id)
    _require_editable(application)
    _apply_fields(application, data)
    application.save()
    return application


@transaction.atomic(durable=True)
def application_document_add(
    *, actor: User, application_id: int, kind: str, upload: UploadedFile
) -> ApplicationDocument:
    """Attach a licence or storefront photo after checking it is a real JPEG/PNG/WebP image of
    sensible size. Applicant only, while editable. Stored through Django's storage API under a
    name of our choosing."""
    if kind not in ApplicationDocument.Kind.values:
        raise InvalidInput({"kind": _("Choose the kind of document.")})
    application = _lock_own_application(actor=actor, application_id=application_id)
    _require_editable(application)
    checked = check_image(upload)
    if application.documents.filter(kind=kind).count() >= MAX_DOCUMENTS_PER_KIND:
        raise TooManyDocuments(extra={"max": MAX_DOCUMENTS_PER_KIND})
    document = ApplicationDocument(
        application=application,
        kind=kind,
        content_type=checked.content_type,
        size=checked.size,
        uploaded_by=actor,
    )
    document.image.save(f"{kind}-{uuid.uuid4().hex}.{checked.extension}", upload, save=False)
    document.save()
    return document


@transaction.atomic(durable=True)
def application_document_remove(*, actor: User, document_id: int) -> None:
    """Remove a photo from an editable application (applicant only)."""
    document = ApplicationDocument.objects.filter(pk=document_id).first()
    if document is None:
        raise NotFound()
    application = _lock_own_application(actor=actor, application_id=document.application_id)
    _require_editable(application)
    name = document.image.name
    storage = document.image.storage
    document.delete()
    transaction.on_commit(partial(storage.delete, name), robust=True)


def missing_fields(application: MerchantApplication) -> list[str]:
    missing = [name for name in REQUIRED if not getattr(application, name)]
    if application.lat is None:
        missing.append("location")
    kinds = set(application.documents.values_list("kind", flat=True))
    missing += [f"documents.{k}" for k in ApplicationDocument.Kind.values if k not in kinds]
    return missing


def _require_no_live_merchant(credit_code: str) -> None:
    live = Merchant.objects.filter(credit_code=credit_code).exclude(status=Merchant.Status.CLOSED)
    if live.exists():
        raise DuplicateCreditCode(extra={"credit_code": credit_code})


@transaction.atomic(durable=True)
def application_submit(*, actor: User, application_id: int) -> MerchantApplication:
    """Send a draft (or a returned application) to review. Refuses an incomplete application
    (``application_incomplete``, ``extra.missing``), an invalid credit code
    (``invalid_credit_code``) and a credit code that already holds a live merchant
    (``duplicate_credit_code``). Locks the application."""
    application = _lock_own_application(actor=actor, application_id=application_id)
    if application.status not in EDITABLE:
        raise InvalidTransition(_("The application has already been submitted."))
    missing = missing_fields(application)
    if missing:
        raise ApplicationIncomplete(extra={"missing": missing})
    application.credit_code = validate_credit_code(application.credit_code)
    _require_no_live_merchant(application.credit_code)
    old = application.status
    application.status = Status.SUBMITTED
    application.submitted_at = timezone.now()
    application.branch_id = owning_branch_id(lat=application.lat, lng=application.lng)
    application.reviewer = None
    application.decided_at = None
    application.decision_reason = ""
    application.save()
    record_status(actor=actor, application=application, from_status=old, to_status=Status.SUBMITTED)
    return application


def _lock_for_review(*, actor: User, application_id: int) -> MerchantApplication:
    """Lock the application, place it in the grid that owns its location now, and check the
    reviewer: out of their grid (or not staff) is a 404; a wrong state is ``invalid_transition``."""
    application = (
        MerchantApplication.objects.select_for_update()
        .filter(pk=application_id)
        .exclude(status=Status.DRAFT)
        .first()
    )
    if application is None:
        require_application_reviewer(actor, branch_id=None)  # 404 for non-staff
        raise NotFound()
    branch_id = owning_branch_id(lat=application.lat, lng=application.lng)
    require_application_reviewer(actor, branch_id=branch_id)
    if application.status != Status.SUBMITTED:
        raise InvalidTransition(_("Only a submitted application can be decided."))
    application.branch_id = branch_id
    return application


def _decide(application: MerchantApplication, *, actor: User, to: str, reason: str) -> None:
    application.status = to
    application.reviewer = actor
    application.decided_at = timezone.now()
    application.decision_reason = reason
    application.save()
    record_status(
        actor=actor,
        application=application,
        from_status=Status.SUBMITTED,
        to_status=to,
        reason=reason,
    )


@transaction.atomic(durable=True)
def application_approve(
    *, actor: User, application_id: int, fee_plan_id: int, reason: str = ""
) -> Merchant:
    """Approve: create the merchant (code ``M`` + the application number, so it is stable and
    unique), its first store in the grid that owns its location, the applicant as owner (role
    ``merchant_owner``) on the chosen fee plan; SMS the applicant after commit.

    Locks the application and the applicant. Exactly one merchant per application (row lock and
    a one-to-one column) and one live merchant per credit code (a partial unique index).
    """
    application = _lock_for_review(actor=actor, application_id=application_id)
    fee_plan = FeePlan.objects.filter(pk=fee_plan_id, is_active=True).first()
    if fee_plan is None:
        raise InvalidFeePlan()
    credit_code = validate_credit_code(application.credit_code)
    _require_no_live_merchant(credit_code)
    applicant = User.objects.select_for_update().get(pk=application.applicant_id)
    if MerchantStaff.objects.filter(user=applicant).exists():
        raise AlreadyAMerchant()

    merchant = Merchant(
        code=f"M{application.pk:08d}",
        application=application,
        business_name=application.business_name,
        category=application.category,
        credit_code=credit_code,
        legal_representative=application.legal_representative,
        contact_phone=application.contact_phone,
        settlement_bank=application.settlement_bank,
        settlement_account_name=application.settlement_account_name,
        settlement_account_number=application.settlement_account_number,
        description=application.description,
        fee_plan=fee_plan,
    )
    try:
        with transaction.atomic():
            merchant.save()
    except IntegrityError as exc:  # a concurrent approval of the same credit code won
        raise DuplicateCreditCode(extra={"credit_code": credit_code}) from exc

    store = Store(
        merchant=merchant,
        name=application.store_name,
        address=application.store_address,
        opening_hours=application.opening_hours,
        description=application.description,
        branch_id=application.branch_id,
    )
    store.set_location(lat=application.lat, lng=application.lng)
    store.save()
    if store.branch_id is not None:
        # branches.services.place_assign is durable and cannot run inside this transaction;
        # this is the GridMove it would record for a new place entering its grid.
        GridMove.objects.create(
            subject_type=ContentType.objects.get_for_model(Store),
            subject_id=store.pk,
            from_branch=None,
            to_branch_id=store.branch_id,
            actor=actor,
            reason=f"Store opened on approval of application {application.pk}",
        )
    StorePhoto.objects.bulk_create(
        StorePhoto(store=store, image=doc.image.name, width=doc.width, height=doc.height)
        for doc in application.documents.filter(kind=ApplicationDocument.Kind.STOREFRONT)
    )
    MerchantStaff.objects.create(
        merchant=merchant, user=applicant, role=MerchantStaff.Role.OWNER, added_by=actor
    )
    User.objects.filter(pk=applicant.pk).update(role=Role.MERCHANT_OWNER, is_active=True)

    _decide(application, actor=actor, to=Status.APPROVED, reason=(reason or "").strip())
    record_status(
        actor=actor,
        merchant=merchant,
        from_status="",
        to_status=Merchant.Status.ACTIVE,
        reason=f"application {application.pk}",
    )
    sms_on_commit(
        phone=applicant.phone,
        text=_(
            "[Merchant Alliance] Your application for %(name)s is approved. Merchant code "
            "%(code)s. Sign in to the merchant dashboard with this mobile number."
        ),
        params={"name": merchant.business_name, "code": merchant.code},
    )
    return merchant


@transaction.atomic(durable=True)
def application_reject(*, actor: User, application_id: int, reason: str) -> MerchantApplication:
    """Reject a submitted application; the reason is required and shown to the applicant."""
    reason = require_reason(reason)
    application = _lock_for_review(actor=actor, application_id=application_id)
    _decide(application, actor=actor, to=Status.REJECTED, reason=reason)
    sms_on_commit(
        phone=application.applicant.phone,
        text=_("[Merchant Alliance] Your application for %(name)s was not approved: %(reason)s"),
        params={"name": application.business_name, "reason": reason},
    )
    return application


@transaction.atomic(durable=True)
def application_return(*, actor: User, application_id: int, comments: str) -> MerchantApplication:
    """Send a submitted application back to the applicant for changes; comments required."""
    comments = require_reason(comments)
    application = _lock_for_review(actor=actor, application_id=application_id)
    _decide(application, actor=actor, to=Status.RETURNED, reason=comments)
    sms_on_commit(
        phone=application.applicant.phone,
        text=_("[Merchant Alliance] Your application for %(name)s needs changes: %(comments)s"),
        params={"name": application.business_name, "comments": comments},
    )
    return application
