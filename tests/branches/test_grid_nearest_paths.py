"""nearest_within's two ways (one statement on PostgreSQL, disk by disk elsewhere) and the
geometry under them: the same exact rows, whichever way and whatever the queryset."""

import math

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from branches import geo, selectors
from branches.selectors import nearest_within
from tests.gridplaces.models import Place

from .test_grid import mainland_lat, mainland_lng, make_places

CENTRE = (30.2590, 120.1640)  # Hangzhou, West Lake

# Distances spread over orders of magnitude, so that every disk of the ladder gets to decide.
distance_m = st.one_of(st.floats(0, 60), st.floats(0, 400), st.floats(0, 1500), st.floats(0, 3600))


def as_pairs(rows):
    return [(row.pk, row.distance_m) for row in rows]


def brute_force(places, lat, lng, radius=3000.0):
    exact = sorted((geo.distance_m(lat, lng, p.lat, p.lng), p.pk) for p in places)
    return exact, [pk for d, pk in exact if d <= radius]


@pytest.mark.postgres
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lat=mainland_lat,
    lng=mainland_lng,
    points=st.lists(st.tuples(st.floats(0, 360), distance_m), min_size=0, max_size=80),
    need=st.integers(1, 30),
)
def test_one_statement_equals_disk_by_disk_and_brute_force(db, lat, lng, points, need):
    Place.objects.all().delete()
    places = make_places([geo.destination(lat, lng, bearing, d) for bearing, d in points])
    exact, expected = brute_force(places, lat, lng)
    assume(all(abs(d - 3000) > 1e-3 for d, _ in exact))
    assume(all(b[0] - a[0] > 1e-6 for a, b in zip(exact, exact[1:], strict=False)))

    qs = Place.objects.all()
    one = selectors._nearest_in_one_query(qs, lat, lng, 3000.0, need)
    by_disk = selectors._nearest_disk_by_disk(qs, lat, lng, 3000.0, need)
    # The very same rows and the very same distances (the same SQL expression computes them).
    assert as_pairs(one) == as_pairs(by_disk)
    assert [p.pk for p in one] == expected[:need]
    for p in one:
        assert math.isclose(p.distance_m, geo.distance_m(lat, lng, p.lat, p.lng), abs_tol=1e-3)


@pytest.mark.postgres
def test_one_statement_on_filtered_deferred_and_subquery_querysets(db):
    # Two points at each distance: ties are broken by primary key on both ways.
    located = []
    for i in range(150):
        p = geo.destination(*CENTRE, (i * 47) % 360, 5 + (i * 19.7) % 3200)
        located += [p, p]
    make_places(located)
    querysets = [
        Place.objects.all(),
        Place.objects.filter(name__endswith="1"),
        Place.objects.exclude(name__endswith="3").only("pk"),
        Place.objects.filter(
            Exists(Place.objects.filter(pk=OuterRef("pk"), name__startswith="p1"))
        ).defer("name"),
        Place.objects.order_by("-name"),  # the caller's ordering gives way to the distance
        Place.objects.exclude(branch__is_active=False),  # a join
    ]
    for qs in querysets:
        for need in (1, 7, 20, 45, 400):
            one = selectors._nearest_in_one_query(qs, *CENTRE, 3000.0, need)
            by_disk = selectors._nearest_disk_by_disk(qs, *CENTRE, 3000.0, need)
            assert as_pairs(one) == as_pairs(by_disk), (qs.query, need)
            assert [type(p) for p in one] == [Place] * len(one)
    deferred = selectors._nearest_in_one_query(Place.objects.only("pk"), *CENTRE, 3000.0, 3)
    assert deferred[0].get_deferred_fields() >= {"name", "lat", "lng"}
    assert deferred[0].name.startswith("p")  # loaded on access, as the ORM would


