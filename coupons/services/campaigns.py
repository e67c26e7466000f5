"""Bank campaigns and their budgets.

A claim of a campaign-funded coupon reserves its worst-case cost; a verification turns the
reservation into spending (and an undone one back); expiry and voiding release it. Each
movement is one conditional update of the campaign row, and the database keeps
``reserved + spent <= budget`` (``campaign_within_budget``). The movement helpers run inside
the caller's transaction; the caller's coupon transition happens exactly once, so each
movement does too.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from accounts import roles
from accounts.models import User
from alliance.errors import Forbidden
from branches.models import Branch

from ..errors import (
    BudgetBelowCommitted,
    CampaignBudgetExhausted,
    InvalidInput,
    NotInYourGrid,
)
from ..models import Campaign, CampaignEntry, Coupon

Entry = CampaignEntry.Kind


def _require_campaign_staff(actor, branch_id: int | None) -> None:
    """Head office runs any campaign; a branch manager or officer their own branch's."""
    if roles.is_head_office(actor):
        return
    if roles.is_branch_staff(actor) and branch_id is not None and actor.branch_id == branch_id:
        return
    if roles.is_branch_staff(actor) and branch_id is None:
        raise Forbidden(_("Only head office runs head-office campaigns."))
    raise NotInYourGrid()


@transaction.atomic(durable=True)
def campaign_create(
    *, actor: User, name: str, budget_fen: int, branch_id: int | None = None
) -> Campaign:
    """Head office (any branch, or none for a head-office campaign) or branch staff (their own
    branch) open a campaign with a budget in fen."""
    if branch_id is None and roles.is_branch_staff(actor):
        branch_id = actor.branch_id
    _require_campaign_staff(actor, branch_id)
    errors = {}
    if not (name or "").strip():
        errors["name"] = _("This field is required.")
    if not isinstance(budget_fen, int) or isinstance(budget_fen, bool) or budget_fen <= 0:
        errors["budget_fen"] = _("The budget must be a positive amount in fen.")
    if branch_id is not None and not Branch.objects.filter(pk=branch_id).exists():
        errors["branch"] = _("No such branch.")
    if errors:
        raise InvalidInput(errors)
    return Campaign.objects.create(
        name=name.strip()[:100], budget_fen=budget_fen, branch_id=branch_id, created_by=actor
    )


@transaction.atomic(durable=True)
def campaign_set_budget(*, actor: User, campaign_id: int, budget_fen: int) -> Campaign:
    """Raise or lower a budget; never below what is reserved and spent (one conditional
    update: a claim committing meanwhile cannot slip under it)."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise NotInYourGrid()
    _require_campaign_staff(actor, campaign.branch_id)
    if not isinstance(budget_fen, int) or isinstance(budget_fen, bool) or budget_fen <= 0:
        raise InvalidInput({"budget_fen": _("The budget must be a positive amount in fen.")})
    updated = Campaign.objects.filter(
        pk=campaign_id, reserved_fen__lte=budget_fen - F("spent_fen")
    ).update(budget_fen=budget_fen)
    if updated != 1:
        raise BudgetBelowCommitted()
    campaign.refresh_from_db()
    return campaign


@transaction.atomic(durable=True)
def campaign_close(*, actor: User, campaign_id: int) -> Campaign:
    """No new claims are funded; coupons already claimed keep their reservation."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise NotInYourGrid()
    _require_campaign_staff(actor, campaign.branch_id)
    Campaign.objects.filter(pk=campaign_id).update(is_active=False)
    campaign.is_active = False
    return campaign


def budget_reserve(*, campaign_id: int, coupon: Coupon, amount_fen: int) -> None:
    """Inside the claim's transaction: reserve, or refuse when the budget cannot cover it."""
    updated = Campaign.objects.filter(
        pk=campaign_id,
        is_active=True,
        budget_fen__gte=F("reserved_fen") + F("spent_fen") + amount_fen,
    ).update(reserved_fen=F("reserved_fen") + amount_fen)
    if updated != 1:
        raise CampaignBudgetExhausted()
    CampaignEntry.objects.create(
        campaign_id=campaign_id, coupon=coupon, kind=Entry.RESERVE, amount_fen=amount_fen
    )


def reservation_move(coupon: Coupon, kind: str) -> None:
    """Release, spend or unspend what the coupon's claim reserved of its campaign's budget
    (nothing for a coupon no campaign funds). In the caller's transaction."""
    if coupon.template.campaign_id and coupon.reserved_fen:
        budget_move(campaign_id=coupon.template.campaign_id, coupon=coupon, kind=kind,
                    amount_fen=coupon.reserved_fen)


def budget_move(*, campaign_id: int, coupon: Coupon, kind: str, amount_fen: int) -> None:
    """Release, spend or unspend a coupon's reservation (never refused: the amount was
    reserved by the claim; the constraints make a bug fail loudly instead of overspending)."""
    if amount_fen == 0:
        return
    change = {
        Entry.RELEASE: {"reserved_fen": F("reserved_fen") - amount_fen},
        Entry.SPEND: {
            "reserved_fen": F("reserved_fen") - amount_fen,
            "spent_fen": F("spent_fen") + amount_fen,
        },
        Entry.UNSPEND: {
            "reserved_fen": F("reserved_fen") + amount_fen,
            "spent_fen": F("spent_fen") - amount_fen,
        },
    }[kind]
    Campaign.objects.filter(pk=campaign_id).update(**change)
    CampaignEntry.objects.create(
        campaign_id=campaign_id, coupon=coupon, kind=kind, amount_fen=amount_fen
    )
