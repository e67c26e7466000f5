"""Merchant owners and cashiers: phone + password, lock-out after consecutive failures."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from accounts.services import LoginFailed
from tests.accounts.conftest import MERCHANT_PASSWORD
from tests.accounts.helpers import form_error_codes
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = reverse("accounts:merchant_login")


def post(client, phone, password, **data):
    return client.post(URL, {"phone": phone, "password": password, **data})


def test_the_right_password_signs_in(client, merchant_owner):
    response = post(client, merchant_owner.phone, MERCHANT_PASSWORD, next="/dashboard/")
    assert response.status_code == 302 and response.url == "/dashboard/"
    assert client.session["_auth_user_id"] == str(merchant_owner.pk)


def test_an_unsafe_next_goes_home(client, merchant_owner):
    response = post(client, merchant_owner.phone, MERCHANT_PASSWORD, next="//evil.example/x")
    assert response.url == reverse("home")


def test_unknown_number_and_wrong_password_get_the_same_answer(client, merchant_owner):
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    wrong = client.post(URL, {"phone": merchant_owner.phone, "password": "not-it"}, **english)
    unknown = client.post(URL, {"phone": "13700000000", "password": MERCHANT_PASSWORD}, **english)

    assert form_error_codes(wrong) == form_error_codes(unknown) == ["login_failed"]
    with translation.override("en"):
        message = str(LoginFailed.message)
    assert message in wrong.content.decode() and message in unknown.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_bad_number_is_a_phone_error(client):
    assert form_error_codes(post(client, "12345", "x"), "phone") == ["invalid_phone"]


def test_a_customer_cannot_sign_in_here(client):
    customer = UserFactory(role="customer", password="Customer-2026!")
    assert form_error_codes(post(client, customer.phone, "Customer-2026!")) == ["login_failed"]


def test_five_failures_lock_the_account_even_against_the_right_password(
    client, merchant_owner, settings
):
    assert settings.ALLIANCE_LOGIN_MAX_FAILURES == 5
    codes = [form_error_codes(post(client, merchant_owner.phone, "wrong")) for _ in range(5)]
    assert codes == [["login_failed"]] * 4 + [["account_locked"]]

    merchant_owner.refresh_from_db()
    lockout = merchant_owner.locked_until - timezone.now()
    assert timedelta(minutes=14) < lockout <= settings.ALLIANCE_LOGIN_LOCKOUT

    response = post(client, merchant_owner.phone, MERCHANT_PASSWORD)
    assert form_error_codes(response) == ["account_locked"]
    until = timezone.localtime(merchant_owner.locked_until).strftime("%H:%M")
    assert until in response.content.decode()  # says when to try again
    assert "_auth_user_id" not in client.session


def test_after_the_lock_out_the_right_password_works_and_clears_the_count(client, merchant_owner):
    for _ in range(5):
        post(client, merchant_owner.phone, "wrong")
    merchant_owner.refresh_from_db()
    merchant_owner.locked_until = timezone.now() - timedelta(seconds=1)
    merchant_owner.save(update_fields=["locked_until"])

    assert post(client, merchant_owner.phone, MERCHANT_PASSWORD).status_code == 302
    merchant_owner.refresh_from_db()
    assert (merchant_owner.failed_login_count, merchant_owner.locked_until) == (0, None)


def test_a_success_resets_the_failure_count(client, merchant_owner):
    for _ in range(4):
        post(client, merchant_owner.phone, "wrong")
    merchant_owner.refresh_from_db()
    assert merchant_owner.failed_login_count == 4

    post(client, merchant_owner.phone, MERCHANT_PASSWORD)
    client.logout()
    merchant_owner.refresh_from_db()
    assert merchant_owner.failed_login_count == 0
    # The count starts again: four more failures do not lock.
    for _ in range(4):
        assert form_error_codes(post(client, merchant_owner.phone, "wrong")) == ["login_failed"]
