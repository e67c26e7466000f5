"""Refusals of the points services (stable ``code`` values; the API returns them as is)."""

from django.utils.translation import gettext_lazy as _

from alliance.errors import ApplicationError, NotFound


class PointsInsufficient(ApplicationError):
    code = "points_insufficient"
    message = _("Not enough points.")


class UnbalancedEntry(ApplicationError):
    code = "unbalanced_entry"
    message = _("A ledger entry needs at least two lines that add up to zero.")


class InvalidPoints(ApplicationError):
    code = "points_invalid"
    message = _("The number of points must be a whole number greater than zero.")


class PointsTransferDisabled(ApplicationError):
    code = "points_transfer_disabled"
    message = _("Transferring points between members is not enabled.")


class PointsNotPending(ApplicationError):
    code = "points_not_pending"
    message = _("These points are no longer pending and cannot be cancelled.")


class RefundExceedsSpend(ApplicationError):
    code = "points_refund_exceeds_spend"
    message = _("More points would be refunded than are left of this spend.")


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    message = _("This request key was already used for a different operation.")


class ReasonRequired(ApplicationError):
    code = "reason_required"
    message = _("Say why: the reason is kept in the audit trail.")


class CustomerLinesNeedService(ApplicationError):
    code = "points_customer_account_needs_service"
    message = _("Points of a customer move only through earning, spending, refunds and adjustments.")


class EntryNotFound(NotFound):
    code = "points_entry_not_found"
    message = _("No such points movement.")


class ClearingPeriodOpen(ApplicationError):
    code = "points_clearing_period_open"
    message = _("A month can be cleared only after it has ended.")


class ClearingChanged(ApplicationError):
    code = "points_clearing_changed"
    message = _("The ledger of a cleared month has changed since it was cleared.")


class NoEarnRate(ApplicationError):
    code = "points_no_earn_rate"
    message = _("No earning rate is in force.")


class CustomerNotFound(NotFound):
    code = "customer_not_found"
    message = _("No customer with this mobile number or id.")


class IdempotencyKeyRequired(ApplicationError):
    code = "idempotency_key_required"
    message = _("Send an Idempotency-Key header, so that a retried request is applied only once.")


class ReverseExceedsEarn(ApplicationError):
    code = "points_reverse_exceeds_earn"
    message = _("More points would be taken back than are left of what this payment earned.")
