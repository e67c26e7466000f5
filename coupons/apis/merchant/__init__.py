"""Merchant API of coupons: templates (券批次) and their actions, verifying at the counter (核销),
undo, void, today's verifications. Mounted under /api/coupons/merchant/.

Views parse, call one service or selector and render; every rule lives in
``coupons.services``. Money is integer fen (``_fen``). Scope is the caller's merchant: another
merchant's template or verification is a 404 (``not_in_your_grid``); another merchant's coupon
at the counter is ``coupon_other_merchant`` (403), so the cashier is told plainly. Cashiers read
and verify; the owner writes (cashiers get ``permission_denied``).
"""

from .counter import (
    CouponVoidApi,
    VerificationListApi,
    VerificationUndoApi,
    VerifyConfirmApi,
    VerifyInspectApi,
)
from .templates import (
    TemplateActionApi,
    TemplateAddStockApi,
    TemplateDetailApi,
    TemplateHistoryApi,
    TemplateListApi,
    TemplateSetStockApi,
)

__all__ = [
    "CouponVoidApi",
    "TemplateActionApi",
    "TemplateAddStockApi",
    "TemplateDetailApi",
    "TemplateHistoryApi",
    "TemplateListApi",
    "TemplateSetStockApi",
    "VerificationListApi",
    "VerificationUndoApi",
    "VerifyConfirmApi",
    "VerifyInspectApi",
]
