"""Every write of the merchants domain (see the modules for the rules each one keeps)."""

from .applications import (
    ApplicationFields,
    application_approve,
    application_create,
    application_document_add,
    application_document_remove,
    application_reject,
    application_return,
    application_submit,
    application_update,
    missing_fields,
)
from .merchants import (
    fee_plan_create,
    merchant_close,
    merchant_move_branch,
    merchant_reinstate,
    merchant_suspend,
    visit_record,
)
from .profile import (
    profile_change_decide,
    profile_change_request,
    profile_update,
    staff_add,
    store_add,
    store_photo_add,
)

__all__ = [
    "ApplicationFields",
    "application_approve",
    "application_create",
    "application_document_add",
    "application_document_remove",
    "application_reject",
    "application_return",
    "application_submit",
    "application_update",
    "fee_plan_create",
    "merchant_close",
    "merchant_move_branch",
    "merchant_reinstate",
    "merchant_suspend",
    "missing_fields",
    "profile_change_decide",
    "profile_change_request",
    "profile_update",
    "staff_add",
    "store_add",
    "store_photo_add",
    "visit_record",
]
