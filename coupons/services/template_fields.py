"""What the owner writes on a template, and whether it is valid (field errors in the user's
language, keyed by field, in the shape of the API's validation errors)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, Store

from ..models import Campaign, CouponTemplate

Kind = CouponTemplate.Kind
Obtain = CouponTemplate.Obtain
Validity = CouponTemplate.Validity

_SLOT = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass
class TemplateFields:
    """Everything the owner writes on a template (the form and the API fill this)."""

    kind: str
    title: str
    total_stock: int
    claim_start: datetime
    claim_end: datetime
    validity: str
    store_ids: list[int]
    obtain: str = Obtain.FREE
    description: str = ""
    discount_fen: int = 0
    min_spend_fen: int = 0
    pay_percent: int | None = None
    cap_fen: int = 0
    price_fen: int = 0
    points_price: int = 0
    gift_item: str = ""
    campaign_id: int | None = None
    per_customer_limit: int = 1
    daily_cap: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: int | None = None
    start_delay_days: int = 0
    weekdays: int = 127
    time_slots: list = field(default_factory=list)
    refund_any_time: bool = True
    refund_on_expiry: bool = True


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_fields(data: TemplateFields, *, merchant: Merchant) -> dict:
    """Field errors of ``data`` (empty when valid), in the user's language."""
    errors: dict[str, object] = {}
    required = _("This field is required.")
    if data.kind not in Kind.values:
        errors["kind"] = _("Choose a kind of coupon.")
    if data.obtain not in Obtain.values:
        errors["obtain"] = _("Choose how the coupon is obtained.")
    if not (data.title or "").strip():
        errors["title"] = required
    elif len(data.title.strip()) > 60:
        errors["title"] = _("At most 60 characters.")
    money = ("discount_fen", "min_spend_fen", "cap_fen", "price_fen", "points_price")
    for name in money:
        value = getattr(data, name)
        if not is_int(value) or value < 0 or value > 100_000_000:
            errors[name] = _("Enter an amount of zero or more.")
    if not is_int(data.total_stock) or not 1 <= data.total_stock <= 10_000_000:
        errors["total_stock"] = _("Stock must be between 1 and 10,000,000.")
    if not is_int(data.per_customer_limit) or not 1 <= data.per_customer_limit <= 100:
        errors["per_customer_limit"] = _("The limit per customer must be between 1 and 100.")
    if data.daily_cap is not None and (not is_int(data.daily_cap) or data.daily_cap < 1):
        errors["daily_cap"] = _("The daily cap must be at least 1, or empty for none.")
    if not data.claim_start or not data.claim_end:
        errors["claim_end"] = required
    elif data.claim_end <= data.claim_start:
        errors["claim_end"] = _("The claim window must end after it starts.")
    if not errors.keys() & set(money):
        _validate_value(data, errors)
    _validate_validity(data, errors)
    if not is_int(data.weekdays) or not 1 <= data.weekdays <= 127:
        errors["weekdays"] = _("Choose at least one weekday.")
    if not _slots_ok(data.time_slots):
        errors["time_slots"] = _("Give hours as HH:MM-HH:MM, each ending after it starts.")
    store_ids = set(data.store_ids or [])
    own = set(
        Store.objects.filter(merchant=merchant, pk__in=store_ids).values_list("pk", flat=True)
    )
    if not store_ids:
        errors["store_ids"] = _("Choose at least one store.")
    elif own != store_ids:
        errors["store_ids"] = _("Choose among your own stores.")
    if data.obtain == Obtain.CAMPAIGN or data.campaign_id is not None:
        _validate_campaign(data, merchant, errors)
    return errors


