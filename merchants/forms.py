"""Forms of the applicant's and the merchant's pages. They check the shape of the input; the
services decide the rest, and their refusals come back as form errors (``add_service_error``)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from alliance.errors import ApplicationError

from .models import Category, DocumentKind, MerchantApplication
from .services import ApplicationFields

_PHONE_ATTRS = {"autocomplete": "tel", "inputmode": "tel", "placeholder": "138 1234 5678"}

# Which form field shows a refusal that names no field.
_ERROR_FIELDS = {
    "invalid_credit_code": "credit_code",
    "duplicate_credit_code": "credit_code",
    "invalid_location": "lat",
    "invalid_phone": "contact_phone",
}


def add_service_error(form: forms.Form, exc: ApplicationError, field: str | None = None) -> None:
    """Show a service's refusal on ``form`` in the user's language, keeping its stable code.
    Field errors of ``invalid`` go to their fields (when the form has them)."""
    fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
    if fields:
        for name, messages in fields.items():
            target = name if name in form.fields else None
            for message in messages:
                form.add_error(target, ValidationError(message, code=exc.code))
        return
    field = field or _ERROR_FIELDS.get(exc.code)
    if field not in form.fields:
        field = None
    form.add_error(field, ValidationError(exc.message, code=exc.code))


class NoEchoInput(forms.TextInput):
    """A text input that never renders its value: a typed account number is not sent back,
    not even on a page with errors."""

    def format_value(self, value):
        return None


def _text(label, *, max_length: int, textarea: bool = False, **attrs) -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": 3, **attrs}) if textarea else forms.TextInput(attrs)
    return forms.CharField(label=label, max_length=max_length, required=False, widget=widget)


class ApplicationForm(forms.Form):
    """The draft (every field optional until submitting). The account number is never shown
    back: an empty field keeps the saved number."""

    SECTIONS = (
        (_("Your business"), ("business_name", "category", "credit_code", "legal_representative")),
        (_("Contact"), ("contact_phone",)),
        (_("Store"), ("store_name", "store_address", "opening_hours", "description")),
        (_("Location on the map"), ("lat", "lng")),
        (
            _("Settlement account"),
            ("settlement_bank", "settlement_account_name", "settlement_account_number"),
        ),
    )

    business_name = _text(_("Business name"), max_length=100)
    category = forms.ChoiceField(
        label=_("Category"), required=False, choices=[("", "---------"), *Category.choices]
    )
    credit_code = _text(
        _("Unified social credit code"),
        max_length=32,
        autocapitalize="characters",
        placeholder="91330106MA0000001X",
    )
    legal_representative = _text(_("Legal representative"), max_length=64)
    contact_phone = _text(_("Contact phone"), max_length=32, **_PHONE_ATTRS)
    store_name = _text(_("Store name"), max_length=100)
    store_address = _text(_("Store address"), max_length=200, autocomplete="street-address")
    opening_hours = _text(_("Opening hours"), max_length=200, placeholder=_("Mon-Sun 09:00-22:00"))
    description = _text(_("Description"), max_length=2000, textarea=True)
    lat = forms.FloatField(
        label=_("Latitude"),
        required=False,
        min_value=-90,
        max_value=90,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    lng = forms.FloatField(
        label=_("Longitude"),
        required=False,
        min_value=-180,
        max_value=180,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    settlement_bank = _text(_("Settlement bank"), max_length=100)
    settlement_account_name = _text(_("Account name"), max_length=200)
    settlement_account_number = forms.CharField(
        label=_("Account number"),
        required=False,
        max_length=40,
        widget=NoEchoInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(self, *args, application: MerchantApplication | None = None, **kwargs):
        if application is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                name: getattr(application, name)
                for name in self.base_fields
                if name != "settlement_account_number"
            }
        super().__init__(*args, **kwargs)
        self.application = application
        number = self.fields["settlement_account_number"]
        if application is not None and application.settlement_account_number:
            number.help_text = _("Saved: %(masked)s. Leave empty to keep it.") % {
                "masked": application.masked_account_number
            }

    def clean(self):
        data = super().clean()
        if (data.get("lat") is None) != (data.get("lng") is None) and not self.errors.get("lat"):
            self.add_error("lat", _("Enter both latitude and longitude, or neither."))
        return data

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in self.SECTIONS]

    def to_fields(self) -> ApplicationFields:
        data = dict(self.cleaned_data)
        if not data.get("settlement_account_number"):
            data["settlement_account_number"] = None  # keep the saved number
        return ApplicationFields(**data)


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=DocumentKind.choices)
    image = forms.FileField(
        label=_("Photo"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )


class MerchantProfileForm(forms.Form):
    description = _text(_("Description"), max_length=2000, textarea=True)
    contact_phone = forms.CharField(
        label=_("Contact phone"), max_length=32, widget=forms.TextInput(attrs=_PHONE_ATTRS)
    )


class StoreForm(forms.Form):
    name = forms.CharField(label=_("Store name"), max_length=100)
    opening_hours = _text(_("Opening hours"), max_length=200)
    description = _text(_("Description"), max_length=2000, textarea=True)


class StorePhotoForm(forms.Form):
    image = forms.FileField(
        label=_("Photo"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )


class ChangeRequestForm(forms.Form):
    """Legal and settlement details: only what is filled in is asked for."""

    business_name = _text(_("Business name"), max_length=100)
    category = forms.ChoiceField(
        label=_("Category"), required=False, choices=[("", "---------"), *Category.choices]
    )
    legal_representative = _text(_("Legal representative"), max_length=64)
    settlement_bank = _text(_("Settlement bank"), max_length=100)
    settlement_account_name = _text(_("Account name"), max_length=200)
    settlement_account_number = forms.CharField(
        label=_("Account number"),
        required=False,
        max_length=40,
        widget=NoEchoInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean(self):
        data = super().clean()
        if not self.errors and not self.changes():
            raise ValidationError(_("Fill in at least one detail to change."), code="empty")
        return data

    def changes(self) -> dict[str, str]:
        return {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}


class StaffAddForm(forms.Form):
    phone = forms.CharField(
        label=_("Cashier's mobile number"),
        max_length=32,
        widget=forms.TextInput(attrs=_PHONE_ATTRS),
    )
    name = forms.CharField(label=_("Name"), max_length=64, required=False)
