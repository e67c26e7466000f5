"""Reads of the grid: what lies within a radius, the nearest first, who owns a point.

Every query goes through the H3 leaf-cell index (``h3_cell BETWEEN lo AND hi``) and then
decides by exact great-circle distance only on the rim; nothing scans every row. The functions
take any queryset of a ``Located`` model (branches now, merchant stores later), so the caller's
scope (active branches only, one merchant's stores...) stays in the queryset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from operator import itemgetter
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import connections
from django.db.models import (
    BooleanField,
    Expression,
    F,
    FloatField,
    QuerySet,
    prefetch_related_objects,
)
from django.db.models.query import ModelIterable
from django.urls import reverse
from h3.api import basic_int as h3

from alliance.compiled import converted_rows

from . import geo
from .models import Branch

# nearest_within's first disk: sized by the density nearby, and clear to at least this.
_MIN_PROBE_M = 30.0


def grid_radius_m() -> float:
    return float(settings.ALLIANCE_GRID_RADIUS_M)


def distance_expression(lat: float, lng: float):
    """SQL for the haversine distance in metres from (lat, lng) to the row's point.

    The same formula as ``geo.distance_m``, so Python and the database agree on the rim.
    """
    return Haversine(lat, lng)


class Haversine(Expression):
    """The haversine distance in metres from a fixed point to the row's ``lat``, ``lng``.

    One node rendering the very SQL of the function tree ``Value(2R) * ASin(Sqrt(Power(Sin(
    (Radians(F("lat")) - lat) / 2), 2) + Cos(Radians(F("lat"))) * cos(lat) * Power(Sin(...),
    2)))``, with the same parameters: the same numbers on every backend, at a fraction of the
    ORM's cost of resolving and compiling some twenty nodes (twice: the WHERE and the SELECT).

    ``Haversine(None, None)`` is for the PostgreSQL statement of nearest_within: the point's
    numbers are the columns ``r2``, ``lat_r``, ``cos_lat``, ``lng_r`` of a row ``_p`` of the
    enclosing query (the same float8 values, so the same distances), which keeps the
    statement's text free of the point, so that it can be built once per queryset.
    """

    output_field = FloatField()
    template = (
        "({r2} * ASIN(SQRT((POWER(SIN(((RADIANS({lat}) - {lat_r}) / {two})), {two})"
        " + ((COS(RADIANS({lat})) * {cos_lat}) * POWER(SIN(((RADIANS({lng}) - {lng_r}) / {two}))"
        ", {two}))))))"
    )

    def __init__(
        self, lat: float | None, lng: float | None, lat_field: str = "lat", lng_field: str = "lng"
    ):
        super().__init__()
        self.lat, self.lng = lat, lng
        self.columns = [F(lat_field), F(lng_field)]

    def get_source_expressions(self):
        return self.columns

    def set_source_expressions(self, exprs):
        self.columns = list(exprs)

    def as_sql(self, compiler, connection):
        (lat_sql, lat_params), (lng_sql, lng_params) = map(compiler.compile, self.columns)
        if lat_params or lng_params:  # plain columns have none; keep the order simple
            raise ValueError("Haversine expects plain columns")
        if self.lat is None:
            point = {name: f"_p.{name}" for name in ("r2", "lat_r", "cos_lat", "lng_r")}
            return self.template.format(lat=lat_sql, lng=lng_sql, two="2", **point), []
        sql = self.template.format(
            lat=lat_sql, lng=lng_sql, r2="%s", lat_r="%s", cos_lat="%s", lng_r="%s", two="%s"
        )
        r2, lat_r, cos_lat, lng_r = haversine_point(self.lat, self.lng)
        return sql, [r2, lat_r, 2, 2, cos_lat, lng_r, 2, 2]


def haversine_point(lat: float, lng: float) -> tuple[float, float, float, float]:
    """What ``Haversine``'s SQL takes of the fixed point: 2R (the mean Earth radius, as in
    ``geo.distance_m``), its latitude in radians and that latitude's cosine, its longitude in
    radians."""
    lat_r = math.radians(lat)
    return 2 * geo.EARTH_RADIUS_M, lat_r, math.cos(lat_r), math.radians(lng)


class InRanges(Expression):
    """``h3_cell BETWEEN lo AND hi OR ...`` over leaf-id ranges, as one condition.

    The same SQL as ``Q(h3_cell__range=r) | ...``, without building and compiling a lookup per
    range (a covering has about a hundred: that was most of a query's time).
    ``InRanges(None)`` is for the PostgreSQL statements of count_within and nearest_within:
    one range given by the columns ``lo``, ``hi`` of a row ``_r`` of the enclosing query.
    """

    conditional = True
    output_field = BooleanField()

    def __init__(self, ranges: list[tuple[int, int]] | None, field: str = "h3_cell"):
        super().__init__()
        self.ranges = ranges
        self.column = F(field)

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, exprs):
        (self.column,) = exprs

    def as_sql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        if self.ranges is None:
            return f"{column} BETWEEN _r.lo AND _r.hi", params
        if not self.ranges:
            return f"{column} BETWEEN 1 AND 0", params  # nothing
        # The bounds are integers we computed, written as literals: a hundred bound parameters
        # cost the driver more than the database spends on the query.
        sql = " OR ".join(f"{column} BETWEEN {int(lo)} AND {int(hi)}" for lo, hi in self.ranges)
        return f"({sql})", params * len(self.ranges)


def _plain(qs: QuerySet) -> bool:
    """Whether counting ``qs`` is counting rows (no distinct, grouping, slicing, union...)."""
    q = qs.query
    return not (
        q.distinct
        or q.is_sliced
        or q.combinator
        or q.group_by
        or q.annotations
        or q.extra
        or q.select_for_update
    )


def _count_sql(qs: QuerySet) -> tuple[str, list]:
    sql, params = qs.order_by().values("h3_cell").query.get_compiler(using=qs.db).as_sql()
    return sql, list(params)


def _within_radius(qs: QuerySet, lat: float, lng: float, radius: float, ranges) -> QuerySet:
    return (
        qs.filter(InRanges(ranges))
        .alias(distance_m=distance_expression(lat, lng))
        .filter(distance_m__lte=radius)
    )


def count_within(qs: QuerySet, *, lat: float, lng: float, radius_m: float | None = None) -> int:
    """How many rows of ``qs`` lie within ``radius_m`` (inclusive) of the point."""
    radius = grid_radius_m() if radius_m is None else radius_m
    cover = geo.cover_circle(lat, lng, radius)
    connection = connections[qs.db]
    if connection.vendor == "postgresql" and _plain(qs):
        # PostgreSQL only, one round trip. The inside ranges are counted one by one, each an
        # index-only scan of the B-tree (nothing on them needs a distance, so nothing needs the
        # table's rows); the OR of all ranges would be a bitmap scan that reads the heap page of
        # every row. The rim is counted as below, with the exact distance.
        inside_sql, inside_params = _count_sql(qs.filter(InRanges(None)))
        rim_sql, rim_params = _count_sql(_within_radius(qs, lat, lng, radius, cover.rim))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT (SELECT COALESCE(sum((SELECT count(*) FROM ({inside_sql}) AS _in)), 0)"
                " FROM unnest(%s::bigint[], %s::bigint[]) AS _r(lo, hi))"
                f" + (SELECT count(*) FROM ({rim_sql}) AS _rim)",
                [
                    *inside_params,
                    [lo for lo, _ in cover.inside],
                    [hi for _, hi in cover.inside],
                    *rim_params,
                ],
            )
            return int(cursor.fetchone()[0])
    inside = qs.filter(InRanges(cover.inside)).count() if cover.inside else 0
    rim = _within_radius(qs, lat, lng, radius, cover.rim).count() if cover.rim else 0
    return inside + rim


def within(qs: QuerySet, *, lat: float, lng: float, radius_m: float | None = None) -> QuerySet:
    """``qs`` narrowed to the rows within the radius, annotated with ``distance_m``."""
    radius = grid_radius_m() if radius_m is None else radius_m
    cover = geo.cover_circle(lat, lng, radius)
    return (
        qs.filter(InRanges(cover.inside + cover.rim))
        .annotate(distance_m=distance_expression(lat, lng))
        .filter(distance_m__lte=radius)
    )


def nearest_within(
    qs: QuerySet,
    *,
    lat: float,
    lng: float,
    limit: int = 20,
    offset: int = 0,
    radius_m: float | None = None,
) -> list:
    """Rows within the radius, nearest first (ties by primary key), each with ``distance_m``.

    Looks in a small disk of cells around the point first and widens only when the disk cannot
    prove that the rows it found are the nearest: the answer is exact, the work grows with the
    number of rows asked for, not with the density. On PostgreSQL a queryset of model rows
    takes one round trip (``_nearest_in_one_query``); anything else goes disk by disk.
    """
    radius = grid_radius_m() if radius_m is None else radius_m
    need = offset + limit
    if need <= 0:
        return []
    if connections[qs.db].vendor == "postgresql" and _rows_only(qs):
        return _nearest_in_one_query(qs, lat, lng, radius, need)[offset:]
    return _nearest_disk_by_disk(qs, lat, lng, radius, need)[offset:]


def _nearest_disk_by_disk(qs: QuerySet, lat: float, lng: float, radius: float, need: int) -> list:
    """The ``need`` nearest rows, a query per disk, the first disk sized by the density nearby
    (one cheap count on the index) to hold about twice the rows asked for."""
    ordered = ("distance_m", "pk")
    nearest_first = (
        qs.annotate(distance_m=distance_expression(lat, lng))
        .filter(distance_m__lte=radius)
        .order_by(*ordered)
    )
    density = _density_near(qs, lat, lng, radius, need)
    target = math.sqrt(2 * need / (math.pi * density)) if density else radius
    target = max(_MIN_PROBE_M, target)
    while target < radius:
        disk = geo.disk_clearing(lat, lng, target)
        if disk.clear_m >= radius or disk.clear_m < target:
            break
        rows = list(nearest_first.filter(InRanges(disk.ranges))[:need])
        # Everything outside the disk is farther than clear_m: rows up to there are final.
        if len(rows) == need and rows[-1].distance_m <= disk.clear_m:
            return rows
        if len(rows) == need:
            # The disk holds enough rows, the last of them farther than the disk is clear: a
            # disk clear to that distance holds them all, and so the answer.
            target = rows[-1].distance_m
        elif rows:
            # Too few (and so every row of the disk): go to where, at the density seen, about
            # twice as many rows as needed should lie.
            density = len(rows) / disk.area_m2
            target = max(disk.clear_m * 1.5, math.sqrt(2 * need / (math.pi * density)))
        else:
            break  # an empty neighbourhood: straight to the whole circle
    # The whole circle, covered more coarsely than count_within covers it: every row fetched
    # needs its distance for the ordering anyway, and fewer ranges are planned faster.
    cover = geo.cover_circle_at(lat, lng, radius, geo.query_res(radius * 3))
    return list(nearest_first.filter(InRanges(cover.inside + cover.rim))[:need])


def _rows_only(qs: QuerySet) -> bool:
    """Whether ``qs`` yields model instances built from its own table's columns alone, so that
    ``_nearest_in_one_query`` can build them as the ORM would."""
    return (
        _plain(qs)
        and qs._iterable_class is ModelIterable
        and not qs.query.select_related
        and not qs._known_related_objects
    )


# _nearest_in_one_query's levels, smallest first. First disks: (resolution, rings), four rings
# of cells of resolutions 11 and 10, clear (see geo.disk_quick) to about 110 and 300 m, each
# some seven times the area of the one before: a dense neighbourhood stops at a small disk, and
# in a sparse one the disks that fall short hold few rows, so cost little. (A disk at
# resolution 12, clear to 45 m, answered none of the grid bench's 300 queries.) Then circles of
# these shares of the radius, clear to exactly that (750 m and 1.5 km for 3 km), found together
# with the whole circle (geo.circle_and_inner_cells): where the 20 nearest lie beyond a few
# hundred metres, a circle of about their distance reads a third of the rows of the whole one.
_LADDER = ((11, 4), (10, 4))
_INNER_SHARES = (0.25, 0.5)


def _nearest_in_one_query(qs: QuerySet, lat: float, lng: float, radius: float, need: int) -> list:
    """``_nearest_disk_by_disk`` in one statement (PostgreSQL), with no density estimate.

    Every disk of ``_LADDER`` and circle of ``_INNER_SHARES`` of the radius that is clear to
    less than the radius, and last the whole circle, is a level. The database takes the
    ``need`` nearest rows of a level, its leaf ranges one by one (a parameterised index scan
    each: the same SQL text whatever the number of ranges, so planning is cheap), and keeps
    them only when they are proven final: ``need`` rows, the farthest nearer than everything
    outside the level's cells, or the level is the whole circle. The levels are joined in order
    under a ``LIMIT``, so the database stops at the first level that passes and never reads
    the wider ones. Any passing level holds the exact answer, so the order only matters for
    speed: the rows of the first level returned are taken and sorted again here.

    Distances are exact great-circle distances (``Haversine``: the haversine on the sphere of
    the mean Earth radius, as ``geo.distance_m``), the radius inclusive, ties by primary key.
    The database's part takes about what a KNN query on a PostGIS GiST index takes, so the
    Python around it is kept to a few hundred microseconds: the statement is built once per
    queryset where it can be (``_statement``), the levels' cells from a few h3 calls and some
    hundred cell centres, the rows made into instances without a compiler.
    """
    levels = _levels(lat, lng, radius)
    statement = _statement(qs)
    with connections[qs.db].cursor() as cursor:
        cursor.execute(
            statement.sql,
            [
                *haversine_point(lat, lng),
                *_level_arrays(levels),
                *statement.params,
                radius,
                need,
                radius,
                need,
                need,
            ],
        )
        found = cursor.fetchall()
    if not found:
        return []
    level = found[0][0]
    dist, pk_at = statement.dist + 1, statement.pk_at + 1  # after the level number
    rows = sorted((row for row in found if row[0] == level), key=itemgetter(dist, pk_at))
    return _instances(qs, statement, [row[1 : statement.width + 1] for row in rows])


def _levels(lat: float, lng: float, radius: float) -> list[tuple]:
    """(leaf ranges, clear distance) of every level, smallest first."""
    levels = []
    for res, k in _LADDER:
        disk = geo.disk_quick(lat, lng, res, k)
        if disk.clear_m >= radius:
            break
        if disk.clear_m > (levels[-1][1] if levels else 0.0):
            levels.append((disk.ranges, disk.clear_m))
    # Then circles of some shares of the radius, in cells as fine as the circle's own covering
    # would be, and last the whole circle, one resolution coarser (see circle_and_inner_cells).
    last = levels[-1][1] if levels else 0.0
    inner = [radius * share for share in _INNER_SHARES if radius * share > last]
    res = geo.query_res(radius * 3)
    inner_cells, circle_cells = geo.circle_and_inner_cells(lat, lng, radius, inner, res)
    levels.extend(zip(inner_cells, inner, strict=True))
    levels.append((circle_cells, radius))
    return levels


def _level_arrays(levels) -> list[str]:
    """The levels, (leaf ranges, clear distance) each, as the statement's five array
    parameters: where each level's ranges start and end in the arrays of bounds (from 1, both
    ends included, as SQL slices count), how far each level is clear, the lower bounds, the
    upper bounds."""
    starts, ends, clears, los, his = [], [], [], [], []
    for ranges, clear in levels:
        starts.append(len(los) + 1)
        for lo, hi in ranges:
            los.append(lo)
            his.append(hi)
        ends.append(len(los))
        clears.append(clear)
    return [_array(starts), _array(ends), _array(clears, repr), _array(los), _array(his)]


def _array(values, text=str) -> str:
    """An array literal for a ``%s::type[]`` parameter: one string to quote, where a list
    would be adapted element by element (a few hundred bounds: slower than the query)."""
    return "{" + ",".join(map(text, values)) + "}"


@dataclass(frozen=True)
class _Statement:
    """``_nearest_in_one_query``'s SQL for one queryset, and how to read its rows: what
    ``ModelIterable`` would work out from the compiler on every query, worked out once."""

    sql: str
    params: tuple  # the queryset's own (its filters'), between the levels' and the limits'
    width: int  # columns of the inner SELECT
    dist: int  # where among them distance_m is
    pk_at: int  # and the primary key
    model: type
    fields: slice  # the model's columns
    init_list: list[str]  # their attnames, for Model.from_db
    annotations: list[tuple[str, int]]  # (name, column) of distance_m and the queryset's
    columns: list  # the inner SELECT's expressions
    # The columns' own converters (their fields' from_db_value...); the backend's are asked
    # for on every query, so that nothing cached here holds on to a connection.
    converters: list[list]


# Statements of whole-table querysets, by connection (thread) and then model and deferred
# fields. Building one (clone, resolve, compile) costs the Python of a third of a query.
_statements: WeakKeyDictionary = WeakKeyDictionary()


def _statement(qs: QuerySet) -> _Statement:
    """The statement for ``qs``: built once per connection for a whole table
    (``Model.objects.all()``, with ``only``/``defer`` or an ordering, which the distance
    replaces), built every time for a filtered queryset, whose filters may hold anything."""
    key = _whole_table_key(qs)
    if key is None:
        return _build_statement(qs)
    cache = _statements.setdefault(connections[qs.db], {})
    statement = cache.get(key)
    if statement is None:
        statement = cache[key] = _build_statement(qs)
    return statement


def _whole_table_key(qs: QuerySet):
    """What the statement of a queryset with no filter (nor joins, extra tables, chosen
    columns) depends on: its model and which fields it defers. None for any other."""
    q = qs.query
    if q.where or q.extra_tables or len(q.alias_map) > 1 or not q.default_cols:
        return None
    fields, deferred = q.deferred_loading
    return qs.model, frozenset(fields), deferred


def _build_statement(qs: QuerySet) -> _Statement:
    query = (qs.filter(InRanges(None)).annotate(distance_m=Haversine(None, None)).order_by()).query
    compiler = query.get_compiler(using=qs.db)
    inner_sql, inner_params = compiler.as_sql()
    width = len(compiler.select)
    dist = compiler.annotation_col_map["distance_m"]
    pk = qs.model._meta.pk
    pk_at = next(
        i for i, (col, *_) in enumerate(compiler.select) if getattr(col, "target", None) is pk
    )
    columns = ", ".join(f"_c{i}" for i in range(width))
    sql = (
        "SELECT _l.n, _n.* FROM (SELECT %s::float8 AS r2, %s::float8 AS lat_r,"
        " %s::float8 AS cos_lat, %s::float8 AS lng_r) AS _p"
        " CROSS JOIN unnest(%s::int[], %s::int[], %s::float8[])"
        " WITH ORDINALITY AS _l(lo_at, hi_at, clear, n)"
        " CROSS JOIN LATERAL ("
        f"SELECT _s.*, count(*) OVER () AS _cnt, max(_s._c{dist}) OVER () AS _far FROM ("
        "SELECT _q.* FROM unnest((%s::bigint[])[_l.lo_at:_l.hi_at],"
        " (%s::bigint[])[_l.lo_at:_l.hi_at]) AS _r(lo, hi)"
        # LIMIT NULL is no limit. Written as an expression of the level, which the planner
        # cannot evaluate, it makes the planner expect a tenth of its guess of a range's rows
        # (0.5 % of the table, not knowing the bounds): with the guess itself, the plan's cost
        # crossed jit_above_cost and compiling it took some 15 ms. It also keeps the subquery,
        # and so the index scan per range, from being flattened into a sort of the table.
        f" CROSS JOIN LATERAL ({inner_sql} LIMIT NULLIF(_l.n, _l.n)) AS _q({columns})"
        f" WHERE _q._c{dist} <= %s ORDER BY _q._c{dist}, _q._c{pk_at} LIMIT %s) AS _s"
        ") AS _n"
        " WHERE _l.clear >= %s OR (_n._cnt = %s AND _n._far < _l.clear)"
        " LIMIT %s"
    )
    select, klass_info = compiler.select, compiler.klass_info
    first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    columns = [col for col, *_ in select[:width]]
    return _Statement(
        sql=sql,
        params=tuple(inner_params),
        width=width,
        dist=dist,
        pk_at=pk_at,
        model=klass_info["model"],
        fields=slice(first, last),
        init_list=[col.target.attname for col, *_ in select[first:last]],
        annotations=list(compiler.annotation_col_map.items()),
        columns=columns,
        converters=[col.get_db_converters(compiler.connection) for col in columns],
    )


def _instances(qs: QuerySet, statement: _Statement, rows: list) -> list:
    """Model instances from rows shaped like the statement's inner SELECT, as
    ``ModelIterable`` builds them (the same converters, deferred fields and annotations)."""
    db = qs.db
    rows = converted_rows(rows, statement.columns, statement.converters, connections[db])
    model, fields, init_list = statement.model, statement.fields, statement.init_list
    out = []
    for row in rows:
        obj = model.from_db(db, init_list, row[fields])
        for name, at in statement.annotations:
            setattr(obj, name, row[at])
        out.append(obj)
    if qs._prefetch_related_lookups:
        prefetch_related_objects(out, *qs._prefetch_related_lookups)
    return out


def _density_near(qs: QuerySet, lat: float, lng: float, radius: float, need: int) -> float:
    """About how many rows per square metre lie around the point, from one cheap query.

    Counts the rows of the whole table (not only the queryset's: this only sizes
    nearest_within's first disk) in the cell holding the point, at the query resolution and
    the two coarser ones, and takes the finest that holds enough. Each count is one range of
    the B-tree, capped, so it reads a few index pages (PostgreSQL: an index-only scan).
    """
    field = qs.model._meta.get_field("h3_cell")
    connection = connections[qs.db]
    table = connection.ops.quote_name(field.model._meta.db_table)
    column = connection.ops.quote_name(field.column)
    cells = geo.cells_holding(lat, lng, geo.query_res(radius), 2)
    cap = 4 * need
    counts = ", ".join(
        f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {column}"
        f" BETWEEN {lo} AND {hi} LIMIT {cap}) AS _c{i})"
        for i, (lo, hi, _area) in enumerate(cells)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        found = cursor.fetchone()
    density = 0.0
    for (_lo, _hi, area), n in zip(cells, found, strict=True):
        density = n / area
        if n >= 2 * need:
            break
    return density


def active_branches() -> QuerySet:
    return Branch.objects.filter(is_active=True)


@dataclass(frozen=True)
class Ownership:
    """Who owns a point: a branch and its distance, or the head-office pool (branch None)."""

    branch: Branch | None
    distance_m: float | None

    @property
    def in_pool(self) -> bool:
        return self.branch is None


def branch_owning(*, lat: float, lng: float, branches: QuerySet | None = None) -> Ownership:
    """The nearest active branch whose circle contains the point, else the pool.

    The circle is inclusive: a point exactly 3,000 m away belongs to the branch. Two branches
    at the very same distance: the lower branch id wins, so the answer never flips.
    """
    rows = nearest_within(
        active_branches() if branches is None else branches, lat=lat, lng=lng, limit=1
    )
    if not rows:
        return Ownership(branch=None, distance_m=None)
    return Ownership(branch=rows[0], distance_m=rows[0].distance_m)


def grid_geojson(branches) -> dict:
    """Branches as points and the hexagons covering the circles of the open ones.

    A hexagon covered by several circles is drawn once, coloured for the nearest branch.
    """
    radius = grid_radius_m()
    features = []
    nearest: dict[int, tuple[float, str]] = {}
    for b in branches:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [b.lng, b.lat]},
                "properties": {
                    "kind": "branch",
                    "id": b.pk,
                    "code": b.code,
                    "name": b.name,
                    "address": b.address,
                    "is_active": b.is_active,
                    "url": reverse("branches:detail", args=[b.pk]),
                },
            }
        )
        if not b.is_active:
            continue  # a closed branch owns nothing
        for cell, d in geo.hexes_covering(b.lat, b.lng, radius):
            if cell not in nearest or (d, b.code) < nearest[cell]:
                nearest[cell] = (d, b.code)
    features.extend(
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [geo.cell_ring_lnglat(cell)]},
            "properties": {"kind": "cell", "cell": h3.int_to_str(cell), "branch": code},
        }
        for cell, (_d, code) in sorted(nearest.items())
    )
    return {"type": "FeatureCollection", "radius_m": radius, "features": features}
