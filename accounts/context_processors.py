from . import roles


def role(request) -> dict:
    """Expose role checks to templates, for menus (not for access decisions)."""
    user = getattr(request, "user", None)
    return {
        "is_bank_staff": roles.is_bank_staff(user),
        "is_head_office": roles.is_head_office(user),
        "is_merchant": roles.is_merchant(user),
        "is_customer": roles.is_customer(user),
    }
