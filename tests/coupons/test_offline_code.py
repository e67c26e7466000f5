"""The phone's offline code (离线码) at the counter: made from the customer's own key, checked
like the counter digits (window, MAC, merchant, wrong-digits limit), used once even across an
undo, invalid once the key is rotated; two cashiers with one code on PostgreSQL."""

import time
import uuid

import pytest
from django.db import connection

from alliance.errors import ApplicationError
from coupons import services
from coupons.models import OfflineSecret, Verification
from coupons.services import tokens
from coupons.services.verifying import COUNTER_WRONG_CODES
from tests.coupons.factories import live_template, offline_typed, typed
from tests.coupons.test_concurrency import run_concurrently

pytestmark = pytest.mark.django_db


def refusal(call) -> str:
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value.code


@pytest.fixture
def template(owner, officer):
    return live_template(owner=owner, reviewer=officer)


@pytest.fixture
def coupon(template, customer):
    return services.coupon_claim(customer=customer, template_id=template.pk, claim_key="o" * 12)


@pytest.fixture
def coupon_other_merchant(other_shop, other_owner, other_officer, customer):
    template = live_template(owner=other_owner, reviewer=other_officer)
    return services.coupon_claim(customer=customer, template_id=template.pk, claim_key="p" * 12)


def verify(actor, code, key=None):
    return services.coupon_verify(actor=actor, code=code, idempotency_key=key or uuid.uuid4().hex)


def inspect(actor, code):
    return services.coupon_inspect(actor=actor, code=code)


def step_start(now: float | None = None) -> float:
    now = time.time() if now is None else now
    return now - now % tokens.COUNTER_STEP_S


# --- The key ---------------------------------------------------------------------------------


def test_the_key_is_made_once_random_and_encrypted_at_rest(customer, customers):
    first = services.offline_secret_ensure(customer=customer)
    assert services.offline_secret_ensure(customer=customer).secret == first.secret
    assert len(first.key) == 32  # 256 bits
    others = {services.offline_secret_ensure(customer=c).secret for c in customers}
    assert first.secret not in others and len(others) == len(customers)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT secret FROM {OfflineSecret._meta.db_table} WHERE customer_id = %s",
            [customer.pk],
        )
        stored = cursor.fetchone()[0]
    assert first.secret not in stored and stored.startswith("gAAAAA")  # a Fernet token
    assert first.secret not in str(first)


def test_the_key_is_not_in_the_admin():
    from django.contrib import admin

    assert OfflineSecret not in admin.site._registry


# --- The code --------------------------------------------------------------------------------


def test_the_layout(coupon):
    now = time.time()
    code = offline_typed(coupon, now=now)
    assert len(code) == 20 and code.isdigit() and code.startswith("9")
    assert code[1:10] == f"{coupon.pk:09d}"
    assert code[10:12] == f"{int(now) // 30 % 100:02d}"
    assert coupon.code not in code
    # not the counter digits, and routed apart from them
    assert code != typed(coupon, now=now)
    assert tokens.is_offline_code(code) and not tokens.is_offline_code(typed(coupon, now=now))
    # a coupon id past a billion only makes it longer
    secret = bytes(32)
    assert len(tokens.offline_code_for(secret, 1_234_567_890, now=now)) == 21
    assert (
        tokens.coupon_id_from_offline_code(tokens.offline_code_for(secret, 1_234_567_890, now=now))
        == 1_234_567_890
    )


def test_a_fresh_offline_code_is_inspected_and_verified(cashier, coupon):
    code = offline_typed(coupon)
    inspection = inspect(cashier, " ".join(code[i : i + 4] for i in range(0, 20, 4)))
    assert inspection.usable and inspection.coupon.pk == coupon.pk
    assert inspection.offline_code == code  # what the confirm step sends again
    verification = verify(cashier, code)
    coupon.refresh_from_db()
    assert coupon.status == "verified"
    assert verification.offline_step == int(time.time()) // 30 or verification.offline_step == (
        int(time.time()) // 30 - 1  # the step turned between making and checking
    )


