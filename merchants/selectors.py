"""Reads of the merchants domain, always through the user's scope.

Scope: head office sees everything; branch staff their grid (applications and stores by the
branch that owns their location, merchants by any store in the grid); merchant staff their own
merchant; an applicant their own applications; anybody else nothing. A row outside the scope is
:class:`NotInYourGrid` (404), never a 403, so ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts import roles
from accounts.access import grid_scope
from branches.models import GridMove
from branches.selectors import within

from .errors import NotInYourGrid
from .models import (
    Merchant,
    MerchantApplication,
    MerchantStaff,
    ProfileChange,
    StatusChange,
    Store,
    Visit,
)


def _signed_in(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def applications_visible_to(user) -> QuerySet[MerchantApplication]:
    """Applications this user may read. Drafts are the applicant's alone."""
    qs = MerchantApplication.objects.select_related("applicant", "branch", "reviewer")
    if not _signed_in(user):
        return qs.none()
    own = Q(applicant=user)
    if roles.is_head_office(user):
        return qs.filter(own | ~Q(status=MerchantApplication.Status.DRAFT))
    if roles.is_branch_staff(user) and user.branch_id:
        return qs.filter(
            own | (Q(branch_id=user.branch_id) & ~Q(status=MerchantApplication.Status.DRAFT))
        )
    return qs.filter(own)


def review_queue(user) -> QuerySet[MerchantApplication]:
    """Submitted applications this user may decide, oldest first."""
    if not roles.is_bank_staff(user):
        return MerchantApplication.objects.none()
    return (
        applications_visible_to(user)
        .filter(status=MerchantApplication.Status.SUBMITTED)
        .prefetch_related("documents")
        .order_by("submitted_at", "pk")
    )


def merchants_visible_to(user) -> QuerySet[Merchant]:
    qs = Merchant.objects.select_related("fee_plan")
    if not _signed_in(user):
        return qs.none()
    if roles.is_head_office(user):
        return qs
    if roles.is_branch_staff(user) and user.branch_id:
        in_grid = Store.objects.filter(merchant=OuterRef("pk"), branch_id=user.branch_id)
        return qs.filter(Exists(in_grid))
    if roles.is_merchant(user):
        mine = MerchantStaff.objects.filter(merchant=OuterRef("pk"), user=user)
        return qs.filter(Exists(mine))
    return qs.none()


def stores_visible_to(user) -> QuerySet[Store]:
    """Stores by the grid that holds them (``accounts.access.grid_scope``); merchant staff
    their own merchant's."""
    qs = Store.objects.select_related("merchant", "branch")
    if roles.is_merchant(user):
        return qs.filter(merchant__staff__user=user)
    return grid_scope(user, qs)


def visits_visible_to(user) -> QuerySet[Visit]:
    """Visits are bank-internal: head office all, branch staff those of their grid's merchants."""
    if not roles.is_bank_staff(user):
        return Visit.objects.none()
    return Visit.objects.select_related("author", "branch").filter(
        merchant__in=merchants_visible_to(user)
    )


def application_get(user, application_id: int) -> MerchantApplication:
    application = applications_visible_to(user).filter(pk=application_id).first()
    if application is None:
        raise NotInYourGrid()
    return application


def merchant_get(user, merchant_id: int) -> Merchant:
    merchant = merchants_visible_to(user).filter(pk=merchant_id).first()
    if merchant is None:
        raise NotInYourGrid()
    return merchant


def membership_for(user) -> MerchantStaff | None:
    """The merchant this user works for (resolve once per request)."""
    if not roles.is_merchant(user):
        return None
    return MerchantStaff.objects.select_related("merchant").filter(user=user).first()


@dataclass(frozen=True)
class MerchantFile:
    """Everything the branch knows about a merchant (信息建档), each list oldest first."""

    merchant: Merchant
    stores: list[Store]
    staff: list[MerchantStaff]
    applications: list[MerchantApplication]
    status_changes: list[StatusChange]
    visits: list[Visit]
    grid_moves: list[GridMove]
    profile_changes: list[ProfileChange]


