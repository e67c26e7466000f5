"""The refusals of the merchants domain, each with a stable ``code`` (see ``alliance.errors``)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status

from alliance.errors import ApplicationError, NotFound

from .credit_code import InvalidCreditCode  # noqa: F401  (re-exported)


class NotInYourGrid(NotFound):
    """Something outside the user's grid, or not theirs: a 404, so ids cannot be probed."""

    code = "not_in_your_grid"
    message = _("Not found.")


class InvalidTransition(ApplicationError):
    code = "invalid_transition"
    message = _("This is not possible in the current state.")
    status = status.HTTP_409_CONFLICT


class InvalidInput(ApplicationError):
    """Field errors in the shape of the API's validation errors: ``extra.fields``."""

    code = "invalid"
    message = _("Some fields are not valid.")

    def __init__(self, fields: dict[str, str]):
        super().__init__(extra={"fields": {k: [str(v)] for k, v in fields.items()}})


class ReasonRequired(ApplicationError):
    code = "reason_required"
    message = _("Say why: the reason is kept in the merchant's history.")


class ApplicationExists(ApplicationError):
    code = "application_exists"
    message = _("You already have an application in progress. Continue that one.")
    status = status.HTTP_409_CONFLICT


class AlreadyAMerchant(ApplicationError):
    code = "already_a_merchant"
    message = _("This account already belongs to a merchant.")
    status = status.HTTP_409_CONFLICT


class ApplicationIncomplete(ApplicationError):
    code = "application_incomplete"
    message = _("Some required information is missing. Complete the application and submit again.")


class DuplicateCreditCode(ApplicationError):
    code = "duplicate_credit_code"
    message = _(
        "A merchant with this unified social credit code is already a member of the alliance. "
        "If this is your business, contact your branch."
    )
    status = status.HTTP_409_CONFLICT


class TooManyDocuments(ApplicationError):
    code = "too_many_documents"
    message = _("You have uploaded the maximum number of photos of this kind.")


class InvalidFeePlan(ApplicationError):
    code = "invalid_fee_plan"
    message = _("Choose an active fee plan.")


class NeedsReview(ApplicationError):
    code = "needs_review"
    message = _(
        "Legal and settlement details cannot be changed directly. Send them as a change request: "
        "your branch reviews it."
    )
    status = status.HTTP_409_CONFLICT


class ChangePending(ApplicationError):
    code = "change_pending"
    message = _("A change request is already waiting for review.")
    status = status.HTTP_409_CONFLICT


class StaffUnavailable(ApplicationError):
    code = "staff_unavailable"
    message = _(
        "This mobile number cannot be added as staff: it belongs to another account type or merchant."
    )
    status = status.HTTP_409_CONFLICT
