"""Token authentication (accounts.authentication): DRF's answers, with the lookup compiled."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from rest_framework import authentication as drf
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.test import APIClient

from accounts.authentication import TokenAuthentication
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def outcome(auth, key):
    try:
        user, token = auth.authenticate_credentials(key)
    except AuthenticationFailed as exc:
        return "refused", str(exc.detail)
    return user.pk, token.key, token.user_id


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_same_answers_as_drfs_own_class(language):
    active = UserFactory(role="customer")
    inactive = UserFactory(role="customer", is_active=False)
    keys = [Token.objects.create(user=u).key for u in (active, inactive)] + ["0" * 40]
    with translation.override(language):
        for key in keys:
            assert outcome(TokenAuthentication(), key) == outcome(drf.TokenAuthentication(), key)
    with translation.override("en"):
        assert outcome(TokenAuthentication(), keys[1]) == ("refused", "User inactive or deleted.")
        assert outcome(TokenAuthentication(), keys[2]) == ("refused", "Invalid token.")


def test_one_query_and_a_revoked_token_is_refused_at_once():
    user = UserFactory(role="customer")
    token = Token.objects.create(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/auth/me/").json()["id"] == user.pk
    with CaptureQueriesContext(connection) as captured:
        TokenAuthentication().authenticate_credentials(token.key)
    assert len(captured.captured_queries) == 1
    token.delete()
    response = api.get("/api/auth/me/")
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "authentication_failed"


def test_customer_by_token_finds_whom_the_token_class_and_is_customer_accept(branch):
    """The statement that authenticates a flash sale's winner inside itself uses this query:
    it must find exactly the holders this class authenticates and IsCustomer lets through."""
    from accounts import roles
    from accounts.authentication import customer_by_token
    from accounts.roles import BRANCH_ROLES, Role

    holders = [
        UserFactory(role=role, is_active=active, branch=branch if role in BRANCH_ROLES else None)
        for role in Role.values
        for active in (True, False)
    ]
    keys = [Token.objects.create(user=u).key for u in holders] + ["0" * 40, ""]
    for key in keys:
        try:
            user, _token = TokenAuthentication().authenticate_credentials(key)
            accepted = [user.pk] if roles.is_customer(user) else []
        except AuthenticationFailed:
            accepted = []
        assert [u.pk for u in customer_by_token.fetch(key=key)] == accepted, key
    assert sum(1 for u in holders if roles.is_customer(u)) == 1
