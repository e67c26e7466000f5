"""The customer sign-in page, without JavaScript and through htmx; sign-out."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import translation

from accounts.phones import InvalidPhone
from tests.accounts.helpers import (
    E164,
    MASKED,
    PHONE,
    age_codes,
    code_sent_to,
    form_error_codes,
    wrong,
)

pytestmark = pytest.mark.django_db
URL = reverse("accounts:login")
HTMX = {"HTTP_HX_REQUEST": "true"}


def send(client, phone=PHONE, **extra):
    return client.post(URL, {"phone": phone, "action": "send"}, **extra)


def sign_in(client, code, phone=PHONE, **data):
    return client.post(URL, {"phone": phone, "code": code, "action": "sign_in", **data})


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


def test_the_page_has_a_phone_field_and_a_send_button_that_works_with_and_without_htmx(client):
    page = client.get(URL).content.decode()
    assert 'name="phone"' in page and 'name="code"' in page
    assert 'id="send-code"' in page and f'hx-post="{URL}"' in page and 'value="send"' in page
    assert 'hx-target="#sms-status"' in page


def test_without_javascript_sending_shows_the_whole_page_with_the_masked_number(client, sms_outbox):
    response = send(client)
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" in page and MASKED in page and "data-countdown" in page
    assert [m.phone for m in sms_outbox] == [E164]


def test_with_htmx_sending_swaps_only_the_status_region(client):
    response = send(client, **HTMX)
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page
    assert page.strip().startswith('<div id="sms-status"') and MASKED in page


def test_with_htmx_a_bad_number_shows_the_error_in_the_region(client, sms_outbox):
    page = send(client, "12345", HTTP_ACCEPT_LANGUAGE="en", **HTMX).content.decode()
    with translation.override("en"):
        message = str(InvalidPhone.message)
    assert "<html" not in page and 'class="errorlist"' in page and message in page
    assert sms_outbox == []


def test_a_second_code_too_soon_is_a_phone_error(client):
    send(client)
    assert form_error_codes(send(client), "phone") == ["sms_rate_limited_phone"]


def test_the_code_signs_in_and_goes_home(client):
    send(client)
    response = sign_in(client, code_sent_to(E164))
    assert response.status_code == 302 and response.url == reverse("home")
    assert signed_in_user_id(client) is not None


def test_a_wrong_code_is_a_code_error(client):
    send(client)
    response = sign_in(client, wrong(code_sent_to(E164)))
    assert response.status_code == 200
    assert form_error_codes(response, "code") == ["sms_code_invalid"]
    assert signed_in_user_id(client) is None


def test_signing_in_without_a_code_asks_for_it(client):
    assert form_error_codes(sign_in(client, ""), "code") == ["required"]


def test_enter_sends_a_code_before_one_is_typed_and_signs_in_after(client, sms_outbox):
    client.post(URL, {"phone": PHONE, "code": ""})
    assert len(sms_outbox) == 1
    response = client.post(URL, {"phone": PHONE, "code": code_sent_to(E164)})
    assert response.status_code == 302


def test_next_is_followed_only_when_it_stays_on_this_site(client):
    send(client)
    assert sign_in(client, code_sent_to(E164), next="/wallet/?tab=1").url == "/wallet/?tab=1"

    client.logout()
    age_codes(timedelta(minutes=2))
    send(client)
    assert sign_in(client, code_sent_to(E164), next="https://evil.example/").url == "/"


def test_the_next_parameter_is_kept_in_the_form(client):
    assert 'value="/wallet/"' in client.get(URL, {"next": "/wallet/"}).content.decode()


def test_a_merchant_number_is_told_to_use_the_merchant_page(client, merchant_owner):
    send(client, merchant_owner.phone)
    response = sign_in(client, code_sent_to(merchant_owner.phone), merchant_owner.phone)
    assert form_error_codes(response) == ["sms_sign_in_not_customer"]
    assert signed_in_user_id(client) is None


def test_sign_out_is_post_only(client, customer):
    client.force_login(customer)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert signed_in_user_id(client) is not None

    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302 and response.url == reverse("home")
    assert signed_in_user_id(client) is None
