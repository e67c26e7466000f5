"""Mainland China mobile numbers: parse, validate, store as E.164, show masked."""

import phonenumbers
from django.utils.translation import gettext_lazy as _

from alliance.errors import ApplicationError


class InvalidPhone(ApplicationError):
    code = "invalid_phone"
    message = _("Enter a valid mainland China mobile number.")


def normalize_phone(raw: str) -> str:
    """Return the number as E.164 (+8613812341234) or raise :class:`InvalidPhone`.

    Accepts what people type: spaces, dashes, a leading +86 or 0086.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone()
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone() from exc
    if (
        number.country_code != 86
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE
    ):
        raise InvalidPhone()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_digits(e164: str) -> str:
    return e164[3:] if e164.startswith("+86") else e164.lstrip("+")


def mask_phone(e164: str) -> str:
    """138****1234."""
    digits = national_digits(e164)
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"
