"""The merchant coupon API through its URLs: templates, actions, history, verify (inspect,
confirm, undo), void, today's list — with the exact error codes, for the owner, the cashier and
another merchant."""

import time
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from coupons import services
from coupons.models import Coupon, CouponTemplate, Verification
from tests.coupons.factories import approved_template, draft_template, live_template, typed

pytestmark = pytest.mark.django_db
BASE = "/api/coupons/merchant/"


def api_for(user) -> APIClient:
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(user)
    return api


def error(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def claim(template, customer, **kwargs) -> Coupon:
    return services.coupon_claim(
        customer=customer, template_id=template.pk, claim_key=uuid.uuid4().hex, **kwargs
    )


def body(store, **overrides) -> dict:
    now = timezone.now()
    data = {
        "kind": "cash_off",
        "title": "满100减20",
        "discount_fen": 2000,
        "min_spend_fen": 10000,
        "store_ids": [store.pk],
        "total_stock": 100,
        "claim_start": (now - timedelta(hours=1)).isoformat(),
        "claim_end": (now + timedelta(days=7)).isoformat(),
        "validity": "relative",
        "valid_days": 7,
        "time_slots": [["11:00", "14:00"]],
        "weekdays": 31,
    }
    data.update(overrides)
    return data


@pytest.fixture
def live(owner, officer):
    return live_template(owner=owner, reviewer=officer)


@pytest.fixture
def coupon(live, customers):
    return claim(live, customers[0])


# --- Templates ----------------------------------------------------------------------------------


def test_owner_creates_a_template(owner, store):
    response = api_for(owner).post(f"{BASE}templates/", body(store), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    template = CouponTemplate.objects.get(pk=data["id"])
    assert data["status"] == "draft" and data["store_ids"] == [store.pk]
    assert (template.discount_fen, template.weekdays, template.time_slots) == (
        2000,
        31,
        [["11:00", "14:00"]],
    )
    assert data["numbers"] == {
        "claimed": 0,
        "verified": 0,
        "expired": 0,
        "conversion_percent": None,
    }
    assert data["value_text"] == "¥20.00 off when spending at least ¥100.00"


def test_invalid_fields_come_back_with_their_names(owner, store):
    response = api_for(owner).post(
        f"{BASE}templates/", body(store, discount_fen=10000), format="json"
    )
    assert error(response) == (400, "invalid")
    assert response.json()["extra"]["fields"]["discount_fen"] == [
        "The discount must be less than the minimum spend."
    ]
    response = api_for(owner).post(
        f"{BASE}templates/", body(store, discount_fen="20.5"), format="json"
    )
    assert error(response) == (400, "invalid")
    assert "discount_fen" in response.json()["extra"]["fields"]
    assert not CouponTemplate.objects.exists()


def test_another_merchants_store_is_refused(owner, other_shop):
    other_store = other_shop.stores.get()
    response = api_for(owner).post(f"{BASE}templates/", body(other_store), format="json")
    assert error(response) == (400, "invalid")
    assert "store_ids" in response.json()["extra"]["fields"]


def test_cashier_reads_but_cannot_write(owner, cashier, store):
    template = draft_template(owner=owner)
    api = api_for(cashier)
    assert [t["id"] for t in api.get(f"{BASE}templates/").json()] == [template.pk]
    assert error(api.post(f"{BASE}templates/", body(store), format="json")) == (
        403,
        "permission_denied",
    )
    assert error(api.post(f"{BASE}templates/{template.pk}/submit/")) == (403, "permission_denied")
    response = api.patch(f"{BASE}templates/{template.pk}/", {"title": "x"}, format="json")
    assert error(response) == (403, "permission_denied")
    response = api.post(f"{BASE}templates/{template.pk}/add-stock/", {"more": 1}, format="json")
    assert error(response) == (403, "permission_denied")


def test_another_merchants_template_is_404(owner, other_owner):
    template = draft_template(owner=owner)
    api = api_for(other_owner)
    assert api.get(f"{BASE}templates/").json() == []
    for response in (
        api.get(f"{BASE}templates/{template.pk}/"),
        api.get(f"{BASE}templates/{template.pk}/history/"),
        api.patch(f"{BASE}templates/{template.pk}/", {"title": "x"}, format="json"),
        api.post(f"{BASE}templates/{template.pk}/submit/"),
        api.post(f"{BASE}templates/{template.pk}/add-stock/", {"more": 1}, format="json"),
    ):
        assert error(response) == (404, "not_in_your_grid")


def test_customers_are_refused(customer):
    assert error(api_for(customer).get(f"{BASE}templates/")) == (403, "permission_denied")


def test_list_counts_claimed_verified_expired(owner, live, customers):
    coupons = [claim(live, c) for c in customers[:2]]
    services.coupon_verify(actor=owner, code=typed(coupons[0]), idempotency_key=uuid.uuid4().hex)
    draft = draft_template(owner=owner, title="Draft")
    data = {t["id"]: t for t in api_for(owner).get(f"{BASE}templates/").json()}
    assert data[live.pk]["numbers"] == {
        "claimed": 2,
        "verified": 1,
        "expired": 0,
        "conversion_percent": 50,
    }
    assert data[draft.pk]["numbers"]["claimed"] == 0


def test_edit_a_draft_then_submit_and_see_the_history(owner, officer):
    template = draft_template(owner=owner)
    api = api_for(owner)
    response = api.patch(
        f"{BASE}templates/{template.pk}/",
        {"title": "满100减30", "discount_fen": 3000},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["title"], response.json()["discount_fen"]) == ("满100减30", 3000)
    assert api.post(f"{BASE}templates/{template.pk}/submit/").json()["status"] == "submitted"
    assert error(api.post(f"{BASE}templates/{template.pk}/submit/")) == (409, "invalid_transition")
    assert error(api.post(f"{BASE}templates/{template.pk}/launch/")) == (404, "not_found")
    history = api.get(f"{BASE}templates/{template.pk}/history/").json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        ("", "draft"),
        ("draft", "draft"),
        ("draft", "submitted"),
    ]


def test_after_approval_only_wording(owner, officer):
    template = approved_template(owner=owner, reviewer=officer)
    api = api_for(owner)
    response = api.patch(f"{BASE}templates/{template.pk}/", {"total_stock": 500}, format="json")
    assert error(response) == (400, "unsafe_edit")
    assert response.json()["extra"]["fields"] == ["total_stock"]
    response = api.patch(f"{BASE}templates/{template.pk}/", {"title": "New words"}, format="json")
    assert response.status_code == 200 and response.json()["title"] == "New words"


def test_publish_pause_resume_end_and_stock(owner, officer, customers):
    template = approved_template(owner=owner, reviewer=officer)
    api = api_for(owner)
    path = f"{BASE}templates/{template.pk}/"
    assert api.post(f"{path}publish/").json()["status"] == "live"
    assert api.post(f"{path}pause/", {"reason": "busy"}, format="json").json()["status"] == "paused"
    assert api.post(f"{path}resume/").json()["status"] == "live"
    for c in customers:
        claim(template, c)
    response = api.post(f"{path}add-stock/", {"more": 10}, format="json")
    assert (response.json()["total_stock"], response.json()["stock_left"]) == (110, 107)
    assert error(api.post(f"{path}set-stock/", {"total_stock": 2}, format="json")) == (
        400,
        "stock_below_claimed",
    )
    assert api.post(f"{path}end/").json()["status"] == "ended"


# --- Verify -------------------------------------------------------------------------------------


def test_inspect_by_code_and_by_token(cashier, coupon, store):
    api = api_for(cashier)
    by_code = api.post(f"{BASE}verify/inspect/", {"code": typed(coupon)}, format="json").json()
    token = services.token_for(coupon.code)
    by_token = api.post(
        f"{BASE}verify/inspect/", {"token": token, "store_id": store.pk}, format="json"
    ).json()
    for data in (by_code, by_token):
        assert data["usable"] is True and data["reason"] is None
        assert data["coupon"]["code"] == coupon.code
        assert data["coupon"]["customer_phone"] == coupon.customer.masked_phone


def test_inspect_refusals(owner, other_owner, coupon, settings, monkeypatch):
    other = api_for(other_owner).post(
        f"{BASE}verify/inspect/", {"code": typed(coupon)}, format="json"
    )
    assert error(other) == (403, "coupon_other_merchant")
    api = api_for(owner)
    forged = api.post(f"{BASE}verify/inspect/", {"token": coupon.code + ":x:y"}, format="json")
    assert error(forged)[1] == "coupon_token_invalid"
    old = services.token_for(coupon.code, now=time.time() - settings.COUPON_TOKEN_MAX_AGE - 5)
    expired = api.post(f"{BASE}verify/inspect/", {"token": old}, format="json")
    assert error(expired)[1] == "coupon_token_expired"
    assert error(api.post(f"{BASE}verify/inspect/", {}, format="json")) == (400, "invalid")
    missing = api.post(
        f"{BASE}verify/inspect/", {"code": services.counter_code_for(987_654_321)}, format="json"
    )
    assert error(missing) == (404, "coupon_not_found")
    permanent = api.post(f"{BASE}verify/inspect/", {"code": coupon.code}, format="json",
                         HTTP_ACCEPT_LANGUAGE="en")
    assert error(permanent) == (400, "invalid")
    assert "18 digits" in permanent.json()["extra"]["fields"]["code"][0]
    # the confirm takes no permanent code either
    confirm = api.post(f"{BASE}verify/confirm/", {"code": coupon.code, "idempotency_key": "k" * 16},
                       format="json")
    assert error(confirm) == (400, "invalid")


def test_confirm_is_idempotent(cashier, coupon):
    api = api_for(cashier)
    key = uuid.uuid4().hex
    first = api.post(
        f"{BASE}verify/confirm/", {"code": typed(coupon)}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    again = api.post(
        f"{BASE}verify/confirm/", {"code": typed(coupon), "idempotency_key": key}, format="json"
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Verification.objects.filter(coupon=coupon).count() == 1
    other_key = api.post(
        f"{BASE}verify/confirm/",
        {"code": typed(coupon), "idempotency_key": uuid.uuid4().hex},
        format="json",
    )
    assert error(other_key) == (409, "coupon_already_used")
    assert error(api.post(f"{BASE}verify/confirm/", {"code": typed(coupon)}, format="json")) == (
        400,
        "invalid",
    )


def test_confirm_refusals(owner, other_owner, officer, customers, coupon):
    key = {"idempotency_key": uuid.uuid4().hex}
    other = api_for(other_owner).post(
        f"{BASE}verify/confirm/", {"code": typed(coupon), **key}, format="json"
    )
    assert error(other) == (403, "coupon_other_merchant")

    now = timezone.now()
    old = live_template(
        owner=owner, reviewer=officer, title="Old", claim_start=now - timedelta(days=20)
    )
    expired = claim(old, customers[1], now=now - timedelta(days=10))
    response = api_for(owner).post(
        f"{BASE}verify/confirm/",
        {"code": typed(expired), "idempotency_key": uuid.uuid4().hex},
        format="json",
    )
    assert error(response) == (409, "coupon_expired")

    today = timezone.localtime(now).weekday()
    closed = live_template(
        owner=owner, reviewer=officer, title="Not today", weekdays=127 & ~(1 << today)
    )
    not_today = claim(closed, customers[2])
    response = api_for(owner).post(
        f"{BASE}verify/confirm/",
        {"code": typed(not_today), "idempotency_key": uuid.uuid4().hex},
        format="json",
    )
    assert error(response) == (409, "coupon_not_usable")
    assert response.json()["extra"]["reason"] == "not_today"
    assert not Verification.objects.filter(coupon__in=[expired, not_today]).exists()


def verify(user, coupon) -> dict:
    response = api_for(user).post(
        f"{BASE}verify/confirm/",
        {"code": typed(coupon), "idempotency_key": uuid.uuid4().hex},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_owner_undoes_within_the_window_cashier_cannot(owner, cashier, coupon):
    verification = verify(cashier, coupon)
    path = f"{BASE}verifications/{verification['id']}/undo/"
    assert error(api_for(cashier).post(path, {"reason": "x"}, format="json")) == (
        403,
        "permission_denied",
    )
    assert error(api_for(owner).post(path, {"reason": ""}, format="json")) == (
        400,
        "reason_required",
    )
    response = api_for(owner).post(path, {"reason": "wrong coupon"}, format="json")
    assert response.status_code == 200
    assert response.json()["undo_reason"] == "wrong coupon" and response.json()["undone_at"]
    coupon.refresh_from_db()
    assert coupon.status == "issued"


def test_undo_after_the_window(owner, coupon, other_owner):
    verification = verify(owner, coupon)
    path = f"{BASE}verifications/{verification['id']}/undo/"
    assert error(api_for(other_owner).post(path, {"reason": "x"}, format="json")) == (
        404,
        "not_in_your_grid",
    )
    Verification.objects.filter(pk=verification["id"]).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )
    assert error(api_for(owner).post(path, {"reason": "late"}, format="json")) == (
        409,
        "undo_window_passed",
    )


def test_void_and_the_list_of_today(owner, cashier, other_owner, live, customers):
    first, second = claim(live, customers[0]), claim(live, customers[1])
    verify(cashier, first)
    path = f"{BASE}coupons/{second.pk}/void/"
    assert error(api_for(cashier).post(path, {"reason": "x"}, format="json")) == (
        403,
        "permission_denied",
    )
    assert error(api_for(other_owner).post(path, {"reason": "x"}, format="json")) == (
        404,
        "not_in_your_grid",
    )
    response = api_for(owner).post(path, {"reason": "lost phone"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "voided"
    listed = api_for(cashier).get(f"{BASE}verifications/").json()
    assert [v["coupon"]["code"] for v in listed] == [first.code]
    assert api_for(other_owner).get(f"{BASE}verifications/").json() == []


def test_the_schema_lists_the_merchant_endpoints(client, owner):
    client.force_login(owner)
    paths = client.get(reverse("api:schema"), HTTP_ACCEPT="application/json").json()["paths"]
    for path in (
        "/api/coupons/merchant/templates/",
        "/api/coupons/merchant/templates/{id}/{action}/",
        "/api/coupons/merchant/verify/confirm/",
        "/api/coupons/merchant/verifications/{id}/undo/",
    ):
        assert path in paths
    confirm = paths["/api/coupons/merchant/verify/confirm/"]["post"]["responses"]
    assert {"200", "201", "403", "409"} <= set(confirm)
