"""The SMS code services: sending, hashing, expiry, tries, single use, rate limits, purge."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services, tasks
from accounts.models import SmsCode, User
from tests.accounts.helpers import E164, PHONE, age_codes, code_sent_to, wrong
from tests.factories import UserFactory

IP = "203.0.113.7"
pytestmark = pytest.mark.django_db


def request_code(phone=PHONE, ip=IP) -> str:
    sms = services.sms_code_request(phone=phone, client_ip=ip)
    return code_sent_to(sms.phone)


def sign_in(code, phone=PHONE):
    return services.sms_code_sign_in(phone=phone, code=code, client_ip=IP)


def refusal(call, *args, **kwargs) -> services.ApplicationError:
    with pytest.raises(services.ApplicationError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_a_six_digit_code_is_sent_and_only_its_keyed_hash_is_stored(settings, sms_outbox):
    sms = services.sms_code_request(phone=PHONE, client_ip=IP)

    assert [m.phone for m in sms_outbox] == [E164]
    code = code_sent_to(E164)
    assert len(code) == 6 and code.isdigit()
    assert sms.phone == E164
    assert code not in sms.code_hash
    assert sms.code_hash == services.sms_code_hash(phone=E164, code=code)
    assert sms.code_hash != services.sms_code_hash(phone="+8613900000000", code=code)
    assert sms.expires_at - sms.created_at == settings.ALLIANCE_SMS_CODE_TTL


def test_invalid_phone_gets_no_code(sms_outbox):
    assert refusal(services.sms_code_request, phone="12345", client_ip=IP).code == "invalid_phone"
    assert sms_outbox == []


def test_first_sign_in_creates_the_customer_and_later_ones_find_it():
    user = sign_in(request_code())
    assert (user.phone, user.role, user.has_usable_password()) == (E164, "customer", False)

    age_codes(timedelta(minutes=2))
    assert sign_in(request_code()) == user
    assert User.objects.count() == 1


def test_an_existing_customer_signs_in(customer):
    assert sign_in(request_code(customer.phone), customer.phone) == customer


def test_a_code_signs_in_once():
    code = request_code()
    sign_in(code)
    assert refusal(sign_in, code).code == "sms_code_used"


def test_an_expired_code_is_refused():
    code = request_code()
    age_codes(timedelta(minutes=5, seconds=1))
    assert refusal(sign_in, code).code == "sms_code_expired"


def test_five_wrong_codes_kill_the_code_even_for_the_right_one_after(settings):
    assert settings.ALLIANCE_SMS_CODE_MAX_TRIES == 5
    code = request_code()
    tries_left = [refusal(sign_in, wrong(code)).extra["tries_left"] for _ in range(5)]
    assert tries_left == [4, 3, 2, 1, 0]

    error = refusal(sign_in, code)
    assert error.code == "sms_code_too_many_tries"
    assert SmsCode.objects.get().tries == 5  # refused tries are not counted any more


def test_the_right_code_after_four_wrong_ones_signs_in():
    code = request_code()
    for _ in range(4):
        refusal(sign_in, wrong(code))
    assert sign_in(code).phone == E164


def test_only_the_newest_code_signs_in():
    first = request_code()
    age_codes(timedelta(minutes=2))
    second = request_code()
    if first != second:
        assert refusal(sign_in, first).code == "sms_code_invalid"
    assert sign_in(second).phone == E164


def test_no_code_requested():
    assert refusal(sign_in, "123456").code == "sms_code_not_requested"


def test_a_merchant_number_cannot_sign_in_as_customer(merchant_owner):
    code = request_code(merchant_owner.phone)
    error = refusal(sign_in, code, merchant_owner.phone)
    assert (error.code, error.status) == ("sms_sign_in_not_customer", 403)
    merchant_owner.refresh_from_db()
    assert merchant_owner.role == "merchant_owner"


def test_a_bank_staff_number_cannot_sign_in_as_customer(officer):
    code = request_code(officer.phone)
    assert refusal(sign_in, code, officer.phone).code == "sms_sign_in_not_customer"


def test_a_disabled_customer_is_refused():
    user = UserFactory(role="customer", phone=E164, is_active=False)
    assert refusal(sign_in, request_code(user.phone)).code == "account_disabled"


# --- Rate limits ---------------------------------------------------------------------------------
def test_one_code_per_phone_per_interval(settings, sms_outbox):
    request_code()
    error = refusal(request_code)
    assert (error.code, error.status) == ("sms_rate_limited_phone", 429)
    assert 0 < error.extra["retry_after"] <= 60
    assert len(sms_outbox) == 1

    age_codes(settings.ALLIANCE_SMS_PHONE_INTERVAL)
    request_code()
    assert len(sms_outbox) == 2


def test_at_most_five_codes_per_phone_per_hour(settings):
    assert settings.ALLIANCE_SMS_PHONE_PER_HOUR == 5
    for _ in range(5):
        request_code()
        age_codes(timedelta(minutes=2))  # past the one-minute interval

    error = refusal(request_code)
    assert (error.code, error.status) == ("sms_rate_limited_phone", 429)
    # The oldest of the five was sent 10 minutes ago: it leaves the hour in 50 minutes.
    assert 49 * 60 < error.extra["retry_after"] <= 50 * 60

    age_codes(timedelta(minutes=50))
    request_code()


def test_at_most_so_many_codes_per_client_address_per_hour(settings):
    settings.ALLIANCE_SMS_ADDRESS_PER_HOUR = 3
    for n in range(3):
        request_code(f"1390000000{n}")

    error = refusal(request_code, "13900000009")
    assert (error.code, error.status) == ("sms_rate_limited_address", 429)
    assert 59 * 60 < error.extra["retry_after"] <= 60 * 60
    request_code("13900000009", ip="198.51.100.1")  # another network is not affected


def test_the_purge_task_deletes_codes_older_than_a_day():
    request_code()
    request_code("13900000001")
    age_codes(timedelta(days=1, minutes=1), phone=E164)

    assert tasks.purge_expired_sms_codes() == 1
    assert list(SmsCode.objects.values_list("phone", flat=True)) == ["+8613900000001"]


def test_the_backend_comes_from_settings(settings, capsys, caplog):
    settings.ALLIANCE_SMS_BACKEND = "accounts.sms.ConsoleBackend"
    with caplog.at_level("INFO", logger="accounts.sms"):
        services.sms_code_request(phone=PHONE, client_ip=IP)
    printed = capsys.readouterr().out
    assert E164 in printed and re.search(r"\b\d{6}\b", printed)
    assert "138****1234" in caplog.text


def test_codes_record_when_they_were_used():
    before = timezone.now()
    sign_in(request_code())
    assert SmsCode.objects.get().used_at >= before
