"""Reads for the branch console: the template review queue, a template's file, campaigns.

Scope (the same as the services'): head office sees every template and campaign; branch staff
(officer and manager) the templates valid at a store of their branch's grid, and their own
branch's campaigns plus head-office campaigns (read-only); anybody else, or staff without their
second factor, nothing. Drafts are the merchant's alone. A row outside the scope is
:class:`NotInYourGrid` (404), never a 403, so ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery

from accounts import roles
from accounts.access import second_factor_ok
from merchants.models import Store

from ..errors import NotInYourGrid
from ..models import Campaign, CampaignEntry, Coupon, CouponTemplate, TemplateChange

Status = CouponTemplate.Status

# The queue's tabs: a status, or every status the console sees.
QUEUE_TABS = ("submitted", "live", "paused", "ended", "rejected", "all")


def _staff(user) -> bool:
    return roles.is_bank_staff(user) and second_factor_ok(user)


def templates_visible_to(user) -> QuerySet[CouponTemplate]:
    """Templates this bank user may read (never drafts)."""
    qs = CouponTemplate.objects.exclude(status=Status.DRAFT)
    if not _staff(user):
        return qs.none()
    if roles.is_head_office(user):
        return qs
    if roles.is_branch_staff(user) and user.branch_id:
        in_grid = CouponTemplate.stores.through.objects.filter(
            coupontemplate_id=OuterRef("pk"), store__branch_id=user.branch_id
        )
        return qs.filter(Exists(in_grid))
    return qs.none()


def _with_rows(qs: QuerySet[CouponTemplate]) -> QuerySet[CouponTemplate]:
    """What a row shows, in a fixed number of queries: merchant and campaign joined, the stores
    (with their branch) in one prefetch."""
    stores = Store.objects.select_related("branch").order_by("pk")
    return qs.select_related("merchant", "campaign", "campaign__branch").prefetch_related(
        Prefetch("stores", queryset=stores)
    )


def template_queue(user, *, tab: str = "submitted") -> QuerySet[CouponTemplate]:
    """The console's list of templates in one tab, each with ``submitted_at`` (its latest
    submission). Submitted: oldest submission first (they wait in turn; adding stock meanwhile
    does not move one back); the other tabs: most recently changed first."""
    last_submitted = (
        TemplateChange.objects.filter(template_id=OuterRef("pk"), to_status=Status.SUBMITTED)
        .exclude(from_status=Status.SUBMITTED)  # edits while waiting (more stock) keep the place
        .order_by("-pk")
        .values("created_at")[:1]
    )
    qs = _with_rows(templates_visible_to(user)).annotate(submitted_at=Subquery(last_submitted))
    if tab == "submitted":
        return qs.filter(status=Status.SUBMITTED).order_by("submitted_at", "pk")
    if tab in ("live", "paused", "ended", "rejected"):
        qs = qs.filter(status=tab)
    elif tab == "all":
        pass
    else:
        return qs.none()
    return qs.order_by("-updated_at", "-pk")


def template_counts(user) -> dict[str, int]:
    """How many templates each tab holds (one query)."""
    counts = templates_visible_to(user).aggregate(
        all=Count("pk"),
        **{tab: Count("pk", filter=Q(status=tab)) for tab in QUEUE_TABS if tab != "all"},
    )
    return counts


@dataclass(frozen=True)
class TemplateNumbers:
    claimed: int
    active: int
    verified: int
    expired: int
    refunded: int
    voided: int

    @property
    def conversion_percent(self) -> str:
        """Verified out of claimed, one decimal ("—" before any claim)."""
        if not self.claimed:
            return "—"
        tenths = (self.verified * 1000 + self.claimed // 2) // self.claimed
        return f"{tenths // 10}.{tenths % 10}%"


@dataclass(frozen=True)
class TemplateFile:
    template: CouponTemplate
    numbers: TemplateNumbers
    changes: list[TemplateChange]


def template_get(user, template_id: int) -> CouponTemplate:
    template = _with_rows(templates_visible_to(user)).filter(pk=template_id).first()
    if template is None:
        raise NotInYourGrid()
    return template


def template_file(user, template_id: int) -> TemplateFile:
    """Everything the console shows about one template in the user's scope."""
    template = template_get(user, template_id)
    C = Coupon.Status
    counts = Coupon.objects.filter(template_id=template.pk).aggregate(
        claimed=Count("pk"),
        **{
            name: Count("pk", filter=Q(status=status))
            for name, status in [
                ("active", C.ISSUED),
                ("verified", C.VERIFIED),
                ("expired", C.EXPIRED),
                ("refunded", C.REFUNDED),
                ("voided", C.VOIDED),
            ]
        },
    )
    changes = list(
        TemplateChange.objects.filter(template_id=template.pk)
        .select_related("actor")
        .order_by("pk")
    )
    return TemplateFile(template=template, numbers=TemplateNumbers(**counts), changes=changes)


# --- Campaigns ---------------------------------------------------------------------------------


def campaigns_visible_to(user) -> QuerySet[Campaign]:
    """Campaigns this bank user may read: all for head office; for branch staff their own
    branch's and head office's."""
    qs = Campaign.objects.select_related("branch", "created_by")
    if not _staff(user):
        return qs.none()
    if roles.is_head_office(user):
        return qs
    if roles.is_branch_staff(user) and user.branch_id:
        return qs.filter(Q(branch_id=user.branch_id) | Q(branch__isnull=True))
    return qs.none()


def campaign_list(user) -> QuerySet[Campaign]:
    """Open campaigns first, newest first, each with how many templates it funds."""
    return (
        campaigns_visible_to(user)
        .annotate(template_count=Count("templates"))
        .order_by("-is_active", "-pk")
    )


def campaign_get(user, campaign_id: int) -> Campaign:
    campaign = campaigns_visible_to(user).filter(pk=campaign_id).first()
    if campaign is None:
        raise NotInYourGrid()
    return campaign


def campaign_manageable(user, campaign: Campaign) -> bool:
    """Whether the user may change this campaign (the services decide; this is for the page):
    head office any, branch staff their own branch's."""
    if not _staff(user):
        return False
    if roles.is_head_office(user):
        return True
    return roles.is_branch_staff(user) and campaign.branch_id == user.branch_id


def campaign_entries(campaign_id: int) -> QuerySet[CampaignEntry]:
    """The campaign's budget movements, newest first (for a paginated table)."""
    return (
        CampaignEntry.objects.filter(campaign_id=campaign_id)
        .select_related("coupon", "coupon__template")
        .order_by("-pk")
    )


def campaign_templates(user, campaign_id: int) -> QuerySet[CouponTemplate]:
    """The templates this campaign funds that the user may read."""
    return (
        templates_visible_to(user)
        .filter(campaign_id=campaign_id)
        .select_related("merchant")
        .order_by("-pk")
    )
