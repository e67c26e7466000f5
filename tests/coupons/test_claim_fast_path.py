"""The flash sale's losers are answered before authentication once the sell-out is known,
with the very answer the service gives; everything else goes the full way."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from coupons import services
from coupons.errors import CouponOutOfStock
from tests.coupons.factories import live_template

pytestmark = pytest.mark.django_db


def post(client, template, key):
    return client.post(f"/api/coupons/templates/{template.pk}/claim/", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def sold_out(owner, officer, customers):
    template = live_template(owner=owner, reviewer=officer, total_stock=1)
    services.coupon_claim(customer=customers[0], template_id=template.pk, claim_key="winner-0001")
    # The first loser reads the template and leaves the hint.
    with pytest.raises(CouponOutOfStock):
        services.coupon_claim(customer=customers[1], template_id=template.pk, claim_key="l" * 10)
    return template


def test_a_loser_is_answered_with_one_query(sold_out, customers):
    api = APIClient()
    api.force_authenticate(customers[2])
    with CaptureQueriesContext(connection) as queries:
        response = post(api, sold_out, str(uuid.uuid4()))
    assert response.status_code == 409
    assert response.json() == {
        "code": "coupon_out_of_stock",
        "message": str(services.claiming.CouponOutOfStock.message),
        "extra": {},
    }
    assert len(queries) == 1


def test_the_winner_retrying_still_gets_the_coupon(sold_out, customers):
    api = APIClient()
    api.force_authenticate(customers[0])
    response = post(api, sold_out, "winner-0001")
    assert response.status_code == 200 and response.json()["id"]


def test_without_the_hint_anonymous_is_refused_by_authentication(owner, officer):
    template = live_template(owner=owner, reviewer=officer)
    response = post(APIClient(), template, str(uuid.uuid4()))
    assert response.status_code in (401, 403)
    assert response.json()["code"] in ("not_authenticated", "authentication_failed")


def test_the_claim_endpoint_stays_in_the_schema(client):
    schema = client.get("/api/schema/?format=json").json()
    claim = schema["paths"]["/api/coupons/templates/{id}/claim/"]["post"]
    assert "409" in claim["responses"] and claim["operationId"]
