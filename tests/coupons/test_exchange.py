"""Coupons exchanged for points: the coupon and the spend commit together or not at all."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alliance.errors import ApplicationError
from coupons import services
from coupons.models import Coupon
from points import services as points_services
from points.models import JournalEntry
from tests.coupons.factories import live_template
from tests.points.factories import earn_available

pytestmark = pytest.mark.django_db


def balance(customer) -> int:
    return points_services.customer_account(customer_id=customer.pk).balance


@pytest.fixture
def for_points(owner, officer):
    return live_template(
        owner=owner,
        reviewer=officer,
        obtain="points",
        points_price=500,
        per_customer_limit=2,
        total_stock=5,
    )


def test_exchange_spends_the_points_once(customer, for_points):
    earn_available(customer, 800, now=timezone.now() - timedelta(days=10))
    coupon = services.coupon_exchange(
        customer=customer, template_id=for_points.pk, claim_key="swap-000001"
    )
    again = services.coupon_exchange(
        customer=customer, template_id=for_points.pk, claim_key="swap-000001"
    )
    assert coupon.pk == again.pk
    assert balance(customer) == 300
    entry = JournalEntry.objects.get(kind="spend")
    assert (entry.reference_type, entry.reference_id) == ("coupon", coupon.pk)


def test_not_enough_points_gives_no_coupon(customer, for_points):
    earn_available(customer, 800, now=timezone.now() - timedelta(days=10))
    services.coupon_exchange(customer=customer, template_id=for_points.pk, claim_key="swap-1" * 2)
    with pytest.raises(ApplicationError) as caught:
        services.coupon_exchange(
            customer=customer, template_id=for_points.pk, claim_key="swap-2" * 2
        )
    assert caught.value.code == "points_insufficient"
    assert Coupon.objects.count() == 1 and balance(customer) == 300
    for_points.refresh_from_db()
    assert for_points.stock_left == 4


def test_free_claim_and_exchange_do_not_mix(customer, for_points, owner, officer):
    with pytest.raises(ApplicationError) as caught:
        services.coupon_claim(customer=customer, template_id=for_points.pk, claim_key="k" * 10)
    assert caught.value.code == "coupon_not_claimable"
    free = live_template(owner=owner, reviewer=officer)
    with pytest.raises(ApplicationError) as caught:
        services.coupon_exchange(customer=customer, template_id=free.pk, claim_key="k" * 11)
    assert caught.value.code == "coupon_not_claimable"


def test_exchange_through_the_api_and_the_page(customer, owner, officer, client):
    from rest_framework.test import APIClient

    for_points = live_template(owner=owner, reviewer=officer, obtain="points", points_price=500,
                               per_customer_limit=5)

    earn_available(customer, 1200, now=timezone.now() - timedelta(days=10))
    api = APIClient()
    api.force_authenticate(customer)
    url = f"/api/coupons/templates/{for_points.pk}/exchange/"
    first = api.post(url, HTTP_IDEMPOTENCY_KEY="exchange-api-01")
    again = api.post(url, HTTP_IDEMPOTENCY_KEY="exchange-api-01")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert balance(customer) == 700
    # The free-claim endpoint refuses a points coupon (no points spent by surprise).
    refused = api.post(f"/api/coupons/templates/{for_points.pk}/claim/",
                       HTTP_IDEMPOTENCY_KEY="exchange-api-02")
    assert (refused.status_code, refused.json()["code"]) == (409, "coupon_not_claimable")

    client.force_login(customer)
    page = client.get(f"/offers/coupon/{for_points.pk}/").content.decode()
    assert 'id="claim-button"' in page and "500" in page
    client.post(f"/offers/coupon/{for_points.pk}/claim/", {"claim_key": "exchange-page-1"})
    assert balance(customer) == 200
    assert Coupon.objects.filter(customer=customer).count() == 2
    short = client.post(f"/offers/coupon/{for_points.pk}/claim/", {"claim_key": "exchange-page-2"})
    assert short.status_code in (400, 409) and "points_insufficient" in short.content.decode()
