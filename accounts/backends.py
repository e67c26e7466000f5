"""Authentication backends.

Customers never use a password (they sign in with an SMS code through ``accounts.services``).
Merchants sign in with phone + password; bank staff with username + password (and TOTP where
required, checked by the staff sign-in view). Lock-out is applied by the sign-in services.
"""

from django.contrib.auth.backends import ModelBackend

from .models import User
from .phones import InvalidPhone, normalize_phone
from .roles import MERCHANT_ROLES, STAFF_ROLES


class PhonePasswordBackend(ModelBackend):
    """Merchant owners and staff: phone number and password."""

    def authenticate(self, request, phone=None, password=None, **kwargs):
        if phone is None or password is None:
            return None
        try:
            e164 = normalize_phone(phone)
        except InvalidPhone:
            return None
        user = User.objects.filter(phone=e164, role__in=list(MERCHANT_ROLES)).first()
        if user is None:
            User().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


class StaffUsernameBackend(ModelBackend):
    """Branch and head-office staff: username and password."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = User.objects.filter(username=username, role__in=list(STAFF_ROLES)).first()
        if user is None:
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
