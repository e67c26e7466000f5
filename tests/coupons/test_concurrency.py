"""Flash crowds on PostgreSQL: real connections in threads, row locks, constraints.

Each test releases its threads together (a barrier) and asserts the invariant in the database,
not only the answers: stock never below zero, no customer above the limit, one verification
per coupon, a campaign never above its budget.
"""

import queue
import threading
import uuid

import pytest
from django.db import connection
from django.db.models import Count
from rest_framework.authtoken.models import Token

from alliance.errors import ApplicationError
from coupons import services
from coupons.models import (
    Campaign,
    CampaignEntry,
    Coupon,
    CouponEvent,
    CouponTemplate,
    Verification,
)
from tests.coupons.factories import live_template, typed
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# PostgreSQL allows 100 connections here; the threads share this many at once.
CONNECTIONS = 40


def run_concurrently(calls) -> list:
    """Run the calls on up to CONNECTIONS threads (each its own connection), started together.
    Returns "ok" or the error code of each call."""
    todo: queue.Queue = queue.Queue()
    for call in calls:
        todo.put(call)
    width = min(CONNECTIONS, len(calls))
    barrier = threading.Barrier(width)
    results, lock = [], threading.Lock()

    def worker():
        from django.db import connection as own

        try:
            barrier.wait()
            while True:
                try:
                    call = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    call()
                    outcome = "ok"
                except ApplicationError as exc:
                    outcome = exc.code
                with lock:
                    results.append(outcome)
        finally:
            own.close()

    threads = [threading.Thread(target=worker) for _ in range(width)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == len(calls)
    return results


def claim_call(customer, template_id, key=None):
    key = key or uuid.uuid4().hex
    return lambda: services.coupon_claim(customer=customer, template_id=template_id, claim_key=key)


def token_claim_call(customer, template_id, key=None):
    """A claim as the endpoint makes it with an API token: the winner's statement, which
    authenticates inside itself, and the service for whatever that does not take."""
    token = Token.objects.get_or_create(user=customer)[0].key
    key = key or uuid.uuid4().hex

    def call():
        return services.coupon_claim_by_token(
            token_key=token, template_id=template_id, claim_key=key
        ) or services.coupon_claim(customer=customer, template_id=template_id, claim_key=key)

    return call


# Each claim race runs three ways: with a template this process has not claimed yet (every
# claim reads it); with one whose terms it keeps (an earlier claim read them, so the winners go
# straight to the one statement; see services.claiming); and so, through a token, as the
# endpoint claims (the statement authenticates too).
WAYS = {
    "first-claims": (False, claim_call),
    "terms-kept": (True, claim_call),
    "token": (True, token_claim_call),
}
EACH_WAY = pytest.mark.parametrize("way", list(WAYS))


def flash_template(owner, officer, way: str, **fields):
    """A live template and how to claim it; when its terms are to be kept, one coupon of it is
    already claimed by somebody else (its stock one more than asked, so the test's own figures
    hold)."""
    kept, call = WAYS[way]
    fields["total_stock"] = fields.get("total_stock", 100) + (1 if kept else 0)
    template = live_template(owner=owner, reviewer=officer, **fields)
    if kept:
        claim_call(UserFactory(role="customer"), template.pk)()
    return template, kept, call


@EACH_WAY
def test_500_customers_on_a_stock_of_50(owner, officer, way):
    template, _kept, call = flash_template(owner, officer, way, total_stock=50)
    people = UserFactory.create_batch(500, role="customer")
    results = run_concurrently([call(p, template.pk) for p in people])
    assert results.count("ok") == 50
    assert set(results) == {"ok", "coupon_out_of_stock"}
    template.refresh_from_db()
    assert template.stock_left == 0
    theirs = Coupon.objects.filter(template=template, customer__in=people)
    assert theirs.count() == 50
    assert theirs.values("customer").distinct().count() == 50
    assert CouponEvent.objects.filter(coupon__in=theirs, actor__in=people).count() == 50


@EACH_WAY
@pytest.mark.parametrize("limit", [1, 3])
def test_20_claims_of_one_customer_give_exactly_the_limit(owner, officer, customer, way, limit):
    template, kept, call = flash_template(owner, officer, way, per_customer_limit=limit)
    results = run_concurrently([call(customer, template.pk) for _ in range(20)])
    assert results.count("ok") == limit
    assert set(results) == {"ok", "coupon_limit_reached"}
    assert Coupon.objects.filter(template=template, customer=customer).count() == limit
    template.refresh_from_db()
    assert template.stock_left == template.total_stock - limit - kept


@EACH_WAY
def test_one_request_retried_at_once_gives_one_coupon(owner, officer, customer, way):
    template, kept, call = flash_template(owner, officer, way, per_customer_limit=5)
    results = run_concurrently(
        [call(customer, template.pk, key="same-tap-000001") for _ in range(10)]
    )
    assert results == ["ok"] * 10
    assert Coupon.objects.filter(customer=customer).count() == 1
    template.refresh_from_db()
    assert template.stock_left == template.total_stock - 1 - kept


def test_two_cashiers_confirming_one_coupon(owner, officer, customer, cashier):
    template = live_template(owner=owner, reviewer=officer)
    coupon = services.coupon_claim(customer=customer, template_id=template.pk, claim_key="x" * 10)
    for _ in range(3):  # a few rounds: the race must be lost the same way every time
        calls = [
            lambda who=who: services.coupon_verify(
                actor=who, code=typed(coupon), idempotency_key=uuid.uuid4().hex
            )
            for who in (owner, cashier)
        ]
        results = run_concurrently(calls)
        assert sorted(results) == ["coupon_already_used", "ok"]
        assert Verification.objects.filter(coupon=coupon, undone_at__isnull=True).count() == 1
        verification = Verification.objects.get(coupon=coupon, undone_at__isnull=True)
        services.verification_undo(actor=owner, verification_id=verification.pk, reason="again")


def test_a_retried_confirm_racing_itself_verifies_once(owner, officer, customer, cashier):
    template = live_template(owner=owner, reviewer=officer)
    coupon = services.coupon_claim(customer=customer, template_id=template.pk, claim_key="y" * 10)
    results = run_concurrently(
        [
            lambda: services.coupon_verify(
                actor=cashier, code=typed(coupon), idempotency_key="k" * 16
            )
            for _ in range(8)
        ]
    )
    assert results == ["ok"] * 8
    assert Verification.objects.filter(coupon=coupon).count() == 1


def test_a_campaign_never_spends_past_its_budget(owner, officer, head_office):
    campaign = services.campaign_create(actor=head_office, name="Flash", budget_fen=21_000)
    one = live_template(
        owner=owner,
        reviewer=officer,
        obtain="campaign",
        campaign_id=campaign.pk,
        discount_fen=2000,
        total_stock=100,
    )
    two = live_template(
        owner=owner,
        reviewer=officer,
        obtain="campaign",
        campaign_id=campaign.pk,
        discount_fen=3000,
        total_stock=100,
    )
    people = UserFactory.create_batch(60, role="customer")
    calls = [claim_call(p, t.pk) for p in people for t in (one, two)]
    results = run_concurrently(calls)
    campaign.refresh_from_db()
    assert campaign.reserved_fen <= campaign.budget_fen
    reserved = sum(
        Coupon.objects.filter(template__campaign=campaign).values_list("reserved_fen", flat=True)
    )
    assert campaign.reserved_fen == reserved
    assert campaign.budget_fen - campaign.reserved_fen < 2000  # nothing more fits
    assert results.count("ok") == Coupon.objects.count()
    assert set(results) == {"ok", "campaign_budget_exhausted"}
    counts = dict(
        CampaignEntry.objects.values_list("kind").annotate(n=Count("pk")).values_list("kind", "n")
    )
    assert counts == {"reserve": Coupon.objects.count()}
    for template in (one, two):
        template.refresh_from_db()
        assert template.stock_left == 100 - Coupon.objects.filter(template=template).count()


def test_the_database_refuses_negative_stock_even_without_the_service(owner, officer):
    from django.db import IntegrityError, transaction

    template = live_template(owner=owner, reviewer=officer, total_stock=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        CouponTemplate.objects.filter(pk=template.pk).update(stock_left=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.create(name="x", budget_fen=10, reserved_fen=11, created_by=owner)
    assert connection.vendor == "postgresql"


def test_concurrent_exchanges_never_overdraw_points(owner, officer, customer):
    from datetime import timedelta

    from django.utils import timezone

    from points import services as points_services
    from tests.points.factories import earn_available

    earn_available(customer, 1000, now=timezone.now() - timedelta(days=10))
    template = live_template(
        owner=owner, reviewer=officer, obtain="points", points_price=500, per_customer_limit=5
    )
    results = run_concurrently(
        [
            lambda: services.coupon_exchange(
                customer=customer, template_id=template.pk, claim_key=uuid.uuid4().hex
            )
            for _ in range(10)
        ]
    )
    assert results.count("ok") == 2
    assert set(results) == {"ok", "points_insufficient"}
    assert points_services.customer_account(customer_id=customer.pk).balance == 0
    assert Coupon.objects.filter(customer=customer).count() == 2