@pytest.mark.postgres
def test_plain_querysets_take_one_round_trip_and_others_still_answer(db):
    make_places(
        [geo.destination(*CENTRE, b, d) for b in range(0, 360, 20) for d in (30, 700, 2500)]
    )
    with CaptureQueriesContext(connection) as ctx:
        rows = nearest_within(
            Place.objects.filter(name__startswith="p"), lat=CENTRE[0], lng=CENTRE[1]
        )
    assert len(ctx.captured_queries) == 1
    assert '"h3_cell" BETWEEN' in ctx.captured_queries[0]["sql"]
    assert len(rows) == 20

    # A queryset that brings related rows along goes disk by disk, with the same answer.
    expected = as_pairs(rows)
    with CaptureQueriesContext(connection) as ctx:
        related = nearest_within(
            Place.objects.filter(name__startswith="p").select_related("branch"),
            lat=CENTRE[0],
            lng=CENTRE[1],
        )
    assert len(ctx.captured_queries) > 1
    assert as_pairs(related) == expected


def test_pages_agree_with_one_long_page(db):
    make_places([geo.destination(*CENTRE, (i * 37) % 360, 3 + i * 11) for i in range(300)])
    whole = as_pairs(nearest_within(Place.objects.all(), lat=CENTRE[0], lng=CENTRE[1], limit=120))
    pages = []
    for page in range(6):
        pages += as_pairs(
            nearest_within(
                Place.objects.all(), lat=CENTRE[0], lng=CENTRE[1], limit=20, offset=20 * page
            )
        )
    assert pages == whole
    assert [pk for pk, _ in whole] == brute_force(Place.objects.all(), *CENTRE)[1][:120]


@settings(max_examples=60, deadline=None)
@given(
    lat=mainland_lat,
    lng=mainland_lng,
    level=st.sampled_from(selectors._LADDER),
    bearing=st.floats(0, 360),
    beyond=st.floats(0, 1.5),
)
def test_a_quick_disk_holds_every_point_nearer_than_its_clear_distance(
    lat, lng, level, bearing, beyond
):
    res, k = level
    disk = geo.disk_quick(lat, lng, res, k)
    assert disk.clear_m > 0
    p = geo.destination(lat, lng, bearing, disk.clear_m * beyond)
    leaf = geo.leaf_cell(*p)
    inside = any(lo <= leaf <= hi for lo, hi in disk.ranges)
    if geo.distance_m(lat, lng, *p) <= disk.clear_m:
        assert inside
    # Never tighter than the exact bound of disk_at.
    assert disk.clear_m <= geo.disk_at(lat, lng, res, k).clear_m + 1e-6


@settings(max_examples=60, deadline=None)
@given(
    lat=mainland_lat,
    lng=mainland_lng,
    radius=st.sampled_from([100.0, 800.0, 3000.0]),
    bearing=st.floats(0, 360),
    share=st.floats(0, 1),
)
def test_circle_cells_hold_every_point_of_the_circle(lat, lng, radius, bearing, share):
    ranges = geo.circle_cells(lat, lng, radius, geo.query_res(radius * 3))
    p = geo.destination(lat, lng, bearing, radius * share)
    leaf = geo.leaf_cell(*p)
    assert any(lo <= leaf <= hi for lo, hi in ranges)


