"""Branch and head-office staff: username + password + TOTP; production forces TOTP."""

import importlib
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY

from accounts import services
from tests.accounts.conftest import OFFICER_PASSWORD
from tests.accounts.helpers import form_error_codes, totp_now, wrong
from tests.factories import UserFactory

URL = reverse("accounts:staff_login")


def post(client, username, password=OFFICER_PASSWORD, otp_token=""):
    data = {"username": username, "password": password, "otp_token": otp_token}
    return client.post(URL, {**data, "next": "/console/"})


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
class TestTotpNotRequired:
    """Test and demo settings: the code is optional, but one that is given must be right."""

    def test_username_and_password_sign_in(self, client, staff_officer, settings):
        assert settings.ALLIANCE_STAFF_OTP_REQUIRED is False
        response = post(client, "officer-a")
        assert response.status_code == 302 and response.url == "/console/"
        assert signed_in(client) and DEVICE_ID_SESSION_KEY not in client.session

    def test_a_wrong_code_is_refused(self, client, officer_device):
        response = post(client, "officer-a", otp_token=wrong(totp_now(officer_device)))
        assert form_error_codes(response, "otp_token") == ["staff_otp_invalid"]
        assert not signed_in(client)

    def test_a_right_code_verifies_the_session(self, client, officer_device):
        assert post(client, "officer-a", otp_token=totp_now(officer_device)).status_code == 302
        assert client.session[DEVICE_ID_SESSION_KEY] == officer_device.persistent_id


@pytest.mark.django_db
class TestTotpRequired:
    @pytest.fixture(autouse=True)
    def _require_totp(self, settings):
        settings.ALLIANCE_STAFF_OTP_REQUIRED = True

    def test_staff_without_a_device_are_told_to_ask_head_office(self, client, staff_officer):
        response = post(client, "officer-a", otp_token="123456")
        assert form_error_codes(response, "otp_token") == ["staff_otp_not_enrolled"]
        assert not signed_in(client)

    def test_no_code_is_refused(self, client, officer_device):
        assert form_error_codes(post(client, "officer-a"), "otp_token") == ["required"]
        request = {"request": None, "username": "officer-a", "password": OFFICER_PASSWORD}
        with pytest.raises(services.StaffOtpRequired):
            services.staff_sign_in(**request)
        assert not signed_in(client)

    def test_a_wrong_code_is_refused_and_counts_as_a_failure(self, client, officer_device):
        response = post(client, "officer-a", otp_token=wrong(totp_now(officer_device)))
        assert form_error_codes(response, "otp_token") == ["staff_otp_invalid"]
        assert not signed_in(client)
        officer_device.user.refresh_from_db()
        assert officer_device.user.failed_login_count == 1

    def test_the_right_code_signs_in_verified(self, client, officer_device):
        response = post(client, "officer-a", otp_token=totp_now(officer_device))
        assert response.status_code == 302
        assert client.session[DEVICE_ID_SESSION_KEY] == officer_device.persistent_id
        me = client.get(reverse("api:auth:me"))
        assert me.status_code == 200 and me.wsgi_request.user.is_verified()

    def test_a_code_works_once(self, client, officer_device):
        token = totp_now(officer_device)
        post(client, "officer-a", otp_token=token)
        client.logout()
        assert form_error_codes(post(client, "officer-a", otp_token=token), "otp_token") == [
            "staff_otp_invalid"
        ]

    def test_the_wrong_password_with_the_right_code_is_refused(self, client, officer_device):
        response = post(client, "officer-a", "not-it", totp_now(officer_device))
        assert form_error_codes(response) == ["login_failed"]


@pytest.mark.django_db
def test_staff_passwords_lock_out_like_merchants(client, staff_officer):
    codes = [form_error_codes(post(client, "officer-a", "wrong")) for _ in range(5)]
    assert codes[-1] == ["account_locked"]
    assert form_error_codes(post(client, "officer-a")) == ["account_locked"]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["customer", "merchant_owner"])
def test_customers_and_merchants_cannot_sign_in_on_the_staff_page(client, role):
    UserFactory(role=role, username="not-staff", password=OFFICER_PASSWORD)
    assert form_error_codes(post(client, "not-staff")) == ["login_failed"]
    assert not signed_in(client)


@pytest.mark.django_db
def test_an_unknown_username_gets_the_same_answer(client, staff_officer):
    assert form_error_codes(post(client, "nobody")) == ["login_failed"]


# --- Production settings -------------------------------------------------------------------------
from tests.alliance.test_settings import PRODUCTION_ENV  # noqa: E402  (one list of secrets)


def import_production(monkeypatch, env: dict):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delitem(sys.modules, "alliance.settings.production", raising=False)
    try:
        return importlib.import_module("alliance.settings.production")
    finally:
        sys.modules.pop("alliance.settings.production", None)


def test_production_always_requires_staff_totp(monkeypatch):
    settings = import_production(monkeypatch, {**PRODUCTION_ENV, "DJANGO_STAFF_OTP_REQUIRED": "0"})
    assert settings.ALLIANCE_STAFF_OTP_REQUIRED is True


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY"):
        import_production(monkeypatch, env)
