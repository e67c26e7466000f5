"""Template filters used across the project (loaded as a builtin)."""

import re

from django import template

from accounts.phones import mask_phone

register = template.Library()


@register.filter(name="mask_phone")
def mask_phone_filter(value) -> str:
    """138****1234: the phone number as shown wherever the full number is not needed."""
    return mask_phone(str(value)) if value else ""


@register.filter(name="fen")
def fen(value) -> str:
    """¥1,234.56 from an integer number of fen (-¥0.05 for -5); "" for anything else.

    Integer arithmetic only (divmod), never a float: money is whole fen everywhere.
    """
    if isinstance(value, bool):
        return ""
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        value = int(value.strip())
    if not isinstance(value, int):
        return ""
    yuan, cents = divmod(abs(value), 100)
    return f"{'-' if value < 0 else ''}¥{yuan:,}.{cents:02d}"
