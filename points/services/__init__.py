"""Every write to the points ledger. See ``ledger`` for the posting steps all services share."""

from .adjustments import points_adjust
from .clearing import points_clearing_run, points_to_fen
from .earning import points_cancel_pending, points_earn, points_release_pending
from .expiry import points_expire
from .ledger import (
    Line,
    customer_account,
    lot_available_at,
    lot_expires_at,
    points_post,
    system_account,
)
from .reminders import points_remind_expiring
from .reversal import points_reverse_earn, points_reverse_earn_within
from .spending import (
    points_refund_spend,
    points_refund_spend_within,
    points_spend,
    points_spend_within,
    points_transfer,
)
from .tiers import (
    points_earn_for_payment,
    points_earn_for_payment_within,
    tier_evaluate,
    tier_record_spending,
)

__all__ = [
    "Line",
    "customer_account",
    "lot_available_at",
    "lot_expires_at",
    "points_adjust",
    "points_clearing_run",
    "points_earn_for_payment",
    "points_earn_for_payment_within",
    "points_to_fen",
    "points_cancel_pending",
    "points_earn",
    "points_expire",
    "points_post",
    "points_refund_spend",
    "points_refund_spend_within",
    "points_remind_expiring",
    "points_reverse_earn",
    "points_reverse_earn_within",
    "points_release_pending",
    "points_spend",
    "points_spend_within",
    "points_transfer",
    "system_account",
    "tier_evaluate",
    "tier_record_spending",
]