@pytest.mark.postgres
def test_whole_table_statement_is_built_once_and_filtered_ones_every_time(db):
    make_places([geo.destination(*CENTRE, (i * 37) % 360, 20 + i * 13) for i in range(60)])
    selectors._statements.clear()
    whole = selectors._statement(Place.objects.all())
    # Ordering gives way to the distance: the same statement.
    assert selectors._statement(Place.objects.order_by("-name")) is whole
    # Deferred fields change the columns read: a statement of their own.
    deferred = selectors._statement(Place.objects.only("pk"))
    assert deferred is not whole
    assert selectors._statement(Place.objects.only("pk")) is deferred
    # A filter's values are the statement's parameters: never taken from another query.
    assert selectors._statement(Place.objects.filter(name="p3")) is not selectors._statement(
        Place.objects.filter(name="p3")
    )
    for name in ("p3", "p7"):
        rows = nearest_within(Place.objects.filter(name=name), lat=CENTRE[0], lng=CENTRE[1])
        assert [p.name for p in rows] == [name]
    # The point is a parameter too: the cached statement answers for any point.
    for bearing in (0, 120, 240):
        lat, lng = geo.destination(*CENTRE, bearing, 400)
        got = as_pairs(nearest_within(Place.objects.all(), lat=lat, lng=lng, limit=7))
        by_disk = selectors._nearest_disk_by_disk(Place.objects.all(), lat, lng, 3000.0, 7)
        assert got == as_pairs(by_disk)


@settings(max_examples=60, deadline=None)
@given(
    lat=mainland_lat,
    lng=mainland_lng,
    radius=st.sampled_from([100.0, 800.0, 3000.0]),
    shares=st.lists(st.floats(0.05, 1), min_size=0, max_size=3).map(sorted),
    bearing=st.floats(0, 360),
    share=st.floats(0, 1),
)
def test_circle_and_inner_cells_hold_every_point_of_their_circles(
    lat, lng, radius, shares, bearing, share
):
    inner_radii = [radius * s for s in shares]
    res = geo.query_res(radius * 3)
    inner, circle = geo.circle_and_inner_cells(lat, lng, radius, inner_radii, res)
    assert len(inner) == len(inner_radii)
    p = geo.destination(lat, lng, bearing, radius * share)
    leaf = geo.leaf_cell(*p)
    d = geo.distance_m(lat, lng, *p)
    assert any(lo <= leaf <= hi for lo, hi in circle)
    for r, ranges in zip(inner_radii, inner, strict=True):
        if d <= r:
            assert any(lo <= leaf <= hi for lo, hi in ranges), (r, d)


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(-80, 80),
    lng=st.floats(-180, 180),
    res=st.integers(7, 12),
    k=st.integers(1, 4),
    picks=st.lists(st.integers(0, 10**6), min_size=1, max_size=12),
)
def test_merged_leaf_ranges_cover_the_cells_and_nothing_else(lat, lng, res, k, picks):
    from h3.api import basic_int as h3

    origin = h3.latlng_to_cell(lat, lng, res)
    disk = set(h3.grid_disk(origin, k))
    ranges = geo.disk_quick(lat, lng, res, k).ranges

    def covered(leaf):
        return any(lo <= leaf <= hi for lo, hi in ranges)

    # Leaves under the disk's cells (their centres, and children picked at random) are in...
    cells = sorted(disk)
    for i in picks:
        cell = cells[i % len(cells)]
        children = h3.cell_to_children(cell, min(15, res + 3))
        assert covered(geo.leaf_cell(*h3.cell_to_latlng(children[i % len(children)])))
        assert covered(geo.leaf_range(cell)[0]) and covered(geo.leaf_range(cell)[1])
    # ...and no leaf of a cell outside the disk is.
    outside = set(h3.grid_disk(origin, k + 1)) - disk
    for cell in outside:
        for child in h3.cell_to_children(cell, min(15, res + 2)):
            assert not covered(geo.leaf_cell(*h3.cell_to_latlng(child)))


@settings(max_examples=80, deadline=None)
@given(lat=st.floats(-85, 85), lng=st.floats(-180, 180), res=st.integers(5, 12))
def test_a_cells_shape_taken_from_its_area_is_no_bolder_than_its_own(lat, lng, res):
    from h3.api import basic_int as h3

    cell = h3.latlng_to_cell(lat, lng, res)
    _lat, _lng, reach, step, spacing = geo._cell_shape(cell)
    own_reach, own_step, own_spacing, _faces = geo._measured_shape.__wrapped__(cell)
    assert reach >= own_reach
    assert step <= own_step
    assert spacing >= own_spacing
