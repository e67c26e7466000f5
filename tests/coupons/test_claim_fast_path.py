"""The flash sale's losers are answered before authentication once the sell-out is known,
with the very answer the service gives; everything else goes the full way."""

import uuid
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from coupons import services
from coupons.errors import CouponOutOfStock
from coupons.models import Coupon, CouponEvent
from tests.coupons.factories import live_template
from tests.factories import UserFactory

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


# A winner with a token is authenticated inside the claim's own statement, on PostgreSQL once
# this process keeps the template's terms. It must take nothing for a token the API would
# refuse, and answer exactly as the API does.
def kept_template(owner, officer, **fields):
    """A live template whose terms this process keeps (one coupon already claimed)."""
    fields["total_stock"] = fields.get("total_stock", 10) + 1
    template = live_template(owner=owner, reviewer=officer, **fields)
    services.coupon_claim(
        customer=UserFactory(role="customer"), template_id=template.pk, claim_key="keeps-terms"
    )
    # Kept by that claim when it is of the one-statement kind; kept here otherwise, so that
    # a test sees the kind refused, not the terms missing.
    services.claiming._terms.setdefault(template.pk, template)
    return template


@pytest.mark.postgres
def test_a_winner_with_a_token_is_one_statement_that_authenticates(owner, officer, customer):
    template = kept_template(owner, officer)
    api = token_client(customer)
    with CaptureQueriesContext(connection) as queries:
        response = post(api, template, "token-winner-01")
    assert response.status_code == 201, response.json()
    # No token lookup, no template read: one statement (the test's transaction turns the
    # claim's own into a savepoint).
    sent = [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(sent) == 1, sent
    assert sent[0].startswith("WITH who") and "authtoken_token" in sent[0]
    assert response.wsgi_request.user.pk == customer.pk  # as DRF leaves it, loaded if read
    coupon = Coupon.objects.get(pk=response.json()["id"])
    assert (coupon.customer_id, coupon.claim_key, coupon.slot) == (
        customer.pk,
        "token-winner-01",
        1,
    )
    event = CouponEvent.objects.get(coupon=coupon)
    assert (event.actor_id, event.to_status) == (customer.pk, "issued")
    template.refresh_from_db()
    assert template.stock_left == template.total_stock - 2
    # The same key again: the coupon it made, 200, through the general way.
    again = post(token_client(customer), template, "token-winner-01")
    assert again.status_code == 200 and again.json()["id"] == coupon.pk


@pytest.mark.postgres
@pytest.mark.parametrize(
    "who, code",
    [
        ("inactive customer", "authentication_failed"),
        ("cashier", "permission_denied"),
        ("branch officer", "permission_denied"),
        ("unknown token", "authentication_failed"),
        ("spaces in the header", "authentication_failed"),
    ],
)
def test_a_token_the_api_refuses_takes_nothing(owner, officer, cashier, who, code):
    template = kept_template(owner, officer)
    holder = {
        "inactive customer": lambda: UserFactory(role="customer", is_active=False),
        "cashier": lambda: cashier,
        "branch officer": lambda: officer,
    }
    if who in holder:
        key = Token.objects.get_or_create(user=holder[who]())[0].key
        header = f"Token {key}"
    elif who == "unknown token":
        header = "Token " + "f" * 40
    else:
        key = Token.objects.get_or_create(user=UserFactory(role="customer"))[0].key
        header = f"Token {key} {key}"
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)
    response = post(api, template, str(uuid.uuid4()))
    assert response.status_code in (401, 403) and response.json()["code"] == code
    template.refresh_from_db()
    assert template.stock_left == template.total_stock - 1
    assert Coupon.objects.filter(template=template).count() == 1


@pytest.mark.postgres
def test_claim_by_token_makes_a_coupon_only_for_a_kept_one_statement_template(
    owner, officer, customer
):
    key = Token.objects.get_or_create(user=customer)[0].key

    def by_token(template, claim_key="by-token-0001", token=key):
        return services.coupon_claim_by_token(
            token_key=token, template_id=template.pk, claim_key=claim_key
        )

    fresh = live_template(owner=owner, reviewer=officer)
    assert by_token(fresh) is None  # terms not kept yet: the general way reads them
    capped = kept_template(owner, officer, daily_cap=5)
    assert by_token(capped) is None  # a daily cap claims in the ORM's transaction
    template = kept_template(owner, officer, per_customer_limit=1)
    assert by_token(template, claim_key="short") is None
    assert by_token(template, token="0" * 40) is None
    coupon = by_token(template)
    assert coupon is not None and coupon.customer_id == customer.pk
    assert by_token(template, claim_key="by-token-0002") is None  # the limit
    assert by_token(template) is None  # the same key again: a unique violation, undone
    other = UserFactory(role="customer")
    other_key = Token.objects.create(user=other).key
    assert by_token(template, claim_key="by-token-0001", token=other_key) is not None
    assert Coupon.objects.filter(template__in=[fresh, capped]).count() == 1  # capped's own
    template.refresh_from_db()
    assert template.stock_left == template.total_stock - 3
