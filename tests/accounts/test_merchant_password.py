"""Merchants set their first (or a forgotten) password with an SMS code."""

from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import SmsCode
from tests.accounts.conftest import MERCHANT_PASSWORD
from tests.accounts.helpers import age_codes, code_sent_to, form_error_codes, wrong
from tests.factories import UserFactory
from tests.merchants.factories import approved_merchant

pytestmark = pytest.mark.django_db
URL = reverse("accounts:merchant_password")
NEW = "Tea-by-the-lake-7"  # noqa: S105
IP = "203.0.113.9"


def request_code(phone):
    services.sms_code_request(phone=phone, client_ip=IP)
    return code_sent_to(phone)


def set_password(phone, code, password=NEW):
    return services.merchant_password_set(
        phone=phone, code=code, new_password=password, client_ip=IP
    )


# --- the service -------------------------------------------------------------------------------
def test_an_approved_owner_sets_a_first_password_and_signs_in(officer):
    merchant = approved_merchant(reviewer=officer)
    owner = merchant.staff.get().user
    assert not owner.has_usable_password()

    user = set_password(owner.phone, request_code(owner.phone))
    assert user.pk == owner.pk
    assert authenticate(None, phone=owner.phone, password=NEW) == owner
    assert SmsCode.objects.get(phone=owner.phone).used_at is not None


def test_a_forgotten_password_is_replaced_and_the_lock_out_cleared(merchant_owner):
    merchant_owner.failed_login_count = 3
    merchant_owner.locked_until = timezone.now() + timedelta(minutes=15)
    merchant_owner.save()
    set_password(merchant_owner.phone, request_code(merchant_owner.phone))
    merchant_owner.refresh_from_db()
    assert merchant_owner.check_password(NEW) and not merchant_owner.check_password(
        MERCHANT_PASSWORD
    )
    assert (merchant_owner.failed_login_count, merchant_owner.locked_until) == (0, None)


def test_a_cashier_can_set_a_password():
    cashier = UserFactory(role="merchant_staff")
    set_password(cashier.phone, request_code(cashier.phone))
    cashier.refresh_from_db()
    assert cashier.check_password(NEW)


@pytest.mark.parametrize("who", ["customer", "officer", "head_office"])
def test_other_roles_are_refused_after_the_code_matched(request, who):
    user = request.getfixturevalue(who)
    with pytest.raises(services.PasswordSetNotMerchant):
        set_password(user.phone, request_code(user.phone))
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_an_unknown_number_is_refused_and_no_account_is_created():
    with pytest.raises(services.PasswordSetNotMerchant):
        set_password("+8613700009999", request_code("+8613700009999"))


def test_a_wrong_code_counts_a_try_like_sign_in(merchant_owner, settings):
    code = request_code(merchant_owner.phone)
    for _ in range(settings.ALLIANCE_SMS_CODE_MAX_TRIES - 1):
        with pytest.raises(services.SmsCodeInvalid):
            set_password(merchant_owner.phone, wrong(code))
    with pytest.raises(services.SmsCodeInvalid) as last:
        set_password(merchant_owner.phone, wrong(code))
    assert last.value.extra["tries_left"] == 0
    with pytest.raises(services.SmsCodeTooManyTries):
        set_password(merchant_owner.phone, code)
    merchant_owner.refresh_from_db()
    assert merchant_owner.check_password(MERCHANT_PASSWORD)


def test_an_expired_or_used_code_is_refused(merchant_owner, settings):
    code = request_code(merchant_owner.phone)
    age_codes(settings.ALLIANCE_SMS_CODE_TTL + timedelta(seconds=1), phone=merchant_owner.phone)
    with pytest.raises(services.SmsCodeExpired):
        set_password(merchant_owner.phone, code)

    age_codes(timedelta(minutes=5), phone=merchant_owner.phone)  # past the resend interval
    code = request_code(merchant_owner.phone)
    set_password(merchant_owner.phone, code)
    with pytest.raises(services.SmsCodeUsed):
        set_password(merchant_owner.phone, code, password="Another-one-42")


