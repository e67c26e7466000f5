"""Access control in one place: view decorators, DRF permissions and the branch scope.

Scope is resolved once per request from the user: head office sees every branch, branch staff
their own branch's grid, anybody else nothing. Querysets go through :func:`branch_scope`, so a
scope that cannot be resolved gives an empty queryset, never everything.
"""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.urls import reverse
from rest_framework.permissions import BasePermission

from . import roles


def second_factor_ok(user) -> bool:
    """Bank staff count as signed in only after their TOTP code, where TOTP is required.

    ``is_verified`` is set on ``request.user`` by django-otp's middleware; a user object from
    elsewhere has none and so fails safe.
    """
    if not settings.ALLIANCE_STAFF_OTP_REQUIRED or not roles.is_bank_staff(user):
        return True
    return bool(getattr(user, "is_verified", lambda: False)())


def role_required(*checks: Callable, login_url: str | None = None) -> Callable:
    """Decorate an HTML view: anonymous users (and staff without their second factor) go to
    sign in, the wrong role gets 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated or not second_factor_ok(request.user):
                return redirect_to_login(
                    request.get_full_path(), reverse(login_url) if login_url else None
                )
            if not any(check(request.user) for check in checks):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def staff_console(view):
    """Branch staff and head office only."""
    return role_required(roles.is_bank_staff, login_url="accounts:staff_login")(view)


def head_office_only(view):
    return role_required(roles.is_head_office, login_url="accounts:staff_login")(view)


class HasRole(BasePermission):
    """DRF permission: ``HasRole.of(roles.is_head_office, ...)`` builds one for given checks."""

    checks: tuple[Callable, ...] = ()

    @classmethod
    def of(cls, *checks: Callable) -> type["HasRole"]:
        return type(f"HasRole_{'_'.join(c.__name__ for c in checks)}", (cls,), {"checks": checks})

    def has_permission(self, request, view) -> bool:
        return second_factor_ok(request.user) and any(check(request.user) for check in self.checks)


IsBankStaff = HasRole.of(roles.is_bank_staff)
IsHeadOffice = HasRole.of(roles.is_head_office)
IsCustomer = HasRole.of(roles.is_customer)
IsMerchant = HasRole.of(roles.is_merchant)


def branch_scope(user, branches: QuerySet) -> QuerySet:
    """The branches this user may see: all for head office, their own for branch staff."""
    if not second_factor_ok(user):
        return branches.none()
    if roles.is_head_office(user):
        return branches
    if roles.is_branch_staff(user) and user.branch_id:
        return branches.filter(pk=user.branch_id)
    return branches.none()


def grid_scope(user, places: QuerySet) -> QuerySet:
    """Gridded places (merchant stores...) this user may see: by the branch that owns them."""
    if not second_factor_ok(user):
        return places.none()
    if roles.is_head_office(user):
        return places
    if roles.is_branch_staff(user) and user.branch_id:
        return places.filter(branch_id=user.branch_id)
    return places.none()
