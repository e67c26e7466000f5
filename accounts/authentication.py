"""DRF token authentication with its lookup compiled once per process.

Every API call of a phone or a till sends ``Authorization: Token ...``; DRF's own class builds
and compiles ``Token.objects.select_related("user").get(key=...)`` each time, which costs this
app's hot path (a flash sale's claim) about three times the query. Same answers, same
messages: an unknown key and an inactive user are refused with DRF's 401s.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from alliance.compiled import CompiledQuery

from . import roles

# Built at the first call: DRF imports this module while the apps are still loading.
_user_by_token = CompiledQuery(
    lambda key: get_user_model().objects.filter(auth_token__key=key), key="\0key"
)

# The customer (``roles.is_customer``) holding a token, as this class and ``IsCustomer`` would
# find them: for a statement that authenticates inside itself (a flash sale's winner, see
# ``coupons.services.claiming``). Its SQL runs there; it never answers why a token fails.
customer_by_token = CompiledQuery(
    lambda key: get_user_model().objects.filter(roles.CUSTOMERS, auth_token__key=key).only("id"),
    key="\0key",
)


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        found = _user_by_token.fetch(key=key)
        if not found:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = found[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, self.get_model()(key=key, user=user)
