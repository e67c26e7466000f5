"""Roles, and the one place that decides who may do what.

Every HTML view, API view and service asks here instead of testing ``user.role`` itself.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    MERCHANT_OWNER = "merchant_owner", _("Merchant owner")
    MERCHANT_STAFF = "merchant_staff", _("Merchant staff (cashier)")
    BRANCH_OFFICER = "branch_officer", _("Branch officer")
    BRANCH_MANAGER = "branch_manager", _("Branch manager")
    HEAD_OFFICE = "head_office", _("Head-office operator")


MERCHANT_ROLES = frozenset({Role.MERCHANT_OWNER, Role.MERCHANT_STAFF})
BRANCH_ROLES = frozenset({Role.BRANCH_OFFICER, Role.BRANCH_MANAGER})
STAFF_ROLES = BRANCH_ROLES | {Role.HEAD_OFFICE}  # bank staff: username, password and TOTP


def is_customer(user) -> bool:
    return _role(user) == Role.CUSTOMER


# ``is_customer`` as a filter on users, for a statement that decides in the database (the
# claim of a flash sale's winner); tests hold the two equal.
CUSTOMERS = models.Q(is_active=True, role=Role.CUSTOMER)


def is_merchant(user) -> bool:
    return _role(user) in MERCHANT_ROLES


def is_merchant_owner(user) -> bool:
    return _role(user) == Role.MERCHANT_OWNER


def is_bank_staff(user) -> bool:
    return _role(user) in STAFF_ROLES


def is_branch_staff(user) -> bool:
    return _role(user) in BRANCH_ROLES


def is_branch_manager(user) -> bool:
    return _role(user) == Role.BRANCH_MANAGER


def is_head_office(user) -> bool:
    return _role(user) == Role.HEAD_OFFICE


def _role(user) -> str | None:
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return user.role
