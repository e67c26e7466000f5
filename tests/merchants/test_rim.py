"""A store exactly on the rim of two circles: the grid rule decides who reviews it.

Nearest branch whose 3 km circle (inclusive) holds the store; equal distances go to the lower
branch id; outside every circle, head office (the pool).
"""

import math

import pytest

from alliance.errors import ApplicationError
from branches import geo
from merchants import selectors, services
from tests.factories import BranchFactory, UserFactory
from tests.merchants.factories import fee_plan, submitted_application

RADIUS = 3000.0
# Two branches symmetric about the meridian 120.015625 (binary-exact degrees), so a point on
# that meridian is at exactly the same computed distance from both.
WEST = (30.0, 120.0)
EAST = (30.0, 120.03125)
MERIDIAN = 120.015625


def rim_latitude() -> float:
    """The northernmost latitude on the meridian still within 3,000 m of both branches: the
    point where the two rims cross, to the last bit of the float."""
    # Start from geo.destination: 3,000 m from the west branch, towards the crossing.
    half = geo.distance_m(*WEST, 30.0, MERIDIAN)
    bearing = math.degrees(math.asin(half / RADIUS))
    lo = 30.0
    hi = geo.destination(*WEST, bearing, RADIUS)[0] + 0.001
    while True:
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            return lo
        if geo.distance_m(mid, MERIDIAN, *WEST) <= RADIUS:
            lo = mid
        else:
            hi = mid


@pytest.fixture
def west_and_east(db):
    west = BranchFactory(lat=WEST[0], lng=WEST[1])
    east = BranchFactory(lat=EAST[0], lng=EAST[1])
    assert west.pk < east.pk
    return west, east


def officer_of(branch):
    return UserFactory(role="branch_officer", branch=branch)


def code_of(call):
    with pytest.raises(ApplicationError) as exc:
        call()
    return exc.value.code


def test_on_both_rims_the_lower_id_reviews(west_and_east):
    west, east = west_and_east
    point = (rim_latitude(), MERIDIAN)
    d_west, d_east = geo.distance_m(*point, *WEST), geo.distance_m(*point, *EAST)
    assert d_west == d_east and RADIUS - 1e-6 < d_west <= RADIUS  # on both rims, a tie
    app = submitted_application(location=point)
    assert app.branch_id == west.pk
    east_officer, west_officer = officer_of(east), officer_of(west)
    assert list(selectors.review_queue(west_officer)) == [app]
    assert list(selectors.review_queue(east_officer)) == []
    assert (
        code_of(
            lambda: services.application_reject(
                actor=east_officer, application_id=app.pk, reason="r"
            )
        )
        == "not_in_your_grid"
    )
    merchant = services.application_approve(
        actor=west_officer, application_id=app.pk, fee_plan_id=fee_plan().pk
    )
    assert merchant.stores.get().branch == west


def test_a_hair_beyond_both_rims_is_head_offices(west_and_east, head_office):
    west, _ = west_and_east
    outside = math.nextafter(rim_latitude(), 90.0)
    assert geo.distance_m(outside, MERIDIAN, *WEST) > RADIUS
    app = submitted_application(location=(outside, MERIDIAN))
    assert app.branch_id is None
    assert (
        code_of(
            lambda: services.application_reject(
                actor=officer_of(west), application_id=app.pk, reason="r"
            )
        )
        == "not_in_your_grid"
    )
    assert list(selectors.review_queue(head_office)) == [app]


def test_on_one_rim_the_nearer_branch_reviews(db):
    """3,000 m from branch A (its rim) and 2,000 m from branch B: B is nearer and reviews."""
    a = BranchFactory(lat=30.1, lng=120.1)
    b_lat, b_lng = geo.destination(30.1, 120.1, 90, 1000)
    b = BranchFactory(lat=b_lat, lng=b_lng)
    point = geo.destination(30.1, 120.1, 90, RADIUS)
    assert geo.distance_m(*point, 30.1, 120.1) == pytest.approx(RADIUS, abs=1e-6)
    app = submitted_application(location=point)
    assert app.branch_id == b.pk
    assert (
        code_of(
            lambda: services.application_return(
                actor=officer_of(a), application_id=app.pk, comments="c"
            )
        )
        == "not_in_your_grid"
    )
    services.application_return(actor=officer_of(b), application_id=app.pk, comments="c")
