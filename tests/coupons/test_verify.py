"""At the counter: inspect by token or code, confirm once, undo within the window, void;
usable days and hours in Shanghai time; access."""

import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import signing
from django.utils import translation

from alliance.errors import ApplicationError
from coupons import services
from coupons.models import Campaign, Coupon, CouponEvent, CouponTemplate, Verification
from coupons.services.verifying import COUNTER_WRONG_CODES
from tests.coupons.factories import live_template, typed

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def refusal(call) -> str:
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value.code


@pytest.fixture
def template(owner, officer):
    return live_template(owner=owner, reviewer=officer)


@pytest.fixture
def coupon(template, customer):
    return services.coupon_claim(customer=customer, template_id=template.pk, claim_key="c" * 12)


def verify(actor, coupon, key=None, **kw):
    return services.coupon_verify(
        actor=actor, code=typed(coupon), idempotency_key=key or uuid.uuid4().hex, **kw
    )


def test_inspect_by_token_changes_nothing(cashier, coupon):
    inspection = services.coupon_inspect(actor=cashier, token=services.token_for(coupon.code))
    assert inspection.usable and inspection.coupon.pk == coupon.pk
    coupon.refresh_from_db()
    assert coupon.status == "issued"


def test_inspect_by_the_digits_under_the_qr_typed_with_spaces(cashier, coupon):
    digits = typed(coupon)
    assert len(digits) == 18 and digits.isdigit() and coupon.code not in digits
    grouped = " ".join(digits[i : i + 4] for i in range(0, 18, 4))
    assert services.coupon_inspect(actor=cashier, code=f" {grouped} ").coupon.pk == coupon.pk


def test_the_permanent_code_is_not_taken_at_the_counter(cashier, coupon):
    # it never expires: a screenshot of it, or a code passed on, would work for anybody
    for text in (coupon.code, coupon.code.lower(), f"{coupon.code[:4]} {coupon.code[4:]}"):
        with pytest.raises(ApplicationError) as caught, translation.override("en"):
            services.coupon_inspect(actor=cashier, code=text)
        assert caught.value.code == "invalid"
        assert "18 digits" in str(caught.value.extra["fields"]["code"][0])


def test_the_digits_expire_like_the_qr_and_cannot_be_forged(cashier, coupon, settings):
    settings.COUPON_TOKEN_MAX_AGE = 90
    now = time.time()
    start = now - now % 30  # the 30-second step of ``now`` began here
    inspect = services.coupon_inspect
    # shown in the current step or in any of the three before it: accepted
    for age_steps in (0, 1, 2, 3):
        digits = typed(coupon, now=start - 30 * age_steps)
        assert inspect(actor=cashier, code=digits).coupon.pk == coupon.pk
    # four steps ago (at least 120 s): expired, like a stale QR
    assert refusal(lambda: inspect(actor=cashier, code=typed(coupon, now=start - 120))) == (
        "coupon_token_expired"
    )
    # one step ahead (a clock a little fast) passes; further ahead is not a real code
    assert inspect(actor=cashier, code=typed(coupon, now=start + 30)).coupon.pk == coupon.pk
    assert refusal(lambda: inspect(actor=cashier, code=typed(coupon, now=start + 60))) == (
        "coupon_token_invalid"
    )
    digits = typed(coupon)
    forged = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    assert refusal(lambda: inspect(actor=cashier, code=forged)) == "coupon_token_invalid"
    # another coupon's id with this coupon's MAC
    other_id = f"{coupon.pk + 1:09d}" + digits[9:]
    assert refusal(lambda: inspect(actor=cashier, code=other_id)) == "coupon_token_invalid"


def test_a_forged_or_expired_token_is_refused(cashier, coupon, settings):
    token = services.token_for(coupon.code)
    assert refusal(lambda: services.coupon_inspect(actor=cashier, token=token[:-2] + "xx")) == (
        "coupon_token_invalid"
    )
    # A token issued 91 seconds ago (the wallet renews every 30 s; the counter allows 90).
    stale_token = services.token_for(coupon.code, now=time.time() - 91)
    assert refusal(lambda: services.coupon_inspect(actor=cashier, token=stale_token)) == (
        "coupon_token_expired"
    )
    settings.COUPON_TOKEN_MAX_AGE = 120
    assert services.coupon_inspect(actor=cashier, token=stale_token).usable


