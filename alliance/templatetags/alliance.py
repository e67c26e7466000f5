"""Template filters used across the project (loaded as a builtin)."""

from django import template

from accounts.phones import mask_phone

register = template.Library()


@register.filter(name="mask_phone")
def mask_phone_filter(value) -> str:
    """138****1234: the phone number as shown wherever the full number is not needed."""
    return mask_phone(str(value)) if value else ""