def test_the_window_current_two_before_and_one_ahead(cashier, coupon):
    start = step_start()
    for steps in (-2, -1, 0, 1):
        code = offline_typed(coupon, now=start + 30 * steps)
        assert inspect(cashier, code).coupon.pk == coupon.pk, steps
    assert refusal(lambda: inspect(cashier, offline_typed(coupon, now=start - 90))) == (
        "coupon_token_expired"
    )
    assert refusal(lambda: inspect(cashier, offline_typed(coupon, now=start - 30 * 40))) == (
        "coupon_token_expired"
    )
    assert refusal(lambda: inspect(cashier, offline_typed(coupon, now=start + 60))) == (
        "coupon_token_invalid"
    )


def test_a_wrong_mac_is_refused(cashier, coupon):
    code = offline_typed(coupon)
    for position in (-1, -8, 11):  # the MAC's last and first digit, the step
        digit = str((int(code[position]) + 1) % 10)
        forged = code[:position] + digit + (code[position + 1 :] if position != -1 else "")
        assert refusal(lambda forged=forged: inspect(cashier, forged)) == "coupon_token_invalid"


def test_another_customers_key_is_refused(cashier, coupon, customers):
    someone = services.offline_secret_ensure(customer=customers[0])
    forged = services.offline_code_for(someone.key, coupon.pk)
    assert refusal(lambda: inspect(cashier, forged)) == "coupon_token_invalid"
    assert refusal(lambda: verify(cashier, forged)) == "coupon_token_invalid"


def test_a_customer_without_a_key_has_no_offline_code(cashier, coupon):
    assert not OfflineSecret.objects.exists()
    guessed = tokens.offline_code_for(bytes(32), coupon.pk)
    assert refusal(lambda: inspect(cashier, guessed)) == "coupon_token_invalid"
    assert refusal(lambda: inspect(cashier, tokens.offline_code_for(bytes(32), 987_654))) == (
        "coupon_token_invalid"  # nobody holds that coupon: not "not found", nothing learnt
    )


def test_another_merchants_coupon_is_refused_plainly(cashier, coupon_other_merchant):
    code = offline_typed(coupon_other_merchant)
    assert refusal(lambda: inspect(cashier, code)) == "coupon_other_merchant"
    assert refusal(lambda: verify(cashier, code)) == "coupon_other_merchant"
    assert not Verification.objects.exists()


def test_a_used_code_does_not_verify_again(cashier, owner, coupon):
    code = offline_typed(coupon)
    first = verify(cashier, code, key="offline-0001")
    assert verify(cashier, code, key="offline-0001").pk == first.pk  # a retry: the same
    assert refusal(lambda: verify(owner, code)) == "coupon_already_used"
    assert Verification.objects.count() == 1


def test_after_an_undo_the_same_code_and_older_ones_stay_used(cashier, owner, coupon):
    start = step_start()
    older = offline_typed(coupon, now=start - 30)
    code = offline_typed(coupon, now=start)
    verification = verify(cashier, code)
    services.verification_undo(actor=owner, verification_id=verification.pk, reason="wrong one")
    coupon.refresh_from_db()
    assert coupon.status == "issued"
    assert refusal(lambda: inspect(cashier, code)) == "coupon_code_used"
    assert refusal(lambda: verify(cashier, code)) == "coupon_code_used"
    assert refusal(lambda: verify(cashier, older)) == "coupon_code_used"
    # the customer shows the next code (or the QR's token): it is used once more
    newer = offline_typed(coupon, now=start + 30)
    again = verify(cashier, newer)
    assert again.offline_step == verification.offline_step + 1
    services.verification_undo(actor=owner, verification_id=again.pk, reason="again")
    verify(cashier, typed(coupon))  # the online digits still work after an undo
    assert Verification.objects.filter(undone_at__isnull=True).count() == 1


