"""Forms of the merchant's coupon pages. They parse what a person types (yuan, local times,
weekday boxes, "11:00-14:00, 17:00-21:00") into ``services.TemplateFields``; the services
decide everything else, and their field errors come back onto the matching form fields."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alliance.errors import ApplicationError
from merchants.models import Merchant, Store

from .models import Campaign, CouponTemplate
from .selectors import merchant as selectors
from .services import TemplateFields

MAX_FEN = 100_000_000


def yuan_to_fen(text) -> int:
    """ "20.5" / "¥1,234.56" -> 2050 / 123456 fen. The one place typed yuan become fen: parsed
    as a Decimal (never a float), refused with more than 2 decimals, below zero or absurdly
    large. Empty is 0."""
    cleaned = re.sub(r"[\s,，¥￥]", "", str(text or ""))
    if cleaned.endswith("元"):
        cleaned = cleaned[:-1]
    if not cleaned:
        return 0
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]*)?", cleaned):
        raise ValidationError(_("Enter an amount in yuan, such as 20 or 20.50."), "money")
    yuan = Decimal(cleaned)
    if yuan.as_tuple().exponent < -2 and yuan != yuan.quantize(Decimal("0.01")):
        raise ValidationError(_("At most two decimals (fen)."), "money_decimals")
    if yuan < 0:
        raise ValidationError(_("Enter an amount of zero or more."), "money_negative")
    fen = int(yuan * 100)
    if fen > MAX_FEN:
        raise ValidationError(_("This amount is too large."), "money_large")
    return fen


def fen_to_yuan(value: int) -> str:
    yuan, cents = divmod(int(value), 100)
    return f"{yuan}.{cents:02d}"


class YuanField(forms.Field):
    """Typed in yuan, cleaned to integer fen (see ``yuan_to_fen``)."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.00"})

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return yuan_to_fen(value)

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return fen_to_yuan(value)
        return value


_SLOT_SPLIT = re.compile(r"[,，;；\s]+")


def parse_time_slots(text: str) -> list[list[str]]:
    """ "11:00-14:00, 17:00-21:00" -> [["11:00", "14:00"], ["17:00", "21:00"]]. Only the
    shape is checked here; the service checks the hours."""
    slots = []
    for chunk in _SLOT_SPLIT.split((text or "").strip()):
        if not chunk:
            continue
        parts = re.split(r"[-–~～至]", chunk)
        if len(parts) != 2 or not all(parts):
            raise ValidationError(
                _("Give hours as HH:MM-HH:MM, separated by commas."), "time_slots"
            )
        start, end = (p if len(p) == 5 else p.zfill(5) for p in parts)
        slots.append([start, end])
    return slots


class TimeSlotsField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, list):
            return value
        return parse_time_slots(super().to_python(value))

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(f"{start}-{end}" for start, end in value)
        return value


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def _when(label, *, required: bool = False, help_text="") -> forms.DateTimeField:
    # Naive input is read in the current time zone: Asia/Shanghai (settings.TIME_ZONE).
    return forms.DateTimeField(
        label=label,
        required=required,
        widget=LocalDateTimeInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        help_text=help_text,
    )


WEEKDAYS = [
    ("0", _("Mon")),
    ("1", _("Tue")),
    ("2", _("Wed")),
    ("3", _("Thu")),
    ("4", _("Fri")),
    ("5", _("Sat")),
    ("6", _("Sun")),
]


def weekdays_to_mask(days) -> int:
    """Checked boxes -> bitmask, bit 0 = Monday."""
    return sum(1 << int(d) for d in set(days or []))


def mask_to_weekdays(mask: int) -> list[str]:
    return [str(d) for d in range(7) if mask & (1 << d)]


# Form field -> TemplateFields attribute (and back, for the service's field errors).
_TO_FIELDS = {
    "discount": "discount_fen",
    "min_spend": "min_spend_fen",
    "cap": "cap_fen",
    "price": "price_fen",
    "stores": "store_ids",
    "campaign": "campaign_id",
}
_FROM_FIELDS = {v: k for k, v in _TO_FIELDS.items()}