def test_the_qr_does_not_carry_the_code(coupon):
    token = services.token_for(coupon.code)
    assert coupon.code not in token and coupon.code.lower() not in token.lower()
    assert services.token_for(coupon.code) != services.token_for(coupon.code, now=time.time() - 1)


def test_a_token_from_the_future_is_refused(cashier, coupon):
    future = services.token_for(coupon.code, now=time.time() + 600)
    assert refusal(lambda: services.coupon_inspect(actor=cashier, token=future)) == (
        "coupon_token_invalid"
    )


def test_a_token_from_another_purpose_is_refused(cashier, coupon):
    other = signing.TimestampSigner(salt="coupons.qr-token").sign(coupon.code)
    assert refusal(lambda: services.coupon_inspect(actor=cashier, token=other)) == (
        "coupon_token_invalid"
    )


def test_verify_once_and_a_retry_returns_the_same(cashier, coupon):
    first = verify(cashier, coupon, key="confirm-0001")
    again = verify(cashier, coupon, key="confirm-0001")
    assert first.pk == again.pk
    assert Verification.objects.count() == 1
    coupon.refresh_from_db()
    assert coupon.status == "verified" and coupon.closed_at is not None
    assert refusal(lambda: verify(cashier, coupon)) == "coupon_already_used"
    assert list(CouponEvent.objects.filter(coupon=coupon).values_list("to_status", flat=True)) == [
        "issued",
        "verified",
    ]


def test_another_merchants_coupon_is_refused_plainly(other_shop, coupon):
    other_owner = other_shop.application.applicant
    assert refusal(lambda: verify(other_owner, coupon)) == "coupon_other_merchant"
    assert refusal(lambda: services.coupon_inspect(actor=other_owner, code=typed(coupon))) == (
        "coupon_other_merchant"
    )


def test_customers_and_staff_cannot_verify(customer, officer, coupon):
    assert refusal(lambda: verify(customer, coupon)) == "not_found"
    assert refusal(lambda: verify(officer, coupon)) == "not_found"


def test_unknown_code(cashier):
    no_such_coupon = services.counter_code_for(987_654_321)
    assert refusal(lambda: services.coupon_inspect(actor=cashier, code=no_such_coupon)) == (
        "coupon_not_found"
    )
    assert refusal(lambda: services.coupon_inspect(actor=cashier, code="  ")) == "invalid"


def test_expired_is_refused_at_the_counter_before_the_job_runs(cashier, coupon):
    at = coupon.valid_until
    assert refusal(lambda: verify(cashier, coupon, now=at)) == "coupon_expired"
    verify(cashier, coupon, now=at - timedelta(seconds=1))  # the last second is still valid


def _with_rules(template, **rules):
    CouponTemplate.objects.filter(pk=template.pk).update(**rules)


def test_weekdays_are_shanghai_weekdays(cashier, coupon, template):
    _with_rules(template, weekdays=0b0011111)  # Monday to Friday
    # Friday 23:59:59 in Shanghai (15:59:59 UTC, still Friday in UTC too) is fine;
    friday = datetime(2026, 11, 27, 23, 59, 59, tzinfo=SHANGHAI)
    # Saturday 00:30 in Shanghai is Friday 16:30 UTC: refused, it is Saturday at the counter.
    saturday = datetime(2026, 11, 28, 0, 30, tzinfo=SHANGHAI)
    Coupon.objects.filter(pk=coupon.pk).update(
        valid_from=friday - timedelta(days=1), valid_until=friday + timedelta(days=3)
    )
    inspection = services.coupon_inspect(actor=cashier, code=typed(coupon), now=saturday)
    assert inspection.reason == "not_today"
    with pytest.raises(ApplicationError) as caught:
        verify(cashier, coupon, now=saturday)
    assert caught.value.code == "coupon_not_usable" and caught.value.extra == {
        "reason": "not_today"
    }
    assert services.coupon_inspect(actor=cashier, code=typed(coupon), now=friday).usable


