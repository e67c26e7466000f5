"""The points API: balance and history for customers, adjustments and any history for head
office; exact status codes and error codes, including every refusal."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from points import services
from points.models import JournalEntry, Tier
from points.selectors import customer_balance, points_summary

from .conftest import sh
from .factories import earn, earn_available, key, spend

BALANCE = reverse("api:points:balance")
HISTORY = reverse("api:points:history")
ADJUST = reverse("api:points:adjustments")
pytestmark = pytest.mark.django_db


def customer_history_url(customer_id: int) -> str:
    return reverse("api:points:customer_history", args=[customer_id])


def adjust(client, body: dict, key_: str | None = "retry-key-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key_} if key_ is not None else {}
    return client.post(ADJUST, body, content_type="application/json", **headers)


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == code, body
    return body


# --- Balance -------------------------------------------------------------------------------------


def test_balance(client, customer, head_office):
    Tier.objects.create(code="normal", name="Normal", threshold_fen=0)
    Tier.objects.create(code="silver", name="Silver", threshold_fen=500_000, multiplier_percent=120)
    now = timezone.now()
    services.points_adjust(actor=head_office, customer_id=customer.pk, points=200,
                           reason="welcome", idempotency_key=key(), now=now)
    earn(customer, 25, now=now)
    services.tier_record_spending(customer_id=customer.pk, amount_fen=100_000,
                                  idempotency_key=key(), now=now)
    client.force_login(customer)
    response = client.get(BALANCE)
    assert response.status_code == 200
    body = response.json()
    assert body["usable"] == 200 and body["pending"] == 25
    assert body["expiring_soon_days"] == 30
    assert body["tier"] == {"code": "normal", "name": "Normal", "threshold_fen": 0,
                            "multiplier_percent": 100}
    assert body["progress"] == {
        "spending_fen": 100_000, "remaining_fen": 400_000, "percent": 20,
        "next_tier": {"code": "silver", "name": "Silver", "threshold_fen": 500_000,
                      "multiplier_percent": 120},
    }


def test_expiring_soon_lists_each_expiry_within_thirty_days(customer):
    """A fixed clock: lots of 2026-01 and 2026-02 expire 2027-02-01 and 2027-03-01."""
    earn_available(customer, 40, now=sh(2026, 1, 10))
    earn_available(customer, 15, now=sh(2026, 1, 20))
    earn_available(customer, 60, now=sh(2026, 2, 10))
    summary = points_summary(customer_id=customer.pk, now=sh(2027, 1, 5))
    assert [(e.expires_at, e.points) for e in summary.expiring] == [(sh(2027, 2, 1), 55)]
    summary = points_summary(customer_id=customer.pk, now=sh(2027, 2, 1))  # the first lots are dead
    assert [(e.expires_at, e.points) for e in summary.expiring] == [(sh(2027, 3, 1), 60)]
    assert summary.usable == 60
    spend(customer, 10, now=sh(2027, 2, 2))
    assert points_summary(customer_id=customer.pk, now=sh(2027, 2, 2)).expiring_points == 50


def test_balance_of_a_new_customer_is_zero_and_has_no_tier(client, customer):
    client.force_login(customer)
    body = client.get(BALANCE).json()
    assert body == {"usable": 0, "pending": 0, "expiring_soon": [], "expiring_soon_points": 0,
                    "expiring_soon_days": 30, "tier": None,
                    "progress": {"spending_fen": 0, "next_tier": None, "remaining_fen": 0,
                                 "percent": 100}}


@pytest.mark.parametrize("who", ["merchant_owner", "officer", "head_office"])
def test_balance_and_history_are_for_customers_only(client, who, request):
    client.force_login(request.getfixturevalue(who))
    assert_error(client.get(BALANCE), 403, "permission_denied")
    assert_error(client.get(HISTORY), 403, "permission_denied")


def test_anonymous_is_not_authenticated(client):
    assert client.get(BALANCE).status_code in (401, 403)
    assert client.get(BALANCE).json()["code"] == "not_authenticated"


# --- History -------------------------------------------------------------------------------------


def test_history_rows_and_pages(client, customer, head_office):
    earn_available(customer, 100, now=sh(2026, 3, 1, 9, 30), reference_id=7781)
    spend(customer, 30, now=sh(2026, 3, 20, 23, 45))
    for n in range(20):
        services.points_adjust(actor=head_office, customer_id=customer.pk, points=1,
                               reason=f"gift {n}", idempotency_key=key(), now=sh(2026, 4, 1))
    client.force_login(customer)
    first = client.get(HISTORY, HTTP_ACCEPT_LANGUAGE="en").json()
    assert first["count"] == 23 and len(first["results"]) == 20 and first["next"]
    second = client.get(first["next"], HTTP_ACCEPT_LANGUAGE="en").json()
    spend_row, release_row, earn_row = second["results"]
    assert spend_row["kind"] == "spend" and spend_row["points"] == -30
    assert spend_row["pending_points"] == 0 and spend_row["description"] == "Used to pay"
    assert spend_row["posted_at"] == "2026-03-20T23:45:00+08:00"
    assert release_row["kind"] == "make_available"
    assert (release_row["points"], release_row["pending_points"]) == (100, -100)
    assert earn_row["kind_label"] == "Earned"
    assert (earn_row["points"], earn_row["pending_points"]) == (0, 100)
    assert earn_row["reference_type"] == "payment" and earn_row["reference_id"] == 7781
    assert earn_row["reference_label"] == "Payment no. 7781"
    assert first["results"][0]["description"] == "Adjusted by the bank: gift 19"
    assert_error(client.get(HISTORY, {"page": 9}), 404, "not_found")


def test_a_spend_over_several_lots_is_one_row(client, customer):
    for month in (1, 2, 3):
        earn_available(customer, 10, now=sh(2026, month, 5))
    spend(customer, 25, now=sh(2026, 4, 1))
    client.force_login(customer)
    rows = client.get(HISTORY).json()["results"]
    assert [r["points"] for r in rows if r["kind"] == "spend"] == [-25]


def test_customers_see_only_their_own_history(client, customer, head_office):
    other = type(customer).objects.create_user("+8613900009999", role="customer")
    services.points_adjust(actor=head_office, customer_id=other.pk, points=9, reason="x",
                           idempotency_key=key())
    client.force_login(customer)
    assert client.get(HISTORY).json()["count"] == 0
    assert_error(client.get(customer_history_url(other.pk)), 403, "permission_denied")


# --- Any customer's history: head office only ----------------------------------------------------


def test_head_office_sees_any_customers_history(client, head_office, customer):
    services.points_adjust(actor=head_office, customer_id=customer.pk, points=9, reason="x",
                           idempotency_key=key())
    client.force_login(head_office)
    body = client.get(customer_history_url(customer.pk)).json()
    assert body["count"] == 1 and body["results"][0]["points"] == 9


def test_head_office_asking_for_a_non_customer_gets_404(client, head_office, merchant_owner):
    client.force_login(head_office)
    assert_error(client.get(customer_history_url(merchant_owner.pk)), 404, "customer_not_found")
    assert_error(client.get(customer_history_url(999_999)), 404, "customer_not_found")


@pytest.mark.parametrize("who", ["officer", "manager", "merchant_owner"])
def test_branch_staff_and_merchants_cannot_see_a_customers_history(client, who, request, customer):
    client.force_login(request.getfixturevalue(who))
    assert_error(client.get(customer_history_url(customer.pk)), 403, "permission_denied")


# --- Adjustments ---------------------------------------------------------------------------------


def test_adjustment_by_phone_then_a_retry_gives_the_same_entry(client, head_office, customer):
    client.force_login(head_office)
    body = {"phone": customer.phone[3:], "points": 120, "reason": "Compensation"}
    first = adjust(client, body)
    assert first.status_code == 201, first.content
    assert first.json()["points"] == 120 and first.json()["customer_id"] == customer.pk
    assert first.json()["usable"] == 120 and first.json()["reason"] == "Compensation"
    again = adjust(client, body)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert JournalEntry.objects.filter(kind="adjust").count() == 1
    assert customer_balance(customer_id=customer.pk) == (120, 0)


def test_adjustment_by_customer_id_negative(client, head_office, customer):
    earn_available(customer, 50, now=timezone.now() - timedelta(days=10))
    client.force_login(head_office)
    response = adjust(client, {"customer_id": customer.pk, "points": -20, "reason": "clawback"})
    assert response.status_code == 201
    assert response.json()["points"] == -20 and response.json()["usable"] == 30


def test_the_same_key_for_a_different_adjustment_is_refused(client, head_office, customer):
    client.force_login(head_office)
    assert adjust(client, {"customer_id": customer.pk, "points": 5, "reason": "a"}).status_code == 201
    assert_error(adjust(client, {"customer_id": customer.pk, "points": 6, "reason": "a"}),
                 400, "idempotency_key_reused")
    assert JournalEntry.objects.filter(kind="adjust").count() == 1


def test_keys_are_per_operator(client, head_office, customer):
    from tests.factories import UserFactory

    client.force_login(head_office)
    assert adjust(client, {"customer_id": customer.pk, "points": 5, "reason": "a"}).status_code == 201
    client.force_login(UserFactory(role="head_office", username="ho-2"))
    assert adjust(client, {"customer_id": customer.pk, "points": 5, "reason": "a"}).status_code == 201
    assert customer_balance(customer_id=customer.pk) == (10, 0)


def test_adjustment_needs_an_idempotency_key(client, head_office, customer):
    client.force_login(head_office)
    body = {"customer_id": customer.pk, "points": 5, "reason": "a"}
    assert_error(adjust(client, body, key_=None), 400, "idempotency_key_required")
    assert_error(adjust(client, body, key_="  "), 400, "idempotency_key_required")
    assert_error(adjust(client, body, key_="x" * 65), 400, "invalid")
    assert not JournalEntry.objects.exists()


def test_overdrawing_adjustment_is_points_insufficient(client, head_office, customer):
    earn_available(customer, 10, now=timezone.now() - timedelta(days=10))
    client.force_login(head_office)
    body = assert_error(adjust(client, {"customer_id": customer.pk, "points": -11, "reason": "x"}),
                        400, "points_insufficient")
    assert body["extra"] == {"available": 10, "requested": 11}
    assert customer_balance(customer_id=customer.pk) == (10, 0)


@pytest.mark.parametrize("body, name_the_customer, code", [
    ({"points": 5, "reason": "a"}, False, "invalid"),  # nobody named
    ({"customer_id": 1, "phone": "13800000000", "points": 5, "reason": "a"}, False, "invalid"),
    ({"points": 0, "reason": "a"}, True, "invalid"),
    ({"points": "ten", "reason": "a"}, True, "invalid"),
    ({"points": 5, "reason": "  "}, True, "reason_required"),
    ({"points": 5}, True, "reason_required"),
])
def test_adjustment_input_is_checked(client, head_office, customer, body, name_the_customer, code):
    client.force_login(head_office)
    if name_the_customer:
        body = {**body, "customer_id": customer.pk}
    assert_error(adjust(client, body), 400, code)
    assert not JournalEntry.objects.exists()


def test_adjustment_for_an_unknown_or_invalid_number(client, head_office, merchant_owner):
    client.force_login(head_office)
    assert_error(adjust(client, {"phone": "12", "points": 5, "reason": "a"}), 400, "invalid_phone")
    assert_error(adjust(client, {"phone": "13700000000", "points": 5, "reason": "a"}),
                 404, "customer_not_found")
    assert_error(adjust(client, {"customer_id": merchant_owner.pk, "points": 5, "reason": "a"}),
                 404, "customer_not_found")


@pytest.mark.parametrize("who", ["customer", "officer", "manager", "merchant_owner"])
def test_only_head_office_adjusts(client, who, request, customer):
    client.force_login(request.getfixturevalue(who))
    assert_error(adjust(client, {"customer_id": customer.pk, "points": 5, "reason": "a"}),
                 403, "permission_denied")
    assert not JournalEntry.objects.exists()


def test_the_points_api_is_in_the_openapi_schema(client, customer):
    client.force_login(customer)
    schema = client.get(reverse("api:schema"), HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path in ("/api/points/balance/", "/api/points/history/", "/api/points/adjustments/",
                 "/api/points/accounts/{customer_id}/history/"):
        assert path in paths, path
    post = paths["/api/points/adjustments/"]["post"]
    assert {"201", "200", "400", "403", "404"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" and p["required"]
               for p in post["parameters"])
    assert "AdjustmentInputRequest" in schema["components"]["schemas"]
    assert "BalanceOutput" in schema["components"]["schemas"]
    history = paths["/api/points/history/"]["get"]["responses"]["200"]
    assert "PaginatedHistoryRowOutputList" in str(history)
