"""Claiming: each outcome, idempotency, validity of the coupon made, the campaign budget."""

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alliance.errors import ApplicationError
from coupons import services
from coupons.models import Campaign, CampaignEntry, ClaimDay, Coupon, CouponEvent, CouponTemplate
from coupons.services import claiming
from tests.coupons.factories import live_template
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def claim(customer, template, key=None, **kw):
    return services.coupon_claim(
        customer=customer, template_id=template.pk, claim_key=key or uuid.uuid4().hex, **kw
    )


def refusal(call) -> str:
    with pytest.raises(ApplicationError) as caught:
        call()
    return caught.value.code


def test_a_claim_makes_one_coupon_and_takes_one_from_stock(owner, officer, customer):
    template = live_template(owner=owner, reviewer=officer, total_stock=5)
    coupon = claim(customer, template)
    template.refresh_from_db()
    assert template.stock_left == 4
    assert coupon.status == Coupon.Status.ISSUED and coupon.customer == customer
    assert len(coupon.code) == 12 and coupon.slot == 1
    assert CouponEvent.objects.get(coupon=coupon).to_status == "issued"


def test_the_same_claim_key_gives_the_same_coupon(owner, officer, customer):
    template = live_template(owner=owner, reviewer=officer, per_customer_limit=3)
    first = claim(customer, template, key="double-tap-0001")
    second = claim(customer, template, key="double-tap-0001")
    assert first.pk == second.pk
    assert Coupon.objects.count() == 1
    template.refresh_from_db()
    assert template.stock_left == template.total_stock - 1


def test_a_claim_key_for_another_template_is_refused(owner, officer, customer):
    one = live_template(owner=owner, reviewer=officer)
    two = live_template(owner=owner, reviewer=officer)
    claim(customer, one, key="reused-key-01")
    assert refusal(lambda: claim(customer, two, key="reused-key-01")) == "invalid"


def test_a_short_claim_key_is_refused(owner, officer, customer):
    template = live_template(owner=owner, reviewer=officer)
    assert refusal(lambda: claim(customer, template, key="abc")) == "invalid"


def test_sold_out(owner, officer, customers):
    template = live_template(owner=owner, reviewer=officer, total_stock=1)
    claim(customers[0], template)
    assert refusal(lambda: claim(customers[1], template)) == "coupon_out_of_stock"
    assert Coupon.objects.count() == 1


def test_limit_per_customer(owner, officer, customer):
    template = live_template(owner=owner, reviewer=officer, per_customer_limit=2)
    claim(customer, template)
    claim(customer, template)
    assert refusal(lambda: claim(customer, template)) == "coupon_limit_reached"
    assert sorted(Coupon.objects.values_list("slot", flat=True)) == [1, 2]


def starting_in_an_hour(owner, officer):
    now = timezone.now()
    return live_template(
        owner=owner,
        reviewer=officer,
        claim_start=now + timedelta(hours=1),
        claim_end=now + timedelta(days=1),
    )


def test_not_started_and_ended(owner, officer, customer):
    template = starting_in_an_hour(owner, officer)
    assert refusal(lambda: claim(customer, template)) == "coupon_not_started"
    assert refusal(lambda: claim(customer, template, now=template.claim_end)) == "coupon_ended"
    claim(customer, template, now=template.claim_start)  # the first second of the window


def test_paused_and_ended_templates(owner, officer, customer):
    template = live_template(owner=owner, reviewer=officer)
    services.template_pause(actor=owner, template_id=template.pk)
    assert refusal(lambda: claim(customer, template)) == "coupon_paused"
    services.template_end(actor=owner, template_id=template.pk)
    assert refusal(lambda: claim(customer, template)) == "coupon_ended"


def test_drafts_cannot_be_claimed(owner, officer, customer):
    from tests.coupons.factories import approved_template, draft_template

    assert refusal(lambda: claim(customer, draft_template(owner=owner))) == "coupon_not_found"
    approved = approved_template(owner=owner, reviewer=officer)
    assert refusal(lambda: claim(customer, approved)) == "coupon_not_found"