def test_time_slots_in_shanghai_time(cashier, coupon, template):
    _with_rules(template, time_slots=[["11:00", "14:00"], ["17:00", "21:00"]])
    day = datetime(2026, 11, 27, tzinfo=SHANGHAI)
    Coupon.objects.filter(pk=coupon.pk).update(
        valid_from=day - timedelta(days=1), valid_until=day + timedelta(days=2)
    )

    def reason(hour, minute=0, second=0):
        at = day.replace(hour=hour, minute=minute, second=second)
        return services.coupon_inspect(actor=cashier, code=typed(coupon), now=at).reason

    assert reason(10, 59, 59) == "not_this_hour"
    assert reason(11) is None
    assert reason(13, 59, 59) is None
    assert reason(14) == "not_this_hour"
    assert reason(20, 59) is None
    assert reason(21) == "not_this_hour"


def test_not_valid_yet(cashier, coupon):
    early = coupon.valid_from - timedelta(seconds=1)
    assert services.coupon_inspect(actor=cashier, code=typed(coupon), now=early).reason == (
        "not_yet_valid"
    )


def test_only_at_the_templates_stores(owner, officer, customer, cashier, shop):
    from merchants import services as merchant_services
    from tests.merchants.factories import near

    lat, lng = near(metres=900)
    second = merchant_services.store_add(
        actor=owner, merchant_id=shop.pk, name="Second", address="2 Road", lat=lat, lng=lng
    )
    first = shop.stores.exclude(pk=second.pk).get()
    template = live_template(owner=owner, reviewer=officer, store_ids=[first.pk])
    coupon = services.coupon_claim(customer=customer, template_id=template.pk, claim_key="s" * 10)
    inspection = services.coupon_inspect(actor=cashier, code=typed(coupon), store_id=second.pk)
    assert inspection.reason == "not_at_this_store"
    verify(cashier, coupon, store_id=first.pk)


def test_owner_undoes_within_ten_minutes(owner, cashier, coupon):
    verification = verify(cashier, coupon)
    assert (
        refusal(
            lambda: services.verification_undo(
                actor=cashier, verification_id=verification.pk, reason="wrong"
            )
        )
        == "permission_denied"
    )
    assert (
        refusal(
            lambda: services.verification_undo(
                actor=owner, verification_id=verification.pk, reason=""
            )
        )
        == "reason_required"
    )
    late = verification.created_at + timedelta(minutes=10, seconds=1)
    assert (
        refusal(
            lambda: services.verification_undo(
                actor=owner, verification_id=verification.pk, reason="wrong", now=late
            )
        )
        == "undo_window_passed"
    )
    services.verification_undo(
        actor=owner,
        verification_id=verification.pk,
        reason="Scanned the wrong coupon",
        now=verification.created_at + timedelta(minutes=10),
    )
    coupon.refresh_from_db()
    verification.refresh_from_db()
    assert coupon.status == "issued"
    assert verification.undone_by == owner and verification.undo_reason
    assert (
        refusal(
            lambda: services.verification_undo(
                actor=owner, verification_id=verification.pk, reason="again"
            )
        )
        == "invalid_transition"
    )
    # Issued again: it can be used (once) again.
    verify(cashier, coupon)
    assert Verification.objects.filter(undone_at__isnull=True).count() == 1


def test_another_merchant_cannot_undo(other_shop, cashier, coupon):
    verification = verify(cashier, coupon)
    assert (
        refusal(
            lambda: services.verification_undo(
                actor=other_shop.application.applicant, verification_id=verification.pk, reason="x"
            )
        )
        == "not_in_your_grid"
    )


def test_void_once(owner, cashier, coupon, other_shop):
    assert (
        refusal(
            lambda: services.coupon_void(
                actor=other_shop.application.applicant, coupon_id=coupon.pk, reason="x"
            )
        )
        == "not_in_your_grid"
    )
    assert (
        refusal(lambda: services.coupon_void(actor=cashier, coupon_id=coupon.pk, reason="x"))
        == "permission_denied"
    )
    services.coupon_void(actor=owner, coupon_id=coupon.pk, reason="Customer complaint")
    assert (
        refusal(lambda: services.coupon_void(actor=owner, coupon_id=coupon.pk, reason="again"))
        == "invalid_transition"
    )
    assert refusal(lambda: verify(cashier, coupon)) == "coupon_not_usable"