def test_no_code_requested():
    owner = UserFactory(role="merchant_owner")
    with pytest.raises(services.SmsCodeNotRequested):
        set_password(owner.phone, "123456")


@pytest.mark.parametrize("weak", ["short", "password123", "12345678901"])
def test_a_weak_password_is_refused_and_the_code_still_works(merchant_owner, weak):
    code = request_code(merchant_owner.phone)
    with pytest.raises(services.PasswordRejected) as exc:
        set_password(merchant_owner.phone, code, password=weak)
    assert exc.value.code == "password_invalid" and exc.value.extra["messages"]
    set_password(merchant_owner.phone, code)  # the same code, a good password
    merchant_owner.refresh_from_db()
    assert merchant_owner.check_password(NEW)


def test_a_disabled_merchant_is_refused(merchant_owner):
    merchant_owner.is_active = False
    merchant_owner.save()
    with pytest.raises(services.AccountDisabled):
        set_password(merchant_owner.phone, request_code(merchant_owner.phone))


def test_customer_sign_in_still_works_after_the_refactor(customer):
    user = services.sms_code_sign_in(
        phone=customer.phone, code=request_code(customer.phone), client_ip=IP
    )
    assert user == customer


# --- the page ----------------------------------------------------------------------------------
def test_the_merchant_sign_in_page_links_here(client):
    page = client.get(reverse("accounts:merchant_login")).content.decode()
    assert URL in page


def test_send_code_then_set_password_through_the_page(client, merchant_owner):
    sent = client.post(URL, {"phone": merchant_owner.phone, "action": "send"})
    assert sent.status_code == 200 and sent.context["sent"] is not None
    code = code_sent_to(merchant_owner.phone)
    done = client.post(
        URL,
        {
            "phone": merchant_owner.phone,
            "code": code,
            "new_password1": NEW,
            "new_password2": NEW,
            "action": "set",
        },
    )
    assert done.status_code == 302 and done.url == reverse("accounts:merchant_login")
    signed_in = client.post(
        reverse("accounts:merchant_login"), {"phone": merchant_owner.phone, "password": NEW}
    )
    assert signed_in.status_code == 302
    assert client.session["_auth_user_id"] == str(merchant_owner.pk)


def test_send_code_with_htmx_returns_the_status_region(client, merchant_owner):
    response = client.post(
        URL, {"phone": merchant_owner.phone, "action": "send"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="sms-status"') and "<html" not in body


def test_page_errors_are_form_errors(client, merchant_owner):
    client.post(URL, {"phone": merchant_owner.phone, "action": "send"})
    code = code_sent_to(merchant_owner.phone)
    base = {"phone": merchant_owner.phone, "action": "set"}
    mismatch = client.post(
        URL, {**base, "code": code, "new_password1": NEW, "new_password2": NEW + "x"}
    )
    assert form_error_codes(mismatch, "new_password2") == ["password_mismatch"]
    weak = client.post(
        URL, {**base, "code": code, "new_password1": "short", "new_password2": "short"}
    )
    assert form_error_codes(weak, "new_password1") == ["password_invalid"]
    bad_code = client.post(
        URL, {**base, "code": wrong(code), "new_password1": NEW, "new_password2": NEW}
    )
    assert form_error_codes(bad_code, "code") == ["sms_code_invalid"]
    bad_phone = client.post(URL, {"phone": "12345", "action": "send"})
    assert form_error_codes(bad_phone, "phone") == ["invalid_phone"]
    customer = UserFactory(role="customer")
    client.post(URL, {"phone": customer.phone, "action": "send"})
    refused = client.post(
        URL,
        {
            "phone": customer.phone,
            "action": "set",
            "code": code_sent_to(customer.phone),
            "new_password1": NEW,
            "new_password2": NEW,
        },
    )
    assert form_error_codes(refused) == ["password_set_not_merchant"]
    merchant_owner.refresh_from_db()
    assert merchant_owner.check_password(MERCHANT_PASSWORD)
