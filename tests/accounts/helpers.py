"""Helpers for the sign-in tests: read codes from the SMS outbox, age codes, compute TOTP."""

import re

from django.db.models import F
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import sms
from accounts.models import SmsCode

PHONE = "138 1234 1234"  # as people type it
E164 = "+8613812341234"
MASKED = "138****1234"


def code_sent_to(e164: str) -> str:
    """The code in the newest SMS to ``e164``."""
    text = next(m.text for m in reversed(sms.outbox) if m.phone == e164)
    return re.search(r"\b(\d{6})\b", text).group(1)


def age_codes(delta, **filters) -> None:
    """Pretend the matching codes were sent ``delta`` earlier (the services read the clock)."""
    SmsCode.objects.filter(**filters).update(
        created_at=F("created_at") - delta, expires_at=F("expires_at") - delta
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def totp_now(device: TOTPDevice) -> str:
    """The token the user's authenticator app shows now."""
    token = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{token:0{device.digits}d}"


def form_error_codes(response, field: str | None = None) -> list[str]:
    """The codes of a rendered form's errors (``None``: errors not tied to a field)."""
    errors = response.context["form"].errors.as_data()
    return [e.code for e in errors.get(field or "__all__", [])]
