"""The sign-in API through its URLs: exact statuses and error codes."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import SmsCode, User
from tests.accounts.conftest import MERCHANT_PASSWORD
from tests.accounts.helpers import E164, MASKED, PHONE, code_sent_to, wrong

pytestmark = pytest.mark.django_db
SMS_CODE = reverse("api:auth:sms_code")
SMS_SIGN_IN = reverse("api:auth:sms_sign_in")
MERCHANT_SIGN_IN = reverse("api:auth:merchant_sign_in")
ME = reverse("api:auth:me")


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def test_asking_for_a_code(client):
    response = post(client, SMS_CODE, {"phone": PHONE})
    assert response.status_code == 202
    assert response.json() == {"phone_masked": MASKED, "expires_in": 300, "retry_after": 60}


def test_a_bad_number(client):
    response = post(client, SMS_CODE, {"phone": "12345"})
    assert response.status_code == 400 and response.json()["code"] == "invalid_phone"


def test_a_missing_number(client):
    response = post(client, SMS_CODE, {})
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid"
    assert "phone" in body["extra"]["fields"]


def test_a_second_code_too_soon(client):
    post(client, SMS_CODE, {"phone": PHONE})
    response = post(client, SMS_CODE, {"phone": PHONE})
    body = response.json()
    assert response.status_code == 429 and body["code"] == "sms_rate_limited_phone"
    assert 0 < body["extra"]["retry_after"] <= 60


def test_too_many_codes_from_one_address(client, settings):
    settings.ALLIANCE_SMS_ADDRESS_PER_HOUR = 2
    post(client, SMS_CODE, {"phone": "13900000001"})
    post(client, SMS_CODE, {"phone": "13900000002"})
    response = post(client, SMS_CODE, {"phone": "13900000003"})
    assert response.status_code == 429 and response.json()["code"] == "sms_rate_limited_address"


def test_signing_in_with_the_code_gives_a_token_and_a_session(client):
    post(client, SMS_CODE, {"phone": PHONE})
    response = post(client, SMS_SIGN_IN, {"phone": PHONE, "code": code_sent_to(E164)})

    assert response.status_code == 200
    body = response.json()
    user = User.objects.get(phone=E164)
    assert body["user"] == {"id": user.pk, "phone_masked": MASKED, "role": "customer", "name": ""}
    assert client.session["_auth_user_id"] == str(user.pk)

    apps_client = client.__class__()
    me = apps_client.get(ME, HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert me.status_code == 200 and me.json()["phone_masked"] == MASKED


def test_a_wrong_code(client):
    post(client, SMS_CODE, {"phone": PHONE})
    response = post(client, SMS_SIGN_IN, {"phone": PHONE, "code": wrong(code_sent_to(E164))})
    assert response.status_code == 400
    assert response.json()["code"] == "sms_code_invalid"
    assert response.json()["extra"] == {"tries_left": 4}


def test_an_expired_code(client):
    post(client, SMS_CODE, {"phone": PHONE})
    past = timezone.now() - timedelta(minutes=10)
    SmsCode.objects.update(created_at=past, expires_at=past + timedelta(minutes=5))
    response = post(client, SMS_SIGN_IN, {"phone": PHONE, "code": code_sent_to(E164)})
    assert response.status_code == 400 and response.json()["code"] == "sms_code_expired"


def test_sms_sign_in_takes_json_only(client):
    response = client.post(SMS_SIGN_IN, {"phone": PHONE, "code": "123456"})
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_a_merchant_number_via_sms(client, merchant_owner):
    post(client, SMS_CODE, {"phone": merchant_owner.phone})
    code = code_sent_to(merchant_owner.phone)
    response = post(client, SMS_SIGN_IN, {"phone": merchant_owner.phone, "code": code})
    assert response.status_code == 403 and response.json()["code"] == "sms_sign_in_not_customer"


def test_merchant_sign_in_gives_a_token(client, merchant_owner):
    response = post(
        client, MERCHANT_SIGN_IN, {"phone": merchant_owner.phone, "password": MERCHANT_PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["user"]["role"] == "merchant_owner"
    assert len(response.json()["token"]) == 40


def test_merchant_wrong_password_and_unknown_number_answer_alike(client, merchant_owner):
    wrong_password = post(
        client, MERCHANT_SIGN_IN, {"phone": merchant_owner.phone, "password": "x"}
    )
    unknown = post(
        client, MERCHANT_SIGN_IN, {"phone": "13700000000", "password": MERCHANT_PASSWORD}
    )
    assert wrong_password.status_code == unknown.status_code == 400
    assert wrong_password.json() == unknown.json()
    assert unknown.json()["code"] == "login_failed"


def test_merchant_lock_out(client, merchant_owner):
    for _ in range(5):
        response = post(client, MERCHANT_SIGN_IN, {"phone": merchant_owner.phone, "password": "x"})
    assert response.status_code == 429 and response.json()["code"] == "account_locked"
    right = post(
        client, MERCHANT_SIGN_IN, {"phone": merchant_owner.phone, "password": MERCHANT_PASSWORD}
    )
    assert right.status_code == 429
    assert 14 * 60 < right.json()["extra"]["retry_after"] <= 15 * 60


def test_me_needs_a_signed_in_user(client):
    response = client.get(ME)
    assert response.status_code == 403 and response.json()["code"] == "not_authenticated"


def test_me(client, merchant_owner):
    client.force_login(merchant_owner)
    assert client.get(ME).json() == {
        "id": merchant_owner.pk,
        "phone_masked": merchant_owner.masked_phone,
        "role": "merchant_owner",
        "name": merchant_owner.name,
    }


def test_the_schema_documents_the_endpoints(client):
    schema = client.get(reverse("api:schema"), {"format": "json"}).json()
    paths = schema["paths"]
    for url in (SMS_CODE, SMS_SIGN_IN, MERCHANT_SIGN_IN, ME):
        assert url in paths
    sms_code = paths[SMS_CODE]["post"]
    assert set(sms_code["responses"]) >= {"202", "400", "429"}
    assert "SmsCodeRequestRequest" in str(sms_code["requestBody"])