def test_purchase_and_points_coupons_are_not_free_claims(owner, officer, customer):
    voucher = live_template(
        owner=owner,
        reviewer=officer,
        kind="paid_voucher",
        price_fen=8000,
        discount_fen=10000,
        obtain="purchase",
    )
    assert refusal(lambda: claim(customer, voucher)) == "coupon_not_claimable"
    points = live_template(owner=owner, reviewer=officer, obtain="points", points_price=500)
    assert refusal(lambda: claim(customer, points)) == "coupon_not_claimable"


def test_only_customers_claim(owner, officer, cashier):
    template = live_template(owner=owner, reviewer=officer)
    assert refusal(lambda: claim(cashier, template)) == "permission_denied"
    assert refusal(lambda: claim(officer, template)) == "permission_denied"


def test_a_suspended_merchant_offers_nothing(owner, officer, manager, customer, shop):
    from merchants import services as merchant_services

    template = live_template(owner=owner, reviewer=officer)
    merchant_services.merchant_suspend(actor=manager, merchant_id=shop.pk, reason="Audit")
    assert refusal(lambda: claim(customer, template)) == "coupon_paused"


def test_daily_cap(owner, officer, customers):
    template = live_template(owner=owner, reviewer=officer, daily_cap=2)
    day_one = datetime(2026, 11, 26, 23, 59, 59, tzinfo=SHANGHAI)
    template.claim_start = day_one - timedelta(days=1)
    CouponTemplate.objects.filter(pk=template.pk).update(
        claim_start=template.claim_start, claim_end=day_one + timedelta(days=5)
    )
    claim(customers[0], template, now=day_one)
    claim(customers[1], template, now=day_one)
    with pytest.raises(ApplicationError) as caught:
        claim(customers[2], template, now=day_one)
    assert caught.value.code == "coupon_daily_cap_reached"
    assert caught.value.extra["next_claim_at"] == "2026-11-27T00:00:00+08:00"
    # One second later it is another day in Shanghai (16:00 UTC).
    claim(customers[2], template, now=day_one + timedelta(seconds=1))
    assert list(ClaimDay.objects.order_by("day").values_list("claimed", flat=True)) == [2, 1]


def test_relative_validity_ends_at_local_midnight(owner, officer, customer):
    template = live_template(owner=owner, reviewer=officer, valid_days=3)
    # 23:30 in Shanghai is 15:30 UTC: the day of claim is the Shanghai day.
    at = datetime(2026, 11, 26, 23, 30, tzinfo=SHANGHAI)
    CouponTemplate.objects.filter(pk=template.pk).update(
        claim_start=at - timedelta(days=1), claim_end=at + timedelta(days=1)
    )
    coupon = claim(customer, template, now=at)
    assert coupon.valid_from == at
    assert coupon.valid_until == datetime(2026, 11, 29, 0, 0, tzinfo=SHANGHAI)


def test_start_delay_moves_the_start_to_local_midnight(owner, officer, customer):
    template = live_template(owner=owner, reviewer=officer, valid_days=2, start_delay_days=1)
    at = datetime(2026, 11, 26, 8, 0, tzinfo=SHANGHAI)
    CouponTemplate.objects.filter(pk=template.pk).update(
        claim_start=at - timedelta(days=1), claim_end=at + timedelta(days=1)
    )
    coupon = claim(customer, template, now=at)
    assert coupon.valid_from == datetime(2026, 11, 27, tzinfo=SHANGHAI)
    assert coupon.valid_until == datetime(2026, 11, 29, tzinfo=SHANGHAI)


def test_fixed_validity_comes_from_the_template(owner, officer, customer):
    now = timezone.now()
    start, end = now + timedelta(days=1), now + timedelta(days=30)
    template = live_template(
        owner=owner, reviewer=officer, validity="fixed", valid_from=start, valid_until=end
    )
    coupon = claim(customer, template)
    assert (coupon.valid_from, coupon.valid_until) == (start, end)


@pytest.fixture
def campaign(head_office):
    return services.campaign_create(actor=head_office, name="Double 12", budget_fen=5000)


def test_a_campaign_reserves_the_worst_case_and_refuses_past_its_budget(
    owner, officer, customers, campaign
):
    template = live_template(
        owner=owner,
        reviewer=officer,
        obtain="campaign",
        campaign_id=campaign.pk,
        discount_fen=2000,
        total_stock=10,
    )
    assert template.funded_by == "campaign"
    claim(customers[0], template)
    claim(customers[1], template)
    assert refusal(lambda: claim(customers[2], template)) == "campaign_budget_exhausted"
    campaign.refresh_from_db()
    assert (campaign.reserved_fen, campaign.spent_fen) == (4000, 0)
    template.refresh_from_db()
    assert template.stock_left == 8  # the refused claim took nothing
    assert list(CampaignEntry.objects.values_list("kind", "amount_fen")) == [
        ("reserve", 2000),
        ("reserve", 2000),
    ]