def merchant_file(user, merchant_id: int) -> MerchantFile:
    """The merchant's whole history for someone who may see it (bank staff of its grid, head
    office, its own staff; visits only for bank staff). 404 otherwise."""
    merchant = merchant_get(user, merchant_id)
    stores = list(merchant.stores.select_related("branch").prefetch_related("photos"))
    applications = list(
        MerchantApplication.objects.filter(
            Q(merchant=merchant)
            | Q(
                applicant__merchant_membership__merchant=merchant,
                applicant__merchant_membership__role=MerchantStaff.Role.OWNER,
            )
        )
        .distinct()
        .order_by("created_at", "pk")
    )
    status_changes = list(
        StatusChange.objects.filter(
            Q(merchant=merchant) | Q(application__in=[a.pk for a in applications])
        )
        .select_related("actor")
        .order_by("created_at", "pk")
    )
    moves = list(
        GridMove.objects.filter(
            subject_type=ContentType.objects.get_for_model(Store),
            subject_id__in=[s.pk for s in stores],
        )
        .select_related("from_branch", "to_branch", "actor")
        .order_by("created_at", "pk")
    )
    visits = (
        list(merchant.visits.select_related("author", "branch").order_by("visited_on", "pk"))
        if roles.is_bank_staff(user)
        else []
    )
    return MerchantFile(
        merchant=merchant,
        stores=stores,
        staff=list(merchant.staff.select_related("user")),
        applications=applications,
        status_changes=status_changes,
        visits=visits,
        grid_moves=moves,
        profile_changes=list(
            merchant.profile_changes.select_related("actor").order_by("created_at", "pk")
        ),
    )


def profile_changes_pending(merchant_id: int) -> QuerySet:
    """Change requests of the merchant still waiting for a reviewer (no decision row yet)."""
    return (
        ProfileChange.objects.filter(
            merchant_id=merchant_id, status=ProfileChange.Status.PENDING, decision__isnull=True
        )
        .select_related("actor")
        .order_by("created_at", "pk")
    )


def application_history(user, application_id: int) -> list[StatusChange]:
    """Where an application stands and why: its status changes, oldest first."""
    application = application_get(user, application_id)
    return list(application.status_changes.select_related("actor").order_by("created_at", "pk"))


NEARBY_SAME_NAME_M = 1000.0


@dataclass(frozen=True)
class Lookalikes:
    """What a reviewer should see beside an application: merchants with the same credit code
    (any state, any grid) and stores nearby with the same business or store name."""

    same_credit_code: list[Merchant]
    same_name_nearby: list[Store]


def application_lookalikes(user, application_id: int) -> Lookalikes:
    """For the review queue: possible duplicates of an application the user may see. Reads
    across grids on purpose (a duplicate in the next grid is exactly what to catch); shows
    only names, codes and states."""
    application = application_get(user, application_id)
    same_code = []
    if application.credit_code:
        same_code = list(
            Merchant.objects.filter(credit_code=application.credit_code)
            .exclude(application=application)
            .order_by("pk")
        )
    return Lookalikes(same_credit_code=same_code, same_name_nearby=_same_name_nearby(application))


def lookalikes_for(applications: list[MerchantApplication]) -> dict[int, Lookalikes]:
    """:func:`application_lookalikes` for a page of applications already read in the user's
    scope: the credit codes in one query for the page, the same-name search per pinned row."""
    codes = {a.credit_code for a in applications if a.credit_code}
    by_code: dict[str, list[Merchant]] = {}
    for merchant in Merchant.objects.filter(credit_code__in=codes).order_by("pk"):
        by_code.setdefault(merchant.credit_code, []).append(merchant)
    return {
        a.pk: Lookalikes(
            same_credit_code=[
                m for m in by_code.get(a.credit_code, []) if m.application_id != a.pk
            ],
            same_name_nearby=_same_name_nearby(a),
        )
        for a in applications
    }


def _same_name_nearby(application: MerchantApplication) -> list:
    nearby = []
    if application.lat is not None:
        names = {n for n in (application.business_name, application.store_name) if n}
        stores = (
            Store.objects.select_related("merchant")
            .filter(Q(name__in=names) | Q(merchant__business_name__in=names))
            .exclude(merchant__application=application)
        )
        nearby = list(
            within(
                stores, lat=application.lat, lng=application.lng, radius_m=NEARBY_SAME_NAME_M
            ).order_by("distance_m", "pk")[:20]
        )
    return nearby
