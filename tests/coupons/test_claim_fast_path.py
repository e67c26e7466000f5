"""The flash sale's losers are answered before authentication once the sell-out is known,
with the very answer the service gives; everything else goes the full way."""

import uuid
from types import SimpleNamespace

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


# A customer's claim with a token and a key is answered without DRF's dispatch; the same claim
# made through DRF (a session) must get the very same answers.
def token_client(user) -> APIClient:
    from rest_framework.authtoken.models import Token

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return api


def session_client(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def answer(response) -> tuple:
    body = response.json()
    if response.status_code in (200, 201):
        body = {k: v for k, v in body.items() if k not in ("id", "claimed_at", "valid_from")}
    return response.status_code, body


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_token_claim_answers_as_the_api_does(owner, officer, language):
    from tests.factories import UserFactory

    template = live_template(owner=owner, reviewer=officer, total_stock=4, per_customer_limit=1)
    paused = live_template(owner=owner, reviewer=officer)
    services.template_pause(actor=owner, template_id=paused.pk)
    other = live_template(owner=owner, reviewer=officer)
    fast = token_client(UserFactory(role="customer"))
    full = session_client(UserFactory(role="customer"))
    for api in (fast, full):
        api.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    cases = [
        (template, "key-first-0001"),  # 201
        (template, "key-first-0001"),  # 200, the same coupon
        (template, "key-second-001"),  # 409 coupon_limit_reached
        (paused, "key-third-0001"),  # 409 coupon_paused
        (other, "key-first-0001"),  # 400 invalid: the key was used for another coupon
        (SimpleNamespace(pk=999_999_999), "key-fourth-001"),  # 404
        (template, "short"),  # 400 invalid key
    ]
    for target, key in cases:
        got, want = post(fast, target, key), post(full, target, key)
        assert answer(got) == answer(want), (target.pk, key)
        # Which way answered: DRF's views add an Allow header, the hot path does not.
        assert "Allow" not in got and "Allow" in want


def test_a_bad_token_or_a_cashier_goes_the_full_way(owner, officer, cashier):
    template = live_template(owner=owner, reviewer=officer)
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = post(bad, template, str(uuid.uuid4()))
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "authentication_failed"
    response = post(token_client(cashier), template, str(uuid.uuid4()))
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    template.refresh_from_db()
    assert template.stock_left == template.total_stock