def _minute(moment):
    """A stored moment as the datetime-local box shows it (local, to the minute)."""
    if moment is None:
        return None
    return timezone.localtime(moment).replace(second=0, microsecond=0)


class TemplateForm(forms.Form):
    """A template as the owner writes it. ``to_fields`` gives the service its input."""

    kind = forms.ChoiceField(label=_("Kind"), choices=CouponTemplate.Kind.choices)
    title = forms.CharField(label=_("Title"), max_length=60)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    image = forms.ImageField(label=_("Image"), required=False)

    discount = YuanField(
        label=_("Value (¥)"),
        help_text=_("Cash off: the amount taken off. Paid voucher or gift: what it is worth."),
    )
    min_spend = YuanField(label=_("Minimum spend (¥)"))
    pay_percent = forms.IntegerField(
        label=_("Customer pays (%)"),
        required=False,
        min_value=1,
        max_value=99,
        help_text=_("Percentage off: 85 means 8.5折."),
    )
    cap = YuanField(label=_("At most off (¥)"), help_text=_("Percentage off: the cap."))
    price = YuanField(label=_("Price (¥)"), help_text=_("Paid voucher: what the customer pays."))
    gift_item = forms.CharField(label=_("Gift item"), max_length=60, required=False)

    obtain = forms.ChoiceField(label=_("Obtained by"), choices=CouponTemplate.Obtain.choices)
    points_price = forms.IntegerField(
        label=_("Price in points"), required=False, min_value=0, initial=0
    )
    campaign = forms.ModelChoiceField(
        label=_("Campaign"),
        queryset=Campaign.objects.none(),
        required=False,
        help_text=_("For a campaign giveaway: the bank campaign that funds it."),
    )
    refund_any_time = forms.BooleanField(
        label=_("Paid voucher: refundable while unused"), required=False, initial=True
    )
    refund_on_expiry = forms.BooleanField(
        label=_("Paid voucher: refunded automatically on expiry"), required=False, initial=True
    )

    stores = forms.ModelMultipleChoiceField(
        label=_("Stores"), queryset=Store.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    total_stock = forms.IntegerField(label=_("Stock"), min_value=1, max_value=10_000_000)
    per_customer_limit = forms.IntegerField(
        label=_("Per customer"), min_value=1, max_value=100, initial=1
    )
    daily_cap = forms.IntegerField(
        label=_("Claims per day"), required=False, min_value=1, help_text=_("Empty for no cap.")
    )
    claim_start = _when(_("Claim from"), required=True)
    claim_end = _when(_("Claim until"), required=True)

    validity = forms.ChoiceField(
        label=_("Validity"),
        choices=CouponTemplate.Validity.choices,
        widget=forms.RadioSelect,
        initial=CouponTemplate.Validity.RELATIVE,
    )
    valid_from = _when(_("Valid from"))
    valid_until = _when(_("Valid until"))
    valid_days = forms.IntegerField(label=_("Valid for days after claim"), required=False)
    start_delay_days = forms.IntegerField(
        label=_("Usable after days"), required=False, initial=0, min_value=0
    )
    weekdays = forms.MultipleChoiceField(
        label=_("Usable days"),
        choices=WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        initial=[d for d, _label in WEEKDAYS],
    )
    time_slots = TimeSlotsField(
        label=_("Usable hours"),
        help_text=_("For example 11:00-14:00, 17:00-21:00. Empty for all day."),
    )

    def __init__(self, *args, merchant: Merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stores"].queryset = merchant.stores.order_by("pk")
        self.fields["campaign"].queryset = selectors.usable_campaigns(merchant)

    @classmethod
    def initial_of(cls, template: CouponTemplate) -> dict:
        """The form's initial values for ``template`` (as the boxes show them)."""
        data = selectors.template_fields_of(template)
        return {
            "kind": data.kind,
            "title": data.title,
            "description": data.description,
            "discount": data.discount_fen,
            "min_spend": data.min_spend_fen,
            "pay_percent": data.pay_percent,
            "cap": data.cap_fen,
            "price": data.price_fen,
            "gift_item": data.gift_item,
            "obtain": data.obtain,
            "points_price": data.points_price,
            "campaign": data.campaign_id,
            "refund_any_time": data.refund_any_time,
            "refund_on_expiry": data.refund_on_expiry,
            "stores": data.store_ids,
            "total_stock": data.total_stock,
            "per_customer_limit": data.per_customer_limit,
            "daily_cap": data.daily_cap,
            "claim_start": _minute(data.claim_start),
            "claim_end": _minute(data.claim_end),
            "validity": data.validity,
            "valid_from": _minute(data.valid_from),
            "valid_until": _minute(data.valid_until),
            "valid_days": data.valid_days,
            "start_delay_days": data.start_delay_days,
            "weekdays": mask_to_weekdays(data.weekdays),
            "time_slots": data.time_slots,
        }

    def _value(self, name: str):
        value = self.cleaned_data.get(name)
        if name == "stores":
            return [s.pk for s in value or []]
        if name == "campaign":
            return value.pk if value else None
        if name == "weekdays":
            return weekdays_to_mask(value)
        if name in ("description", "gift_item"):
            return value or ""
        if name in ("points_price", "start_delay_days"):
            return value or 0
        return value

    def to_fields(self, base: TemplateFields | None = None) -> TemplateFields:
        """The service's input. Editing (``base`` given): only what the owner changed replaces
        the stored values, so an untouched box never counts as an edit (a datetime-local box
        has no seconds, for one)."""
        names = [n for n in self.fields if n != "image"]
        if base is not None:
            names = [n for n in names if n in self.changed_data]
        values = {_TO_FIELDS.get(n, n): self._value(n) for n in names}
        if base is not None:
            return replace(base, **values)
        return TemplateFields(**values)

    def add_service_error(self, exc: ApplicationError) -> None:
        """A service refusal onto the form: ``invalid`` field errors on their fields,
        ``unsafe_edit`` and anything else at the top, with the service's message."""
        fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
        if exc.code == "invalid" and isinstance(fields, dict):
            for name, messages in fields.items():
                target = _FROM_FIELDS.get(name, name)
                target = target if target in self.fields else None
                for message in messages:
                    self.add_error(target, ValidationError(message, code=exc.code))
            return
        self.add_error(None, ValidationError(exc.message, code=exc.code))


class AddStockForm(forms.Form):
    more = forms.IntegerField(label=_("Add stock"), min_value=1, max_value=10_000_000)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class InspectForm(forms.Form):
    """Step 1 at the counter: a scanned token or the typed digits under the customer's QR, and
    the store (when several)."""

    code = forms.CharField(
        label=_("Digits under the QR code"),
        required=False,
        max_length=200,  # a USB scanner "types" the whole QR token here
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )
    token = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    store = forms.ModelChoiceField(label=_("Store"), queryset=Store.objects.none(), required=False)

    def __init__(self, *args, merchant: Merchant, **kwargs):
        super().__init__(*args, **kwargs)
        stores = list(merchant.stores.order_by("pk"))
        self.fields["store"].queryset = merchant.stores.order_by("pk")
        self.several_stores = len(stores) > 1
        if len(stores) == 1:
            # One store: it is where the coupon is used (recorded on the verification).
            self.fields["store"].widget = forms.HiddenInput()
            self.fields["store"].initial = stores[0].pk

    def clean(self):
        data = super().clean()
        if not data.get("code") and not data.get("token"):
            self.add_error("code", _("Scan the QR code or type the digits under it."))
        return data


class ConfirmForm(forms.Form):
    """Step 2: a token made for the inspected coupon (short-lived, like the customer's) and the
    key made when the inspection was shown."""

    code = forms.CharField(max_length=200, widget=forms.HiddenInput)
    idempotency_key = forms.CharField(min_length=8, max_length=64, widget=forms.HiddenInput)
    store = forms.IntegerField(required=False, widget=forms.HiddenInput)


def new_idempotency_key() -> str:
    return uuid.uuid4().hex
