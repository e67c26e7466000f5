"""Limits hold under concurrent requests (PostgreSQL: real connections and row locks)."""

import threading

import pytest

from accounts import services
from accounts.models import SmsCode, User
from alliance.errors import ApplicationError
from tests.accounts.helpers import E164, PHONE, code_sent_to, wrong

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_at_once(n: int, call) -> list:
    """Run ``call()`` in ``n`` threads released together; return results or error codes."""
    barrier = threading.Barrier(n)
    results = []

    def worker():
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            results.append(call())
        except ApplicationError as exc:
            results.append(exc.code)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_requests_send_one_code_per_phone(sms_outbox):
    results = run_at_once(8, lambda: services.sms_code_request(phone=PHONE, client_ip="10.0.0.1"))
    assert sorted(r for r in results if isinstance(r, str)) == ["sms_rate_limited_phone"] * 7
    assert SmsCode.objects.count() == 1 and len(sms_outbox) == 1


def test_concurrent_requests_from_one_address_stay_within_its_limit(settings):
    settings.ALLIANCE_SMS_ADDRESS_PER_HOUR = 3
    phones = iter(f"1390000{n:04d}" for n in range(8))
    lock = threading.Lock()

    def request():
        with lock:
            phone = next(phones)
        return services.sms_code_request(phone=phone, client_ip="10.0.0.2")

    results = run_at_once(8, request)
    assert results.count("sms_rate_limited_address") == 5
    assert SmsCode.objects.filter(client_ip="10.0.0.2").count() == 3


def test_concurrent_guesses_get_no_more_than_the_allowed_tries():
    services.sms_code_request(phone=PHONE, client_ip="10.0.0.3")
    bad = wrong(code_sent_to(E164))
    results = run_at_once(
        12, lambda: services.sms_code_sign_in(phone=PHONE, code=bad, client_ip="10.0.0.3")
    )
    assert sorted(results) == ["sms_code_invalid"] * 5 + ["sms_code_too_many_tries"] * 7
    assert SmsCode.objects.get().tries == 5


def test_a_code_used_concurrently_signs_in_once():
    services.sms_code_request(phone=PHONE, client_ip="10.0.0.4")
    code = code_sent_to(E164)
    results = run_at_once(
        5, lambda: services.sms_code_sign_in(phone=PHONE, code=code, client_ip="10.0.0.4")
    )
    assert sum(isinstance(r, User) for r in results) == 1
    assert sorted(r for r in results if isinstance(r, str)) == ["sms_code_used"] * 4
    assert User.objects.filter(phone=E164).count() == 1


def test_concurrent_wrong_passwords_lock_the_account_once(merchant_owner, settings):
    results = run_at_once(
        5, lambda: services.merchant_sign_in(request=None, phone=merchant_owner.phone, password="x")
    )
    assert sorted(results) == ["account_locked"] + ["login_failed"] * 4
    merchant_owner.refresh_from_db()
    assert merchant_owner.failed_login_count == 0 and merchant_owner.locked_until is not None
