"""Branch and grid API: scope, exact status codes and error codes, nearest-first paging."""

import pytest
from h3.api import basic_int as h3
from rest_framework.test import APIClient

from branches import geo, services
from tests.factories import BranchFactory


@pytest.fixture
def api():
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def as_user(api, user):
    api.force_authenticate(user)
    return api


# --- /api/branches/ ------------------------------------------------------------------------------


def test_head_office_lists_every_branch(api, head_office, branch, other_branch):
    response = as_user(api, head_office).get("/api/branches/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["next"] is None
    first = body["results"][0]
    assert first == {
        "id": branch.pk,
        "code": "HZ001",
        "name": "West Lake",
        "address": "1 Test Road",
        "lat": 30.259,
        "lng": 120.164,
        "is_active": True,
        "h3_cell": h3.int_to_str(branch.h3_cell),
    }
    assert isinstance(first["h3_cell"], str) and h3.str_to_int(first["h3_cell"]) == branch.h3_cell


def test_branch_staff_list_only_their_branch(api, officer, other_branch):
    body = as_user(api, officer).get("/api/branches/").json()
    assert [b["code"] for b in body["results"]] == ["HZ001"]


def test_branch_detail_in_and_out_of_scope(api, officer, branch, other_branch):
    as_user(api, officer)
    assert api.get(f"/api/branches/{branch.pk}/").json()["code"] == "HZ001"
    refused = api.get(f"/api/branches/{other_branch.pk}/")
    assert refused.status_code == 404
    assert refused.json()["code"] == "not_found"


def test_head_office_detail_of_any_branch_and_unknown_id(api, head_office, other_branch):
    as_user(api, head_office)
    assert api.get(f"/api/branches/{other_branch.pk}/").status_code == 200
    missing = api.get("/api/branches/999999/")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize("who", ["customer", "merchant_owner"])
@pytest.mark.parametrize("path", ["/api/branches/", "/api/branches/{pk}/"])
def test_branches_are_for_bank_staff_only(api, request, branch, who, path):
    response = as_user(api, request.getfixturevalue(who)).get(path.format(pk=branch.pk))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_anonymous_is_refused(api, branch):
    for path in ["/api/branches/", f"/api/branches/{branch.pk}/",
                 "/api/grid/owner/?lat=30.26&lng=120.16", "/api/grid/nearby/?lat=30.26&lng=120.16"]:
        response = api.get(path)
        assert response.status_code == 403, path
        assert response.json()["code"] == "not_authenticated"


def test_branch_list_is_paginated(api, head_office):
    for i in range(25):
        BranchFactory(code=f"P{i:03d}", lat=30 + i / 100, lng=120.0)
    as_user(api, head_office)
    body = api.get("/api/branches/").json()
    assert body["count"] == 25 and len(body["results"]) == 20 and body["next"]
    assert len(api.get("/api/branches/?page=2").json()["results"]) == 5


# --- /api/grid/owner/ ----------------------------------------------------------------------------


def test_owner_of_a_point_in_a_grid(api, customer, branch, other_branch):
    response = as_user(api, customer).get("/api/grid/owner/", {"lat": 30.2600, "lng": 120.1650})
    assert response.status_code == 200
    body = response.json()
    assert body["pool"] is False
    assert body["branch"]["code"] == "HZ001"
    expected = geo.distance_m(30.2600, 120.1650, branch.lat, branch.lng)
    assert body["distance_m"] == pytest.approx(expected, abs=0.01)


def test_owner_of_a_point_outside_every_grid_is_the_pool(api, customer, branch):
    body = as_user(api, customer).get("/api/grid/owner/", {"lat": 31.0, "lng": 121.0}).json()
    assert body == {"branch": None, "distance_m": None, "pool": True}


def test_closed_branch_owns_nothing(api, merchant_owner, branch):
    services.branch_set_active(actor=None, branch_id=branch.pk, active=False, reason="x")
    body = as_user(api, merchant_owner).get(
        "/api/grid/owner/", {"lat": 30.2600, "lng": 120.1650}
    ).json()
    assert body["pool"] is True and body["branch"] is None


@pytest.mark.parametrize("path", ["/api/grid/owner/", "/api/grid/nearby/"])
@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ({"lng": "120.16"}, {"lat"}),
        ({"lat": "30.26"}, {"lng"}),
        ({}, {"lat", "lng"}),
        ({"lat": "north", "lng": "120.16"}, {"lat"}),
        ({"lat": "30.26", "lng": "east"}, {"lng"}),
        ({"lat": "200", "lng": "120.16"}, {"lat"}),
        ({"lat": "30.26", "lng": "-180.5"}, {"lng"}),
        ({"lat": "nan", "lng": "inf"}, {"lat", "lng"}),
    ],
)
def test_bad_points_are_400_invalid_with_field_errors(api, customer, path, query, bad):
    response = as_user(api, customer).get(path, query)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["extra"]["fields"]) == bad


