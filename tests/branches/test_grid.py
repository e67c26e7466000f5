"""Grid ownership and radius queries: edges, overlaps, the pool, and properties over China."""

import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from branches import geo
from branches.models import Branch
from branches.selectors import branch_owning, count_within, nearest_within, within
from branches.services import branch_set_active
from tests.factories import BranchFactory
from tests.gridplaces.models import Place

CENTRE = (30.2590, 120.1640)  # Hangzhou, West Lake

mainland_lat = st.floats(min_value=18.2, max_value=53.5)
mainland_lng = st.floats(min_value=73.6, max_value=134.7)


def make_places(points):
    places = []
    for i, (lat, lng) in enumerate(points):
        p = Place(name=f"p{i}")
        p.set_location(lat=lat, lng=lng)
        places.append(p)
    return Place.objects.bulk_create(places)


@pytest.mark.parametrize("bearing", [0, 45, 90, 135, 180, 225, 270, 315])
def test_edges_2999_in_3001_out(db, bearing):
    branch = BranchFactory(lat=CENTRE[0], lng=CENTRE[1])
    inside = geo.destination(*CENTRE, bearing, 2999)
    outside = geo.destination(*CENTRE, bearing, 3001)

    owner = branch_owning(lat=inside[0], lng=inside[1])
    assert owner.branch == branch
    assert owner.distance_m == pytest.approx(2999, abs=0.01)
    assert branch_owning(lat=outside[0], lng=outside[1]).in_pool


def test_two_overlapping_circles_the_nearer_wins(db):
    west = BranchFactory(lat=30.2590, lng=120.1640)
    east_lat, east_lng = geo.destination(30.2590, 120.1640, 90, 2000)
    east = BranchFactory(lat=east_lat, lng=east_lng)
    # 800 m east of the west branch: 800 m from it, 1,200 m from the east one.
    p = geo.destination(30.2590, 120.1640, 90, 800)
    assert branch_owning(lat=p[0], lng=p[1]).branch == west
    q = geo.destination(30.2590, 120.1640, 90, 1200)
    assert branch_owning(lat=q[0], lng=q[1]).branch == east


def test_equal_distance_goes_to_the_lower_id(db):
    first = BranchFactory(lat=30.0, lng=120.0)
    second = BranchFactory(lat=30.0, lng=120.03125)
    # On the meridian halfway between them (binary-exact degrees) the distances are equal.
    mid = (30.0, 120.015625)
    assert geo.distance_m(*mid, 30.0, 120.0) == geo.distance_m(*mid, 30.0, 120.03125)
    assert branch_owning(lat=mid[0], lng=mid[1]).branch == first
    assert first.pk < second.pk


def test_outside_every_circle_is_the_pool(db):
    BranchFactory(lat=30.2590, lng=120.1640)
    far = geo.destination(30.2590, 120.1640, 0, 50_000)
    owner = branch_owning(lat=far[0], lng=far[1])
    assert owner.in_pool and owner.branch is None and owner.distance_m is None


def test_a_closed_branch_owns_nothing(db):
    branch = BranchFactory(lat=30.2590, lng=120.1640)
    branch_set_active(actor=None, branch_id=branch.pk, active=False, reason="merged")
    assert branch_owning(lat=30.2591, lng=120.1641).in_pool


def test_count_and_nearest_pages(db):
    points = [geo.destination(*CENTRE, (i * 37) % 360, 100 + i * 60) for i in range(60)]
    make_places(points)
    # 100 + i*60 <= 3000  <=>  i <= 48
    assert count_within(Place.objects.all(), lat=CENTRE[0], lng=CENTRE[1]) == 49
    first = nearest_within(Place.objects.all(), lat=CENTRE[0], lng=CENTRE[1], limit=20)
    second = nearest_within(Place.objects.all(), lat=CENTRE[0], lng=CENTRE[1], limit=20, offset=20)
    third = nearest_within(Place.objects.all(), lat=CENTRE[0], lng=CENTRE[1], limit=20, offset=40)
    names = [p.name for p in first + second + third]
    assert names == [f"p{i}" for i in range(49)]
    distances = [p.distance_m for p in first + second + third]
    assert distances == sorted(distances) and distances[-1] <= 3000


