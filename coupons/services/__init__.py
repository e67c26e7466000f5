"""Every write of the coupons domain (see the modules for the rules each one keeps)."""

from .campaigns import campaign_close, campaign_create, campaign_set_budget
from .claiming import coupon_claim, coupon_claim_by_token, coupon_exchange
from .expiry import coupons_expire_due
from .offline import offline_secret_ensure, offline_secret_rotate
from .template_fields import TemplateFields
from .templates import (
    template_add_stock,
    template_approve,
    template_create,
    template_end,
    template_pause,
    template_publish,
    template_reject,
    template_resume,
    template_set_image,
    template_set_stock,
    template_submit,
    template_update,
    templates_end_due,
)
from .tokens import code_from_token, counter_code_for, offline_code_for, token_for
from .verifying import coupon_inspect, coupon_verify, coupon_void, verification_undo

__all__ = [
    "TemplateFields",
    "campaign_close",
    "campaign_create",
    "campaign_set_budget",
    "code_from_token",
    "counter_code_for",
    "coupon_claim",
    "coupon_claim_by_token",
    "coupon_exchange",
    "coupon_inspect",
    "coupon_verify",
    "coupon_void",
    "coupons_expire_due",
    "offline_code_for",
    "offline_secret_ensure",
    "offline_secret_rotate",
    "template_add_stock",
    "template_approve",
    "template_create",
    "template_end",
    "template_pause",
    "template_publish",
    "template_reject",
    "template_resume",
    "template_set_image",
    "template_set_stock",
    "template_submit",
    "template_update",
    "templates_end_due",
    "token_for",
    "verification_undo",
]