def test_campaign_money_follows_the_coupon(owner, officer, head_office, cashier, customers):
    campaign = services.campaign_create(actor=head_office, name="Spring", budget_fen=10_000)
    template = live_template(
        owner=owner,
        reviewer=officer,
        obtain="campaign",
        campaign_id=campaign.pk,
        kind="percent_off",
        pay_percent=85,
        cap_fen=3000,
        discount_fen=0,
    )
    used, voided, kept = (
        services.coupon_claim(customer=c, template_id=template.pk, claim_key=f"camp-{n:04d}")
        for n, c in enumerate(customers)
    )

    def money():
        campaign.refresh_from_db()
        return campaign.reserved_fen, campaign.spent_fen

    assert money() == (9000, 0)
    verification = verify(cashier, used)
    assert money() == (6000, 3000)
    services.verification_undo(actor=owner, verification_id=verification.pk, reason="oops")
    assert money() == (9000, 0)
    verify(cashier, used)
    services.coupon_void(actor=owner, coupon_id=voided.pk, reason="complaint")
    assert money() == (3000, 3000)
    services.coupons_expire_due(now=kept.valid_until)
    assert money() == (0, 3000)
    assert (
        Campaign.objects.get().entries.count() == 8
    )  # 3 reserve, spend, unspend, spend, 2 release


def test_a_budget_is_never_set_below_what_is_committed(owner, officer, head_office, customer):
    campaign = services.campaign_create(actor=head_office, name="Spring", budget_fen=10_000)
    template = live_template(
        owner=owner, reviewer=officer, obtain="campaign", campaign_id=campaign.pk
    )
    services.coupon_claim(customer=customer, template_id=template.pk, claim_key="b" * 10)
    assert (
        refusal(
            lambda: services.campaign_set_budget(
                actor=head_office, campaign_id=campaign.pk, budget_fen=1999
            )
        )
        == "budget_below_committed"
    )
    services.campaign_set_budget(actor=head_office, campaign_id=campaign.pk, budget_fen=2000)
    assert Campaign.objects.get().budget_fen == 2000


def test_campaign_access(officer, other_officer, head_office, customer):
    mine = services.campaign_create(actor=officer, name="West Lake week", budget_fen=100)
    assert mine.branch_id == officer.branch_id
    assert (
        refusal(
            lambda: services.campaign_set_budget(
                actor=other_officer, campaign_id=mine.pk, budget_fen=5
            )
        )
        == "not_in_your_grid"
    )
    assert (
        refusal(lambda: services.campaign_create(actor=customer, name="x", budget_fen=100))
        == "not_in_your_grid"
    )
    hq = services.campaign_create(actor=head_office, name="National", budget_fen=100)
    assert refusal(lambda: services.campaign_close(actor=officer, campaign_id=hq.pk)) == (
        "permission_denied"
    )
    assert (
        refusal(lambda: services.campaign_create(actor=head_office, name="Bad", budget_fen=0))
        == "invalid"
    )
    assert (
        refusal(lambda: services.campaign_create(actor=head_office, name="Bad", budget_fen=10.5))
        == "invalid"
    )


def test_a_scanner_typing_the_token_into_the_code_field(cashier, coupon):
    scanned = services.token_for(coupon.code)
    assert services.coupon_inspect(actor=cashier, code=scanned).coupon.pk == coupon.pk
    stale = services.token_for(coupon.code, now=time.time() - 600)
    assert refusal(lambda: services.coupon_inspect(actor=cashier, code=stale)) == (
        "coupon_token_expired"
    )


def test_wrong_digits_are_limited_per_merchant_but_the_qr_still_works(
    cashier, owner, coupon, other_shop, settings
):
    # a guess at the 7-digit MAC succeeds once in 10 million: a merchant gets 20 wrong tries
    # per 10 minutes, then typing is refused (429) until the window ends
    good = typed(coupon)
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    for _ in range(COUNTER_WRONG_CODES):
        assert refusal(lambda: services.coupon_inspect(actor=cashier, code=wrong)) == (
            "coupon_token_invalid"
        )
    with pytest.raises(ApplicationError) as caught:
        services.coupon_inspect(actor=owner, code=good)  # even right digits, by anybody there
    assert caught.value.code == "coupon_counter_too_many_wrong_codes"
    assert caught.value.status == 429
    # the QR's token cannot be forged: scanning still works
    token = services.token_for(coupon.code)
    assert services.coupon_inspect(actor=cashier, token=token).coupon.pk == coupon.pk
    # another merchant's counter is not affected
    other_owner = other_shop.application.applicant
    assert refusal(lambda: services.coupon_inspect(actor=other_owner, code=good)) == (
        "coupon_other_merchant"
    )