def test_queries_go_through_the_h3_index(db):
    make_places([geo.destination(*CENTRE, b, 500) for b in range(0, 360, 30)])
    with CaptureQueriesContext(connection) as ctx:
        count_within(Place.objects.all(), lat=CENTRE[0], lng=CENTRE[1])
        nearest_within(Place.objects.all(), lat=CENTRE[0], lng=CENTRE[1], limit=5)
        branch_owning(lat=CENTRE[0], lng=CENTRE[1])
    assert ctx.captured_queries
    for query in ctx.captured_queries:
        assert '"h3_cell" BETWEEN' in query["sql"], query["sql"]


@pytest.mark.postgres
def test_postgresql_plans_use_the_h3_btree(db):
    make_places([geo.destination(*CENTRE, b, d) for b in range(0, 360, 3) for d in (50, 900, 2500)])
    qs = within(Place.objects.all(), lat=CENTRE[0], lng=CENTRE[1])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny table: make the planner show its choice
        plan = qs.explain()
    assert "h3_cell" in plan and "Seq Scan" not in plan, plan


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lat=mainland_lat,
    lng=mainland_lng,
    offsets=st.lists(
        st.tuples(st.floats(0, 360), st.floats(0, 8000)), min_size=1, max_size=8
    ),
    probes=st.lists(st.tuples(st.floats(0, 360), st.floats(0, 9000)), min_size=1, max_size=10),
)
def test_owner_matches_brute_force_anywhere_in_china(db, lat, lng, offsets, probes):
    """Branches scattered round a random point in mainland China; the grid's answer equals the
    brute force over every branch with the exact distance."""
    branches = [
        BranchFactory(lat=b_lat, lng=b_lng)
        for b_lat, b_lng in (geo.destination(lat, lng, bearing, d) for bearing, d in offsets)
    ]
    for bearing, d in probes:
        p_lat, p_lng = geo.destination(lat, lng, bearing, d)
        distances = sorted((geo.distance_m(p_lat, p_lng, b.lat, b.lng), b.pk) for b in branches)
        # Keep clear of the rim by a millimetre so float rounding in SQL cannot flip a case.
        assume(all(abs(dist - 3000) > 1e-3 for dist, _ in distances))
        assume(len(distances) < 2 or distances[1][0] - distances[0][0] > 1e-6)  # no near-tie
        expected = next((pk for dist, pk in distances if dist <= 3000), None)
        mine = Branch.objects.filter(pk__in=[b.pk for b in branches])
        owner = branch_owning(lat=p_lat, lng=p_lng, branches=mine)
        assert (owner.branch.pk if owner.branch else None) == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lat=mainland_lat,
    lng=mainland_lng,
    points=st.lists(st.tuples(st.floats(0, 360), st.floats(0, 3600)), min_size=0, max_size=40),
    limit=st.integers(1, 25),
)
def test_count_and_nearest_match_brute_force(db, lat, lng, points, limit):
    Place.objects.all().delete()
    located = [geo.destination(lat, lng, bearing, d) for bearing, d in points]
    places = make_places(located)
    exact = sorted(
        (geo.distance_m(lat, lng, p.lat, p.lng), p.pk) for p in places
    )
    assume(all(abs(d - 3000) > 1e-3 for d, _ in exact))
    # Two points at the same distance to a nanometre may order either way between Python's and
    # the database's floating point: keep the ordering question unambiguous.
    assume(all(b[0] - a[0] > 1e-6 for a, b in zip(exact, exact[1:], strict=False)))
    expected = [pk for d, pk in exact if d <= 3000]

    assert count_within(Place.objects.all(), lat=lat, lng=lng) == len(expected)
    got = nearest_within(Place.objects.all(), lat=lat, lng=lng, limit=limit)
    assert [p.pk for p in got] == expected[:limit]
    for p in got:
        assert math.isclose(p.distance_m, geo.distance_m(lat, lng, p.lat, p.lng), abs_tol=1e-3)