def _validate_value(data: TemplateFields, errors: dict) -> None:
    if data.kind == Kind.CASH_OFF:
        if data.discount_fen <= 0:
            errors["discount_fen"] = _("Say how much is taken off.")
        elif data.min_spend_fen and data.discount_fen >= data.min_spend_fen:
            errors["discount_fen"] = _("The discount must be less than the minimum spend.")
    elif data.kind == Kind.PERCENT_OFF:
        if not is_int(data.pay_percent) or not 1 <= data.pay_percent <= 99:
            errors["pay_percent"] = _(
                "Enter what the customer pays, 1 to 99 per cent (85 = 8.5折)."
            )
        if data.cap_fen <= 0:
            errors["cap_fen"] = _("Say the most that can be taken off.")
    elif data.kind == Kind.PAID_VOUCHER:
        if data.price_fen <= 0:
            errors["price_fen"] = _("Say what the voucher costs.")
        if data.discount_fen <= data.price_fen:
            errors["discount_fen"] = _("The voucher must be worth more than it costs.")
        if data.obtain != Obtain.PURCHASE:
            errors["obtain"] = _("A paid voucher is obtained by purchase.")
    elif data.kind == Kind.GIFT:
        if not (data.gift_item or "").strip():
            errors["gift_item"] = _("Name the free item.")
    if data.obtain == Obtain.POINTS and data.points_price <= 0:
        errors["points_price"] = _("Say how many points it costs.")
    if data.obtain == Obtain.PURCHASE and data.kind != Kind.PAID_VOUCHER:
        errors["obtain"] = _("Only a paid voucher is bought.")


def _validate_validity(data: TemplateFields, errors: dict) -> None:
    if data.validity == Validity.FIXED:
        if not data.valid_from or not data.valid_until:
            errors["valid_until"] = _("Give the first and the last moment the coupon is valid.")
        elif data.valid_until <= data.valid_from:
            errors["valid_until"] = _("The validity must end after it starts.")
        elif data.claim_end and data.valid_until < data.claim_end:
            errors["valid_until"] = _("Coupons must stay valid at least until claiming ends.")
    elif data.validity == Validity.RELATIVE:
        if not is_int(data.valid_days) or not 1 <= data.valid_days <= 366:
            errors["valid_days"] = _("Valid for 1 to 366 days after claim.")
        if not is_int(data.start_delay_days) or not 0 <= data.start_delay_days <= 90:
            errors["start_delay_days"] = _("Usable after 0 to 90 days.")
    else:
        errors["validity"] = _("Choose fixed dates or a number of days after claim.")


def _slots_ok(slots) -> bool:
    if not isinstance(slots, list):
        return False
    for slot in slots:
        if not (isinstance(slot, list | tuple) and len(slot) == 2):
            return False
        start, end = slot
        if not (isinstance(start, str) and isinstance(end, str)):
            return False
        if not (_SLOT.match(start) and (_SLOT.match(end) or end == "24:00")) or end <= start:
            return False
    return True


def _validate_campaign(data: TemplateFields, merchant: Merchant, errors: dict) -> None:
    if data.campaign_id is None:
        errors["campaign_id"] = _("Choose the campaign that funds this giveaway.")
        return
    branches = set(merchant.stores.filter(branch__isnull=False).values_list("branch_id", flat=True))
    ok = Campaign.objects.filter(
        Q(branch__isnull=True) | Q(branch_id__in=branches), pk=data.campaign_id, is_active=True
    ).exists()
    if not ok:
        errors["campaign_id"] = _("Choose an open campaign of your branch or of head office.")


def apply_fields(template: CouponTemplate, data: TemplateFields) -> None:
    values = asdict(data)
    values.pop("store_ids")
    values["title"] = data.title.strip()
    values["description"] = (data.description or "").strip()
    values["gift_item"] = (data.gift_item or "").strip()
    if data.campaign_id is not None:
        values["funded_by"] = CouponTemplate.FundedBy.CAMPAIGN
    else:
        values["funded_by"] = CouponTemplate.FundedBy.MERCHANT
    if data.validity == Validity.FIXED:
        values.update(valid_days=None, start_delay_days=0)
    else:
        values.update(valid_from=None, valid_until=None)
    if data.kind != Kind.PERCENT_OFF:
        values.update(pay_percent=None)
    for name, value in values.items():
        setattr(template, name, value)
    template.time_slots = [list(slot) for slot in data.time_slots]