def test_a_branch_campaign_funds_only_its_grid(owner, other_officer, campaign):
    other = services.campaign_create(actor=other_officer, name="Qianjiang days", budget_fen=9000)
    assert other.branch_id == other_officer.branch_id
    with pytest.raises(ApplicationError) as caught:
        live_template(owner=owner, reviewer=None, obtain="campaign", campaign_id=other.pk)
    assert "campaign_id" in caught.value.extra["fields"]


def test_a_closed_campaign_funds_no_claim(owner, officer, head_office, customer, campaign):
    template = live_template(
        owner=owner, reviewer=officer, obtain="campaign", campaign_id=campaign.pk
    )
    services.campaign_close(actor=head_office, campaign_id=campaign.pk)
    assert refusal(lambda: claim(customer, template)) == "campaign_budget_exhausted"
    assert Campaign.objects.get().reserved_fen == 0


def test_many_customers(owner, officer):
    template = live_template(owner=owner, reviewer=officer, total_stock=3)
    people = [UserFactory(role="customer") for _ in range(5)]
    outcomes = []
    for person in people:
        try:
            claim(person, template)
            outcomes.append("ok")
        except ApplicationError as exc:
            outcomes.append(exc.code)
    assert outcomes == ["ok"] * 3 + ["coupon_out_of_stock"] * 2


def test_sold_out_is_remembered_briefly_and_forgotten_when_stock_is_added(
    owner, officer, customers, django_assert_num_queries
):
    template = live_template(owner=owner, reviewer=officer, total_stock=1)
    claim(customers[0], template)
    assert refusal(lambda: claim(customers[1], template)) == "coupon_out_of_stock"
    # The next loser is answered from the hint: only the retry-key lookup reads the database.
    with django_assert_num_queries(1):
        assert refusal(lambda: claim(customers[2], template)) == "coupon_out_of_stock"
    services.template_add_stock(actor=owner, template_id=template.pk, more=1)
    claim(customers[1], template)
    template.refresh_from_db()
    assert template.stock_left == 0


def test_a_winner_retrying_after_the_sell_out_gets_the_coupon(owner, officer, customers):
    template = live_template(owner=owner, reviewer=officer, total_stock=1)
    won = claim(customers[0], template, key="winner-key-01")
    assert refusal(lambda: claim(customers[1], template)) == "coupon_out_of_stock"
    assert claim(customers[0], template, key="winner-key-01").pk == won.pk


def test_a_winning_claim_is_a_fixed_handful_of_queries(owner, officer, customers):
    # The hot path of a flash sale, where every query counts. On PostgreSQL: one statement
    # that counts the customer's holdings, takes the stock and writes the coupon and its event
    # (the template's terms were read by the first claim). Elsewhere: the retry key and the
    # customer's holdings in one read, the template, then the coupon, its event and the stock.
    template = live_template(owner=owner, reviewer=officer, total_stock=5, per_customer_limit=2)
    claim(customers[0], template)
    with CaptureQueriesContext(connection) as captured:
        second = claim(customers[0], template)
    verbs = [q["sql"].split(" ", 1)[0] for q in captured.captured_queries]
    # (the test's transaction turns the claim's own into a savepoint)
    expected = (
        ["WITH"]
        if connection.vendor == "postgresql"
        else ["SELECT", "SELECT", "INSERT", "INSERT", "UPDATE"]
    )
    assert [v for v in verbs if v not in ("SAVEPOINT", "RELEASE")] == expected
    template.refresh_from_db()
    assert template.stock_left == 3
    event = CouponEvent.objects.get(coupon=second)
    assert (event.actor, event.from_status, event.to_status) == (customers[0], "", "issued")
    assert event.created_at >= second.claimed_at
    assert Coupon.objects.get(pk=second.pk).code == second.code
    assert second.slot == 2 and Coupon.objects.get(pk=second.pk).slot == 2
    assert refusal(lambda: claim(customers[0], template)) == "coupon_limit_reached"


