"""The refusals of the coupons domain, each with a stable ``code`` (see ``alliance.errors``)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status

from alliance.errors import ApplicationError, NotFound
from merchants.errors import InvalidInput, InvalidTransition, NotInYourGrid, ReasonRequired

__all__ = [
    "CounterTooManyWrongCodes",
    "InvalidInput",
    "InvalidTransition",
    "NotInYourGrid",
    "ReasonRequired",
]


class _Conflict(ApplicationError):
    status = status.HTTP_409_CONFLICT


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    message = _("No such coupon.")


class CouponOutOfStock(_Conflict):
    code = "coupon_out_of_stock"
    message = _("Sorry, all coupons have been claimed.")


class CouponLimitReached(_Conflict):
    code = "coupon_limit_reached"
    message = _("You already have the maximum number of this coupon.")


class CouponDailyCapReached(_Conflict):
    code = "coupon_daily_cap_reached"
    message = _("Today's coupons are all claimed. Try again tomorrow.")


class CouponNotStarted(_Conflict):
    code = "coupon_not_started"
    message = _("This coupon cannot be claimed yet.")


class CouponEnded(_Conflict):
    code = "coupon_ended"
    message = _("This offer has ended.")


class CouponNotClaimable(_Conflict):
    code = "coupon_not_claimable"
    message = _("This coupon cannot be claimed here. It is bought or exchanged instead.")


class CampaignBudgetExhausted(_Conflict):
    code = "campaign_budget_exhausted"
    message = _("Sorry, this campaign's coupons have all been given out.")


class StockBelowClaimed(ApplicationError):
    code = "stock_below_claimed"
    message = _("Stock cannot be lowered below what customers have already claimed.")


class UnsafeEdit(ApplicationError):
    code = "unsafe_edit"
    message = _(
        "After approval only the wording, the image and more stock can be changed. "
        "Create a new coupon for other changes."
    )


class TokenInvalid(ApplicationError):
    code = "coupon_token_invalid"
    message = _("This QR code is not valid. Ask the customer to open the coupon again.")


class CounterTooManyWrongCodes(ApplicationError):
    code = "coupon_counter_too_many_wrong_codes"
    message = _(
        "Too many wrong digits were typed at this merchant. Scan the customer's QR code, or type "
        "again in a few minutes."
    )
    status = status.HTTP_429_TOO_MANY_REQUESTS


class TokenExpired(ApplicationError):
    code = "coupon_token_expired"
    message = _("This QR code has expired. Ask the customer to refresh the coupon and scan again.")


class CouponOtherMerchant(ApplicationError):
    code = "coupon_other_merchant"
    message = _("This coupon belongs to another merchant and cannot be used here.")
    status = status.HTTP_403_FORBIDDEN


class CouponNotUsable(_Conflict):
    """Not usable here and now; ``extra.reason`` says why (see ``services.usability``)."""

    code = "coupon_not_usable"
    message = _("This coupon cannot be used now.")


class CouponAlreadyUsed(_Conflict):
    code = "coupon_already_used"
    message = _("This coupon has already been used.")


class CouponCodeUsed(_Conflict):
    code = "coupon_code_used"
    message = _(
        "This offline code has already been used. Ask the customer to show the new code on "
        "their phone."
    )


class CouponExpired(_Conflict):
    code = "coupon_expired"
    message = _("This coupon has expired.")


class UndoWindowPassed(_Conflict):
    code = "undo_window_passed"
    message = _("A verification can only be undone within 10 minutes.")


class CampaignNotActive(_Conflict):
    code = "campaign_not_active"
    message = _("This campaign is closed.")


class BudgetBelowCommitted(ApplicationError):
    code = "budget_below_committed"
    message = _("The budget cannot be lower than what is already reserved and spent.")


class CouponPaused(_Conflict):
    code = "coupon_paused"
    message = _("This offer is paused for now. Try again later.")
