"""The refusals of the payments domain, each with a stable ``code`` (see ``alliance.errors``)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status

from alliance.errors import ApplicationError, NotFound
from merchants.errors import InvalidInput, InvalidTransition, NotInYourGrid

__all__ = ["InvalidInput", "InvalidTransition", "NotInYourGrid"]


class _Conflict(ApplicationError):
    status = status.HTTP_409_CONFLICT


class OrderNotFound(NotFound):
    code = "payment_not_found"
    message = _("No such payment.")


class QRNotFound(NotFound):
    code = "payment_qr_not_found"
    message = _("This payment code is not valid. Ask the shop for its current code.")


class QRExpired(_Conflict):
    code = "payment_qr_expired"
    message = _("This payment code has expired. Ask the cashier for a new one.")


class QRUsed(_Conflict):
    code = "payment_qr_used"
    message = _("This payment code has already been paid.")


class MerchantNotAccepting(_Conflict):
    code = "merchant_not_accepting"
    message = _("This shop cannot take payments in the alliance at the moment.")


class AmountInvalid(ApplicationError):
    code = "payment_amount_invalid"
    message = _("Enter an amount between ¥0.01 and ¥50,000.00.")


class PointsOverCap(ApplicationError):
    code = "points_over_cap"
    message = _("Points can pay at most part of this bill.")


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    message = _("This request key was already used for a different payment.")


class ChannelUnavailable(ApplicationError):
    code = "payment_channel_unavailable"
    message = _("This payment method cannot be reached right now. Try again or choose another.")
    status = status.HTTP_503_SERVICE_UNAVAILABLE


class OrderNotPayable(_Conflict):
    code = "payment_not_payable"
    message = _("This payment can no longer be paid. Start a new one.")


class RefundExceedsPaid(_Conflict):
    code = "refund_exceeds_paid"
    message = _("The refund is more than what is left to refund of this payment.")


class RefundWindowPassed(_Conflict):
    code = "refund_window_passed"
    message = _("This payment is too old to be refunded through its channel.")


class RefundNotAllowed(_Conflict):
    code = "refund_not_allowed"
    message = _("Only a paid payment can be refunded.")