# --- /api/grid/nearby/ ---------------------------------------------------------------------------


def test_nearby_lists_open_branches_within_3_km_nearest_first(api, customer, branch, other_branch):
    far = BranchFactory(code="FAR1", lat=31.0, lng=121.0)
    closed = BranchFactory(code="SHUT", lat=30.2530, lng=120.1850)
    services.branch_set_active(actor=None, branch_id=closed.pk, active=False, reason="x")
    point = {"lat": 30.2520, "lng": 120.1900}  # ~1.9 km from HZ001, ~2.0 km from HZ002
    body = as_user(api, customer).get("/api/grid/nearby/", point).json()
    codes = [b["code"] for b in body["results"]]
    assert body["count"] == 2 and body["next"] is None and body["previous"] is None
    distances = [b["distance_m"] for b in body["results"]]
    assert distances == sorted(distances) and all(d <= 3000 for d in distances)
    assert set(codes) == {"HZ001", "HZ002"} and far.code not in codes
    for row in body["results"]:
        assert isinstance(row["h3_cell"], str)


def test_nearby_pages_twenty_at_a_time(api, customer):
    # 25 branches on a line going east, 100 m apart: nearest first is west to east.
    for i in range(25):
        lat, lng = geo.destination(30.25, 120.16, 90, 100 * (i + 1))
        BranchFactory(code=f"N{i:03d}", lat=lat, lng=lng)
    as_user(api, customer)
    first = api.get("/api/grid/nearby/", {"lat": 30.25, "lng": 120.16}).json()
    assert first["count"] == 25
    assert [b["code"] for b in first["results"]] == [f"N{i:03d}" for i in range(20)]
    assert first["previous"] is None and "page=2" in first["next"]
    second = api.get(first["next"]).json()
    assert [b["code"] for b in second["results"]] == [f"N{i:03d}" for i in range(20, 25)]
    assert second["next"] is None and "page" not in second["previous"]
    beyond = api.get("/api/grid/nearby/", {"lat": 30.25, "lng": 120.16, "page": 3})
    assert (beyond.status_code, beyond.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize("page", ["0", "-1", "two"])
def test_nearby_bad_page_is_invalid(api, customer, page):
    response = as_user(api, customer).get(
        "/api/grid/nearby/", {"lat": 30.25, "lng": 120.16, "page": page}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["extra"]["fields"]) == {"page"}


def test_nearby_with_nothing_around_is_an_empty_first_page(api, customer):
    body = as_user(api, customer).get("/api/grid/nearby/", {"lat": 45.0, "lng": 90.0}).json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


# --- Schema ------------------------------------------------------------------------------------


def test_schema_documents_the_query_parameters(api, head_office):
    response = as_user(api, head_office).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    owner = {p["name"]: p for p in paths["/api/grid/owner/"]["get"]["parameters"]}
    nearby = {p["name"] for p in paths["/api/grid/nearby/"]["get"]["parameters"]}
    assert {"lat", "lng"} <= set(owner) and owner["lat"]["required"] is True
    assert {"lat", "lng", "page"} <= nearby
    assert "/api/branches/{id}/" in paths
    assert "400" in paths["/api/grid/owner/"]["get"]["responses"]
