"""The merchant API: scope (404 across grids and merchants), status actions, visits, staff,
profile and change requests, with the exact error bodies."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from merchants.models import Merchant
from tests.merchants.factories import approved_merchant

BASE = "/api/merchants/"


def client_for(user):
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(user)
    return api


@pytest.fixture
def merchant(head_office, branch):
    return approved_merchant(reviewer=head_office)


@pytest.fixture
def owner(merchant):
    return merchant.staff.get().user


def test_branch_staff_read_their_grids_merchants_masked(merchant, officer, other_officer):
    body = client_for(officer).get(f"{BASE}{merchant.pk}/").json()
    assert body["code"] == merchant.code and body["settlement_account_number"] == "**** 0123"
    assert "6222021234567890123" not in str(body)
    assert body["contact_phone"] == "138****0001"
    response = client_for(other_officer).get(f"{BASE}{merchant.pk}/")
    assert (response.status_code, response.json()["code"]) == (404, "not_in_your_grid")
    assert client_for(other_officer).get(BASE).json()["results"] == []


def test_one_merchant_cannot_read_another(merchant, head_office, owner):
    theirs = approved_merchant(reviewer=head_office)
    api = client_for(owner)
    assert api.get(f"{BASE}{theirs.pk}/").status_code == 404
    assert [m["id"] for m in api.get(BASE).json()["results"]] == [merchant.pk]
    response = api.patch(f"{BASE}{theirs.pk}/profile/", {"description": "x"}, format="json")
    assert response.status_code == 404


def test_manager_suspends_officer_cannot(merchant, manager, officer, other_manager):
    response = client_for(officer).post(
        f"{BASE}{merchant.pk}/suspend/", {"reason": "x"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    response = client_for(other_manager).post(
        f"{BASE}{merchant.pk}/suspend/", {"reason": "x"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (404, "not_in_your_grid")
    response = client_for(manager).post(
        f"{BASE}{merchant.pk}/suspend/", {"reason": "late payments"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "suspended"
    response = client_for(manager).post(
        f"{BASE}{merchant.pk}/suspend/", {"reason": "again"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "invalid_transition")
    response = client_for(manager).post(
        f"{BASE}{merchant.pk}/reinstate/", {"reason": ""}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "reason_required")
    assert (
        client_for(manager)
        .post(f"{BASE}{merchant.pk}/reinstate/", {"reason": "paid"}, format="json")
        .status_code
        == 200
    )


def test_merchant_staff_cannot_call_status_actions(merchant, owner):
    response = client_for(owner).post(f"{BASE}{merchant.pk}/close/", {"reason": "x"}, format="json")
    assert response.status_code == 403
    assert Merchant.objects.get(pk=merchant.pk).status == "active"


def test_visits(merchant, officer, other_officer):
    today = timezone.localdate()
    payload = {
        "visited_on": today.isoformat(),
        "type": "visit",
        "outcome": "Installed the QR poster",
        "follow_up_on": (today + datetime.timedelta(days=14)).isoformat(),
    }
    response = client_for(officer).post(f"{BASE}{merchant.pk}/visits/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["type"] == "visit"
    assert len(client_for(officer).get(f"{BASE}{merchant.pk}/visits/").json()) == 1
    response = client_for(other_officer).post(
        f"{BASE}{merchant.pk}/visits/", payload, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (404, "not_in_your_grid")
    assert client_for(other_officer).get(f"{BASE}{merchant.pk}/visits/").status_code == 404


def test_staff_and_the_cashier_cannot_change_the_settlement_account(merchant, owner):
    response = client_for(owner).post(
        f"{BASE}staff/", {"phone": "139 0000 6666", "name": "Li"}, format="json"
    )
    assert response.status_code == 201 and response.json()["phone"] == "139****6666"
    cashier = User.objects.get(phone="+8613900006666")
    api = client_for(cashier)
    assert len(api.get(f"{BASE}staff/").json()) == 2
    response = api.post(
        f"{BASE}{merchant.pk}/change-requests/",
        {"settlement_account_number": "6222000011112222"},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    response = api.patch(
        f"{BASE}{merchant.pk}/profile/",
        {"settlement_account_number": "6222000011112222"},
        format="json",
    )
    assert response.status_code == 403
    response = api.post(f"{BASE}staff/", {"phone": "13900006667"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_profile_free_fields_and_reviewed_fields(merchant, owner, officer):
    api = client_for(owner)
    store = merchant.stores.get()
    response = api.patch(
        f"{BASE}{merchant.pk}/profile/",
        {"store_id": store.pk, "opening_hours": "7-23"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == "applied"
    response = api.patch(
        f"{BASE}{merchant.pk}/profile/",
        {"settlement_account_number": "6222000011112222"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "needs_review"
    assert response.json()["extra"] == {"fields": ["settlement_account_number"]}
    response = api.post(
        f"{BASE}{merchant.pk}/change-requests/",
        {"settlement_account_number": "6222000011112222"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["new"] == {
        "settlement_account_number": "**** 2222"
    }
    change_id = response.json()["id"]
    response = client_for(officer).post(
        f"{BASE}change-requests/{change_id}/decide/", {"approve": True}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert Merchant.objects.get(pk=merchant.pk).settlement_account_number == "6222000011112222"


def test_change_request_of_another_grid_is_404(merchant, owner, other_officer):
    response = client_for(owner).post(
        f"{BASE}{merchant.pk}/change-requests/", {"legal_representative": "Li"}, format="json"
    )
    change_id = response.json()["id"]
    response = client_for(other_officer).post(
        f"{BASE}change-requests/{change_id}/decide/", {"approve": True}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (404, "not_in_your_grid")
