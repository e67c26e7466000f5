"""The customer's offer list and wallet (pages and API) run as many queries for 30 rows as for 3:
no query per offer or per coupon. And the claim endpoint runs only the service's queries."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from alliance.errors import ApplicationError
from coupons import services
from coupons.selectors.customer import offers_near
from tests.coupons.factories import live_template
from tests.factories import UserFactory
from tests.merchants.factories import approved_merchant, near

pytestmark = pytest.mark.django_db


def count_queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    if hasattr(response, "status_code"):
        assert response.status_code == 200, getattr(response, "content", b"")[:500]
    return len(captured.captured_queries)


def add_offers(n, *, owner, officer, head_office, start=0):
    """``n`` live offers: templates of the fixture shop and of other shops nearby."""
    for i in range(start, start + n):
        if i % 3 == 2:
            shop = approved_merchant(
                reviewer=head_office,
                business_name=f"Shop {i}",
                location=near(metres=300 + 40 * i, bearing=20 * i),
            )
            live_template(owner=shop.application.applicant, reviewer=officer, title=f"O{i}")
        else:
            live_template(owner=owner, reviewer=officer, title=f"O{i}")


def add_coupons(n, *, customer, owner, officer, start=0):
    for i in range(start, start + n):
        template = live_template(owner=owner, reviewer=officer, title=f"C{i}")
        services.coupon_claim(
            customer=customer, template_id=template.pk, claim_key=uuid.uuid4().hex
        )


def test_offers_page_and_api_and_selector_same_queries_for_3_and_30(
    client, branch, owner, officer, head_office
):
    page = lambda: client.get(reverse("coupons:offers"), {"area": branch.pk})  # noqa: E731
    api = lambda: APIClient().get("/api/coupons/offers/", {"area": branch.pk})  # noqa: E731
    sorts = {
        s: (
            lambda s=s: APIClient().get(
                "/api/coupons/offers/", {"lat": branch.lat, "lng": branch.lng, "sort": s}
            )
        )
        for s in ("newest", "popular")
    }
    selector = lambda: offers_near(lat=branch.lat, lng=branch.lng)  # noqa: E731

    add_offers(3, owner=owner, officer=officer, head_office=head_office)
    assert len(offers_near(lat=branch.lat, lng=branch.lng).results) == 3
    few = {
        "page": count_queries(page),
        "api": count_queries(api),
        "selector": count_queries(selector),
        **{s: count_queries(call) for s, call in sorts.items()},
    }
    add_offers(27, owner=owner, officer=officer, head_office=head_office, start=3)
    assert len(offers_near(lat=branch.lat, lng=branch.lng, per_page=40).results) == 30
    many = {
        "page": count_queries(page),
        "api": count_queries(api),
        "selector": count_queries(selector),
        **{s: count_queries(call) for s, call in sorts.items()},
    }
    assert few == many
    assert many["newest"] <= 3  # area lookup + one page query (+ nothing per row)


def test_wallet_page_and_api_same_queries_for_3_and_30(client, customer, owner, officer):
    client.force_login(customer)
    api = APIClient()
    api.force_authenticate(customer)
    page = lambda: client.get(reverse("coupons:wallet"))  # noqa: E731
    listing = lambda: api.get("/api/coupons/wallet/")  # noqa: E731

    add_coupons(3, customer=customer, owner=owner, officer=officer)
    page()  # the first visit makes the customer's offline key, once
    few = (count_queries(page), count_queries(listing))
    add_coupons(27, customer=customer, owner=owner, officer=officer, start=3)
    assert api.get("/api/coupons/wallet/").json()["count"] == 30
    many = (count_queries(page), count_queries(listing))
    assert few == many


def test_the_claim_endpoint_adds_no_query_to_the_service(owner, officer, customer):
    """The flash-sale hot path: the API runs exactly what the service runs (and the token
    lookup, except where the winner's statement makes it), for a winner and for a loser."""
    from rest_framework.authtoken.models import Token

    template = live_template(owner=owner, reviewer=officer, total_stock=3)
    other = UserFactory(role="customer")

    def by_service(user):
        with CaptureQueriesContext(connection) as captured:
            try:
                services.coupon_claim(
                    customer=user, template_id=template.pk, claim_key=uuid.uuid4().hex
                )
            except ApplicationError as exc:
                assert exc.code == "coupon_out_of_stock"
        return len(captured.captured_queries)

    def by_api(user):
        token, _ = Token.objects.get_or_create(user=user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        with CaptureQueriesContext(connection) as captured:
            response = api.post(
                f"/api/coupons/templates/{template.pk}/claim/",
                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
            )
        assert response.status_code in (201, 409)
        return len(captured.captured_queries)

    third = UserFactory(role="customer")
    fourth = UserFactory(role="customer")
    # The first claim reads the template's terms, which later claims reuse (on PostgreSQL).
    by_service(UserFactory(role="customer"))
    # Two winners. On PostgreSQL the winner's statement authenticates the token itself;
    # elsewhere the token's lookup is a query of its own.
    token_lookup = 0 if connection.vendor == "postgresql" else 1
    assert by_api(customer) == by_service(other) + token_lookup
    # Two losers (sold out), once the sell-out has been seen (the first loser reads the
    # template and leaves the sold-out hint; the hint spares the next ones that read).
    # The API answers them before authentication (test_claim_fast_path): fewer queries still.
    by_service(UserFactory(role="customer"))
    assert by_api(third) <= by_service(fourth)
