"""The customer coupons API: offers, a template's rules, claiming (every refusal code, 201 vs
200 on a repeated key, who may claim), the wallet and the QR token, with exact error bodies."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from coupons import services
from coupons.apis.customer import CustomerCouponOutput
from coupons.models import Coupon
from tests.coupons.factories import approved_template, draft_template, live_template, typed
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
BASE = "/api/coupons/"


def api_for(user=None) -> APIClient:
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        api.force_authenticate(user)
    return api


def claim_path(template) -> str:
    return f"{BASE}templates/{template.pk}/claim/"


def post_claim(api, template, key=None):
    return api.post(claim_path(template), HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()))


def claim(customer, template):
    return services.coupon_claim(
        customer=customer, template_id=template.pk, claim_key=uuid.uuid4().hex
    )


def error(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# --- Offers and rules ------------------------------------------------------------------------


def test_offers_near_an_area_anonymously(branch, owner, officer):
    template = live_template(owner=owner, reviewer=officer, title="Tea time")
    response = api_for().get(f"{BASE}offers/", {"area": branch.pk})
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None and body["page"] == 1
    (offer,) = body["results"]
    assert offer["template_id"] == template.pk and offer["title"] == "Tea time"
    assert offer["merchant_name"] == "Lakeside Tea House"
    assert offer["value"] == "¥20 off orders of ¥100 or more"
    assert 495 < offer["distance_m"] < 505 and offer["distance"] == "500 m"
    assert offer["store"]["address"].startswith("12 Beishan Road")


def test_offers_page_through_with_next(branch, owner, officer):
    for n in range(21):
        live_template(owner=owner, reviewer=officer, title=f"T{n}")
    first = api_for().get(f"{BASE}offers/", {"lat": branch.lat, "lng": branch.lng}).json()
    assert len(first["results"]) == 20 and "page=2" in first["next"]
    second = api_for().get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    seen = {o["id"] for o in first["results"]} | {o["id"] for o in second["results"]}
    assert len(seen) == 21


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "lat"),
        ({"lat": "x", "lng": "120"}, "lat"),
        ({"lat": "30", "lng": "200"}, "lng"),
        ({"area": "123456"}, "area"),
        ({"lat": "30", "lng": "120", "sort": "price"}, "sort"),
        ({"lat": "30", "lng": "120", "category": "x"}, "category"),
    ],
)
def test_offers_bad_parameters_are_invalid(branch, params, field):
    response = api_for().get(f"{BASE}offers/", params)
    assert error(response) == (400, "invalid")
    assert field in response.json()["extra"]["fields"]


def test_template_rules_and_hidden_states(owner, officer):
    template = live_template(owner=owner, reviewer=officer, daily_cap=50)
    body = api_for().get(f"{BASE}templates/{template.pk}/").json()
    assert body["claim_state"] == "open" and body["min_spend_fen"] == 10000
    assert body["rules"]["value"] == "¥20 off orders of ¥100 or more"
    assert body["rules"]["daily_cap"] == "50 coupons a day"
    assert [s["name"] for s in body["stores"]] == ["Lakeside Tea House (Beishan Road)"]
    for hidden in (draft_template(owner=owner), approved_template(owner=owner, reviewer=officer)):
        response = api_for().get(f"{BASE}templates/{hidden.pk}/")
        assert error(response) == (404, "coupon_not_found")


# --- Claiming -------------------------------------------------------------------------------


def test_a_new_key_is_201_the_same_key_is_200_with_the_same_coupon(customer, owner, officer):
    template = live_template(owner=owner, reviewer=officer, per_customer_limit=2)
    api = api_for(customer)
    key = str(uuid.uuid4())
    first = post_claim(api, template, key)
    again = post_claim(api, template, key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert first.json()["template_id"] == template.pk and first.json()["status"] == "issued"
    # The body is the schema's serializer's, field for field, Asia/Shanghai times included.
    coupon = Coupon.objects.get(pk=first.json()["id"])
    assert first.json() == CustomerCouponOutput(coupon).data
    assert first.json()["valid_until"].endswith("+08:00")
    assert Coupon.objects.filter(customer=customer).count() == 1
    other = post_claim(api, template)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC"])
def test_the_claims_body_is_the_serializers_in_any_time_zone(customer, owner, officer, zone):
    from coupons.apis.customer import claimed_coupon

    template = live_template(owner=owner, reviewer=officer)
    services.coupon_claim(customer=customer, template_id=template.pk, claim_key="zone-key-01")
    coupon = Coupon.objects.get(claim_key="zone-key-01")
    with timezone.override(zone):
        assert claimed_coupon(coupon) == CustomerCouponOutput(coupon).data
        assert claimed_coupon(coupon)["claimed_at"].endswith("Z" if zone == "UTC" else "+08:00")


def test_the_key_may_come_in_the_body(customer, owner, officer):
    template = live_template(owner=owner, reviewer=officer)
    api = api_for(customer)
    response = api.post(claim_path(template), {"claim_key": uuid.uuid4().hex}, format="json")
    assert response.status_code == 201


def test_a_claim_needs_a_key(customer, owner, officer):
    template = live_template(owner=owner, reviewer=officer)
    response = api_for(customer).post(claim_path(template))
    assert error(response) == (400, "invalid")
    assert "claim_key" in response.json()["extra"]["fields"]
    short = post_claim(api_for(customer), template, key="abc")
    assert error(short) == (400, "invalid")
    assert not Coupon.objects.exists()


def test_token_auth_as_the_load_test_calls_it(customer, owner, officer, customers):
    template = live_template(owner=owner, reviewer=officer, total_stock=1)
    token = Token.objects.create(user=customer)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert post_claim(api, template).status_code == 201
    loser = Token.objects.create(user=customers[0])
    api.credentials(HTTP_AUTHORIZATION=f"Token {loser.key}")
    response = post_claim(api, template)
    assert response.status_code == 409 and response.json()["code"] == "coupon_out_of_stock"


@pytest.fixture
def campaign(head_office):
    return services.campaign_create(actor=head_office, name="Double 12", budget_fen=2000)


def test_every_refusal_code(customer, customers, owner, officer, campaign):
    now = timezone.now()
    api = api_for(customer)

    sold_out = live_template(owner=owner, reviewer=officer, total_stock=1)
    claim(customers[0], sold_out)
    at_limit = live_template(owner=owner, reviewer=officer)
    claim(customer, at_limit)
    later = live_template(
        owner=owner,
        reviewer=officer,
        claim_start=now + timedelta(days=1),
        claim_end=now + timedelta(days=2),
    )
    ended = live_template(owner=owner, reviewer=officer)
    services.template_end(actor=owner, template_id=ended.pk)
    paused = live_template(owner=owner, reviewer=officer)
    services.template_pause(actor=owner, template_id=paused.pk)
    capped = live_template(owner=owner, reviewer=officer, daily_cap=1)
    claim(customers[0], capped)
    funded = live_template(
        owner=owner, reviewer=officer, obtain="campaign", campaign_id=campaign.pk
    )
    claim(customers[0], funded)  # reserves the whole budget (¥20)
    points = live_template(owner=owner, reviewer=officer, obtain="points", points_price=100)
    voucher = live_template(
        owner=owner,
        reviewer=officer,
        kind="paid_voucher",
        obtain="purchase",
        price_fen=8000,
        discount_fen=10000,
        min_spend_fen=0,
    )
    expected = [
        (sold_out, "coupon_out_of_stock"),
        (at_limit, "coupon_limit_reached"),
        (later, "coupon_not_started"),
        (ended, "coupon_ended"),
        (paused, "coupon_paused"),
        (capped, "coupon_daily_cap_reached"),
        (funded, "campaign_budget_exhausted"),
        (points, "coupon_not_claimable"),
        (voucher, "coupon_not_claimable"),
    ]
    held = Coupon.objects.filter(customer=customer).count()
    for template, code in expected:
        response = post_claim(api, template)
        assert error(response) == (409, code), template.title
        assert response.json()["message"]
    assert Coupon.objects.filter(customer=customer).count() == held
    capped_body = post_claim(api, capped).json()
    assert "next_claim_at" in capped_body["extra"]
    assert error(post_claim(api, draft_template(owner=owner))) == (404, "coupon_not_found")


@pytest.mark.parametrize("who", ["owner", "cashier", "officer", "head_office"])
def test_only_customers_claim(who, owner, officer, request):
    template = live_template(owner=owner, reviewer=officer)
    response = post_claim(api_for(request.getfixturevalue(who)), template)
    assert error(response) == (403, "permission_denied")
    assert not Coupon.objects.exists()


def test_anonymous_cannot_claim(owner, officer):
    template = live_template(owner=owner, reviewer=officer)
    response = post_claim(api_for(), template)
    assert response.status_code in (401, 403) and response.json()["code"] == "not_authenticated"


# --- Wallet ---------------------------------------------------------------------------------


def test_wallet_tabs_and_detail(customer, owner, officer, cashier):
    active = claim(customer, live_template(owner=owner, reviewer=officer, title="A"))
    used = claim(customer, live_template(owner=owner, reviewer=officer, title="U"))
    services.coupon_verify(actor=cashier, code=typed(used), idempotency_key=uuid.uuid4().hex)
    lapsed = claim(customer, live_template(owner=owner, reviewer=officer, title="E"))
    Coupon.objects.filter(pk=lapsed.pk).update(
        valid_from=timezone.now() - timedelta(days=3), valid_until=timezone.now()
    )
    claim(UserFactory(role="customer"), live_template(owner=owner, reviewer=officer))
    api = api_for(customer)

    def ids(status):
        body = api.get(f"{BASE}wallet/", {"status": status}).json()
        return [(c["id"], c["tab"]) for c in body["results"]]

    assert ids("active") == [(active.pk, "active")]
    assert ids("used") == [(used.pk, "used")]
    assert ids("expired") == [(lapsed.pk, "expired")]
    assert api.get(f"{BASE}wallet/").json()["count"] == 1  # active by default
    assert error(api.get(f"{BASE}wallet/", {"status": "all"})) == (400, "invalid")
    detail = api.get(f"{BASE}wallet/{active.pk}/").json()
    assert detail["title"] == "A" and detail["merchant_name"] == "Lakeside Tea House"


def test_token_for_my_active_coupon_only(customer, owner, officer, cashier, settings):
    mine = claim(customer, live_template(owner=owner, reviewer=officer))
    theirs = claim(UserFactory(role="customer"), live_template(owner=owner, reviewer=officer))
    api = api_for(customer)
    body = api.get(f"{BASE}wallet/{mine.pk}/token/").json()
    assert body["expires_in"] == settings.COUPON_TOKEN_MAX_AGE
    assert body["token"] != mine.code and services.code_from_token(body["token"]) == mine.code
    # the digits to type come with the token; the permanent code is in no customer answer
    inspected = services.coupon_inspect(actor=cashier, code=body["counter_code"])
    assert inspected.coupon.pk == mine.pk
    assert "code" not in api.get(f"{BASE}wallet/{mine.pk}/").json()
    for path in (f"{BASE}wallet/{theirs.pk}/token/", f"{BASE}wallet/{theirs.pk}/"):
        assert error(api.get(path)) == (404, "coupon_not_found")
    services.coupon_verify(actor=cashier, code=typed(mine), idempotency_key=uuid.uuid4().hex)
    assert error(api.get(f"{BASE}wallet/{mine.pk}/token/")) == (409, "coupon_already_used")


def test_the_wallet_is_for_customers(owner):
    response = api_for(owner).get(f"{BASE}wallet/")
    assert error(response) == (403, "permission_denied")
    assert api_for().get(f"{BASE}wallet/").json()["code"] == "not_authenticated"


def test_the_schema_documents_the_customer_endpoints():
    schema = api_for().get("/api/schema/", {"format": "json"}).json()
    claim_op = schema["paths"]["/api/coupons/templates/{id}/claim/"]["post"]
    assert {"201", "200", "400", "403", "409"} <= set(claim_op["responses"])
    for path in ("offers/", "wallet/", "wallet/{id}/token/", "templates/{id}/"):
        assert f"/api/coupons/{path}" in schema["paths"]