# A template's terms are read by its first claim and kept (see services.claiming); what may
# change after that (its state, its merchant's, the clock) is decided by the claim itself.
def test_a_kept_template_is_refused_once_paused_and_served_again_when_resumed(
    owner, officer, customers
):
    template = live_template(owner=owner, reviewer=officer, total_stock=5)
    claim(customers[0], template)
    services.template_pause(actor=owner, template_id=template.pk)
    assert refusal(lambda: claim(customers[1], template)) == "coupon_paused"
    services.template_resume(actor=owner, template_id=template.pk)
    claim(customers[1], template)
    services.template_end(actor=owner, template_id=template.pk)
    assert refusal(lambda: claim(customers[2], template)) == "coupon_ended"
    template.refresh_from_db()
    assert template.stock_left == 3 and Coupon.objects.filter(template=template).count() == 2


def test_a_kept_template_of_a_suspended_merchant_is_refused(
    owner, officer, manager, customers, shop
):
    from merchants import services as merchant_services

    template = live_template(owner=owner, reviewer=officer)
    claim(customers[0], template)
    merchant_services.merchant_suspend(actor=manager, merchant_id=shop.pk, reason="Audit")
    assert refusal(lambda: claim(customers[1], template)) == "coupon_paused"
    assert Coupon.objects.filter(template=template).count() == 1


def test_a_kept_template_is_refused_outside_its_claim_window(owner, officer, customers):
    template = starting_in_an_hour(owner, officer)
    claim(customers[0], template, now=template.claim_start)
    early = template.claim_start - timedelta(microseconds=1)
    assert refusal(lambda: claim(customers[1], template, now=early)) == "coupon_not_started"
    assert refusal(lambda: claim(customers[1], template, now=template.claim_end)) == "coupon_ended"
    last = template.claim_end - timedelta(microseconds=1)
    assert claim(customers[1], template, now=last).claimed_at == last
    template.refresh_from_db()
    assert template.stock_left == template.total_stock - 2


def test_a_kept_template_sold_out_leaves_the_hint(owner, officer, customers):
    template = live_template(owner=owner, reviewer=officer, total_stock=2)
    claim(customers[0], template)
    claim(customers[1], template)
    assert refusal(lambda: claim(customers[2], template)) == "coupon_out_of_stock"
    assert claiming.sold_out_hint(template.pk)
    assert Coupon.objects.filter(template=template).count() == 2


def test_a_key_used_on_one_kept_template_is_refused_on_another_and_takes_nothing(
    owner, officer, customer
):
    one = live_template(owner=owner, reviewer=officer)
    two = live_template(owner=owner, reviewer=officer, per_customer_limit=2)
    claim(customer, one, key="first-key-001")
    claim(customer, two, key="second-key-01")  # both templates' terms are kept now
    assert refusal(lambda: claim(customer, two, key="first-key-001")) == "invalid"
    assert claim(customer, one, key="first-key-001").template_id == one.pk  # a retry: 200
    two.refresh_from_db()
    assert two.stock_left == two.total_stock - 1
    assert Coupon.objects.filter(customer=customer).count() == 2


@pytest.mark.django_db(transaction=True)  # the claim runs in a thread, on its own connection
def test_a_violation_no_concurrent_claim_explains_is_raised_not_retried(owner, officer, customer):
    """A coupon the database refuses for another reason than a concurrent claim of the same
    customer (here a validity window the template's checks would never let through, set
    behind their back) is a bug: it must reach the error log at once, not loop."""
    import threading

    from django.db import IntegrityError

    template = live_template(owner=owner, reviewer=officer)
    claim(customer, template, key="kept-terms-01")  # and its terms kept, on PostgreSQL
    when = timezone.now() + timedelta(days=1)
    CouponTemplate.objects.filter(pk=template.pk).update(
        validity="fixed", valid_from=when, valid_until=when
    )
    claiming._terms.clear()
    other = UserFactory(role="customer")
    outcome = []

    def attempt():
        try:
            claim(other, template)
        except IntegrityError as exc:
            outcome.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "the claim retried a violation it cannot fix"
    assert len(outcome) == 1 and "coupon_validity_window" in str(outcome[0])
    assert not Coupon.objects.filter(customer=other).exists()