def test_the_wrong_digits_limit_counts_offline_digits(cashier, coupon):
    code = offline_typed(coupon)
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    for _ in range(COUNTER_WRONG_CODES // 2):
        assert refusal(lambda: inspect(cashier, wrong)) == "coupon_token_invalid"
        assert refusal(lambda: inspect(cashier, typed(coupon)[:-1] + "x")) == "invalid"
        digits = typed(coupon)
        assert (
            refusal(
                lambda digits=digits: inspect(
                    cashier, digits[:-1] + str((int(digits[-1]) + 1) % 10)
                )
            )
            == "coupon_token_invalid"
        )
    # offline and counter digits share the merchant's limit: now even a right code is refused
    assert refusal(lambda: inspect(cashier, code)) == "coupon_counter_too_many_wrong_codes"
    assert refusal(lambda: inspect(cashier, typed(coupon))) == (
        "coupon_counter_too_many_wrong_codes"
    )
    # scanning the QR's token still works
    assert services.coupon_inspect(actor=cashier, token=services.token_for(coupon.code)).usable


def test_only_offline_digits_count_wrong_toward_the_limit(cashier, coupon):
    for _ in range(COUNTER_WRONG_CODES):
        wrong = offline_typed(coupon)
        wrong = wrong[:-1] + str((int(wrong[-1]) + 1) % 10)
        assert refusal(lambda wrong=wrong: inspect(cashier, wrong)) == "coupon_token_invalid"
    assert refusal(lambda: inspect(cashier, offline_typed(coupon))) == (
        "coupon_counter_too_many_wrong_codes"
    )


def test_rotation_invalidates_old_codes(cashier, customer, coupon):
    old = offline_typed(coupon)
    before = services.offline_secret_ensure(customer=customer)
    rotated = services.offline_secret_rotate(customer=customer)
    assert rotated.secret != before.secret and rotated.rotated_at is not None
    assert refusal(lambda: inspect(cashier, old)) == "coupon_token_invalid"
    assert inspect(cashier, offline_typed(coupon)).usable  # the new key's codes work


def test_rotating_without_a_key_makes_one(customer):
    assert services.offline_secret_rotate(customer=customer).key


def test_the_merchant_api_takes_offline_codes(client, cashier, coupon):
    client.force_login(cashier)
    code = offline_typed(coupon)
    answer = client.post("/api/coupons/merchant/verify/inspect/", {"code": code})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["usable"] is True and answer.json()["coupon"]["id"] == coupon.pk
    answer = client.post(
        "/api/coupons/merchant/verify/confirm/", {"code": code, "idempotency_key": "api-offline-1"}
    )
    assert answer.status_code == 201, answer.json()
    again = client.post(
        "/api/coupons/merchant/verify/confirm/", {"code": code, "idempotency_key": "api-offline-2"}
    )
    assert again.status_code == 409 and again.json()["code"] == "coupon_already_used"


def test_the_counter_page_confirms_the_offline_code_itself(client, cashier, owner, coupon):
    client.force_login(cashier)
    code = offline_typed(coupon)
    page = client.post("/merchant/coupons/verify/inspect/", {"code": code})
    assert page.status_code == 200
    confirm = page.context["result"]["confirm_form"]
    assert confirm.initial["code"] == code  # not a token made now: the code is what is used
    done = client.post(
        "/merchant/coupons/verify/confirm/",
        {"code": code, "idempotency_key": confirm.initial["idempotency_key"]},
    )
    assert done.context["result"]["kind"] == "success"
    verification = Verification.objects.get()
    services.verification_undo(actor=owner, verification_id=verification.pk, reason="oops")
    page = client.post("/merchant/coupons/verify/inspect/", {"code": code})
    assert page.context["result"]["code"] == "coupon_code_used"


# --- Two cashiers, one code (PostgreSQL) ------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_cashiers_with_one_offline_code_verify_once(owner, officer, cashier, customers):
    template = live_template(owner=owner, reviewer=officer)
    for n, customer in enumerate(customers):  # a few rounds: the race is lost the same way
        coupon = services.coupon_claim(
            customer=customer, template_id=template.pk, claim_key=f"race-{n:06d}"
        )
        code = offline_typed(coupon)
        calls = [lambda who=who, code=code: verify(who, code) for who in (owner, cashier)]
        assert sorted(run_concurrently(calls)) == ["coupon_already_used", "ok"]
        live = Verification.objects.get(coupon=coupon)
        assert live.offline_step is not None
        services.verification_undo(actor=owner, verification_id=live.pk, reason="again")
        # after the undo, the used code tried by both at once: neither verifies
        assert run_concurrently(calls) == ["coupon_code_used"] * 2
        assert Verification.objects.filter(coupon=coupon).count() == 1
