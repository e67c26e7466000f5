"""Geometry of the grid: great-circle distance and H3 cell coverings of a circle.

Distance definition: great-circle distance on a sphere of the IUGG mean Earth radius
(6,371,008.8 m), by the haversine formula. Against the WGS-84 spheroid it is off by at most
about 0.5 % (15 m on 3 km). We use the sphere on purpose: the 3 km grid is an administrative
rule, and what matters is that Python, SQLite and PostgreSQL compute the very same number, so a
shop on the rim belongs to the same branch whichever of them decides. The haversine needs only
sin/cos/asin/sqrt, which every database here has; a spheroidal formula would not be portable.

Indexing: every located row stores one H3 cell id at resolution 15 (``LEAF_RES``, about half a
metre) as a BIGINT on a B-tree. All leaf cells that descend from a coarser cell occupy one
contiguous range of ids (same mode, resolution and leading digits; the trailing digits vary), so
"points in this coarse cell" is ``h3_cell BETWEEN lo AND hi`` on the index, at any resolution,
without storing a column per resolution. A radius query covers the circle with cells at
``query_res``, splits them into cells wholly inside (no distance check needed), cells on the rim
(exact distance decides) and cells outside (dropped), and merges adjacent ranges. (It classifies
coarser cells first and splits only those on the rim, so inside cells come already compacted.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from operator import or_

from h3.api import basic_int as h3
from h3.api import memview_int as h3m

EARTH_RADIUS_M = 6_371_008.8
LEAF_RES = 15
# Bit layout of an H3 index: resolution in bits 52-55, then 15 three-bit digits (res 1 first).
_RES_SHIFT = 52
_RES_MASK = 0xF << _RES_SHIFT
_TOP_DIGIT_SHIFT = 3 * (LEAF_RES - 1)  # the resolution-1 digit
# Cells vary little in size over a few kilometres; this margin on the local circumradius keeps
# the inside/outside classification conservative.
_CIRCUMRADIUS_MARGIN = 1.15


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine on the mean-radius sphere)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def destination(lat: float, lng: float, bearing_deg: float, distance: float) -> tuple[float, float]:
    """The point ``distance`` metres from (lat, lng) along ``bearing_deg`` (on the same sphere)."""
    delta = distance / EARTH_RADIUS_M
    theta = math.radians(bearing_deg)
    phi1, lmb1 = math.radians(lat), math.radians(lng)
    phi2 = math.asin(
        math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta)
    )
    lmb2 = lmb1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi1),
        math.cos(delta) - math.sin(phi1) * math.sin(phi2),
    )
    return math.degrees(phi2), (math.degrees(lmb2) + 540) % 360 - 180


def leaf_cell(lat: float, lng: float) -> int:
    """The stored H3 cell id of a point."""
    return h3.latlng_to_cell(lat, lng, LEAF_RES)


def leaf_range(cell: int) -> tuple[int, int]:
    """The inclusive range of leaf cell ids that descend from ``cell``.

    The lower bound has every digit below the cell's resolution set to 0, the upper bound to 7
    (no valid cell has digit 7 there, so the bound is safe and inclusive).
    """
    res = h3.get_resolution(cell)
    free_bits = 3 * (LEAF_RES - res)
    at_leaf_res = (cell & ~_RES_MASK) | (LEAF_RES << _RES_SHIFT)
    hi = at_leaf_res | ((1 << free_bits) - 1)
    lo = hi & ~((1 << free_bits) - 1)
    return lo, hi


# Average edge length in metres of the cells of each resolution.
_EDGE_M = tuple(h3.average_hexagon_edge_length(res, "m") for res in range(LEAF_RES + 1))


def query_res(radius_m: float) -> int:
    """A covering resolution whose cells are about a twelfth of the radius across."""
    return _res_with_edge_at_most(radius_m / 12)


def _res_with_edge_at_most(edge_m: float) -> int:
    for res in range(0, LEAF_RES + 1):
        if _EDGE_M[res] <= edge_m:
            return res
    return LEAF_RES


def _res_with_edge_at_least(edge_m: float) -> int:
    for res in range(LEAF_RES, -1, -1):
        if _EDGE_M[res] >= edge_m:
            return res
    return 0


def merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort and merge ranges that touch or overlap (siblings with consecutive digits touch)."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _circumradius_m(cell: int) -> float:
    clat, clng = h3.cell_to_latlng(cell)
    return max(distance_m(clat, clng, vlat, vlng) for vlat, vlng in h3.cell_to_boundary(cell))


def _ring_step_m(cell: int) -> float:
    """A lower bound on how much farther each ring of cells reaches, near ``cell``.

    Ring k's nearest cells sit midway between its corners, at k * spacing * sqrt(3)/2 from the
    centre; the spacing is taken as the nearest neighbour's, less a margin for distortion.
    """
    clat, clng = h3.cell_to_latlng(cell)
    spacing = min(
        distance_m(clat, clng, *h3.cell_to_latlng(n)) for n in h3.grid_ring(cell, 1) if n != cell
    )
    return spacing * math.sqrt(3) / 2 * 0.85


@dataclass(frozen=True)
class Covering:
    """Leaf-id ranges for a circle: ``inside`` needs no distance check, ``rim`` does."""

    inside: list[tuple[int, int]]
    rim: list[tuple[int, int]]


def cover_circle(lat: float, lng: float, radius_m: float) -> Covering:
    """Cover the circle of ``radius_m`` around (lat, lng) with H3 cells.

    Every point within the radius lies in a range of ``inside`` or ``rim``; every point in
    ``inside`` lies within the radius.
    """
    return cover_circle_at(lat, lng, radius_m, query_res(radius_m))


# How many resolutions above the covering's the classification starts. Only the cells on the
# rim are split into their children, so the work grows with the circumference (in cells), not
# with the area as a flat disk of fine cells would.
_DESCENT_LEVELS = 2


def cover_circle_at(lat: float, lng: float, radius_m: float, res: int) -> Covering:
    """``cover_circle`` with rim cells of resolution ``res`` (coarser: fewer ranges, more rows
    on the rim to check; finer: the opposite).

    A cell is inside when its centre is within ``radius - reach``, on the rim when within
    ``radius + reach``, where ``reach`` bounds how far any leaf descendant of a cell of that
    resolution lies from the cell's centre. Classification starts a few resolutions coarser
    and splits only the rim cells, level by level, down to ``res``; an inside cell of any
    level is one range of leaf ids.
    """
    phi0 = math.radians(lat)
    cos_phi0 = math.cos(phi0)
    lmb0 = math.radians(lng)
    to_rad = math.pi / 180
    sin, cos = math.sin, math.cos
    cell_to_latlng = h3.cell_to_latlng
    # Compare haversine terms instead of distances: d <= D  <=>  a <= sin^2(D / 2R).
    max_d = math.pi * EARTH_RADIUS_M

    def hav(d: float) -> float:
        return math.sin(min(d, max_d) / (2 * EARTH_RADIUS_M)) ** 2 if d >= 0 else -1.0

    level = max(0, res - _DESCENT_LEVELS)
    origin = h3.latlng_to_cell(lat, lng, level)
    reach = _circumradius_m(origin) * _CIRCUMRADIUS_MARGIN
    k = math.ceil((radius_m + reach) / _ring_step_m(origin)) + 1
    cells = h3.grid_disk(origin, k)
    inside: list[tuple[int, int]] = []
    rim: list[tuple[int, int]] = []
    while True:
        a_in, a_out = hav(radius_m - reach), hav(radius_m + reach)
        undecided = []
        for cell in cells:
            clat, clng = cell_to_latlng(cell)
            s1 = sin((clat * to_rad - phi0) / 2)
            s2 = sin((clng * to_rad - lmb0) / 2)
            a = s1 * s1 + cos_phi0 * cos(clat * to_rad) * s2 * s2
            if a <= a_in:
                inside.append(_leaf_range_at(cell, level))
            elif a <= a_out:
                undecided.append(cell)
        if level == res or not undecided:
            rim.extend(_leaf_range_at(cell, level) for cell in undecided)
            break
        level += 1
        cells = [child for cell in undecided for child in h3.cell_to_children(cell, level)]
        reach = _circumradius_m(h3.latlng_to_cell(lat, lng, level)) * _CIRCUMRADIUS_MARGIN
    return Covering(inside=merge_ranges(inside), rim=merge_ranges(rim))


def _leaf_range_at(cell: int, res: int) -> tuple[int, int]:
    """``leaf_range`` for a cell whose resolution is known, its upper end raised over the ids
    no cell can have, so that ranges of siblings merge as their parent's would.

    A last digit 6 is followed by digit 7, which no valid cell uses: the range may take it in
    (and so on upwards while the digits are 6), reaching the next sibling's lower bound.
    """
    free_bits = 3 * (LEAF_RES - res)
    hi = (cell & ~_RES_MASK) | (LEAF_RES << _RES_SHIFT) | ((1 << free_bits) - 1)
    lo = hi & ~((1 << free_bits) - 1)
    shift = free_bits
    while shift <= _TOP_DIGIT_SHIFT and (hi >> shift) & 7 == 6:
        hi |= 7 << shift
        shift += 3
    return lo, hi


@dataclass(frozen=True)
class Ring:
    """Cells within ``k`` steps of the origin cell, and how far from the query point every
    point outside them is guaranteed to be (``clear_m``)."""

    ranges: Sequence[tuple[int, int]]
    clear_m: float
    area_m2: float = 0.0  # about how much ground the cells cover


def disk_around(lat: float, lng: float, radius_m: float, k: int) -> Ring:
    """The k-disk of cells (at the radius's query resolution) around the point."""
    return disk_at(lat, lng, query_res(radius_m), k)


def disk_at(lat: float, lng: float, res: int, k: int) -> Ring:
    """The k-disk of cells of resolution ``res`` around the point."""
    origin = h3.latlng_to_cell(lat, lng, res)
    reach = _circumradius_m(origin) * _CIRCUMRADIUS_MARGIN
    # Anything outside the k-disk lies in ring k+1 or beyond; the segment to it crosses ring k+1,
    # so its distance is at least the nearest ring-(k+1) cell's centre distance less its reach.
    cells = h3.grid_disk(origin, k)
    # (set difference rather than grid_ring, which refuses to run near a pentagon)
    next_ring = set(h3.grid_disk(origin, k + 1)).difference(cells)
    clear = min(distance_m(lat, lng, *h3.cell_to_latlng(cell)) - reach for cell in next_ring)
    return Ring(
        ranges=merge_ranges([_leaf_range_at(c, res) for c in cells]),
        clear_m=max(0.0, clear),
        area_m2=len(cells) * h3.cell_area(origin, "m^2"),
    )


# A k-disk around a point is clear (see ``Ring``) to about this many edge lengths of its cells
# (rings are 1.5 edges apart; less the point's offset in its cell and the reach).
_CLEAR_EDGES = {2: 2.6, 3: 4.1, 4: 5.6}


def disk_clearing(lat: float, lng: float, clear_m: float) -> Ring:
    """A small disk of cells around the point clear to at least ``clear_m``: of two to four
    rings, the one of least area that should make it, widened ring by ring if the point sits
    badly in its cell. (Its ``clear_m`` falls short only past twelve rings, which no sane call
    needs.)"""
    res, k = _disk_shape(clear_m)
    while True:
        ring = disk_at(lat, lng, res, k)
        if ring.clear_m >= clear_m or k >= 12:
            return ring
        k += 1


def _disk_shape(clear_m: float) -> tuple[int, int]:
    """(resolution, rings) of the disk of least area that should be clear to ``clear_m``."""

    def area(shape):
        res, k = shape
        return (1 + 3 * k * (k + 1)) * _EDGE_M[res] ** 2

    return min(
        ((_res_with_edge_at_least(clear_m / edges), k) for k, edges in _CLEAR_EDGES.items()),
        key=area,
    )


# Cells of one resolution differ in shape by less than 0.3 % across a resolution-4 cell (some
# 1,800 km², 45 km across) while they lie on one face of H3's icosahedron (measured over China
# and the globe; across a face's edge they differ by up to 4 %). So the shape of a cell can be
# taken from one cell measured once for the whole area, with a margin for the difference:
# measuring it costs more than the rest of a disk (about twenty distances), and the points of
# a city fall in a few such areas where they would fall in thousands of cells of a disk.
_SHAPE_AREA_RES = 4
_SHAPE_AREA_MARGIN = 1.01


def _cell_shape(cell: int) -> tuple[float, float, float, float, float]:
    """(centre lat, centre lng, reach, ring step, spacing) of a cell (see ``_measured_shape``):
    its own centre, the rest from the cell of its resolution at the centre of its resolution-4
    ancestor when both lie on the same single face (a cell on two faces, or in the area of a
    pentagon, is measured itself). Not cached itself (its cells seldom come again; the area's
    measure is)."""
    clat, clng = h3.cell_to_latlng(cell)
    res = h3.get_resolution(cell)
    if res > _SHAPE_AREA_RES:
        area = h3.cell_to_parent(cell, _SHAPE_AREA_RES)
        reach, step, spacing, faces = _measured_shape(h3.cell_to_center_child(area, res))
        if (
            len(faces) == 1
            and not h3.is_pentagon(area)
            and tuple(h3.get_icosahedron_faces(cell)) == faces
        ):
            margin = _SHAPE_AREA_MARGIN
            return clat, clng, reach * margin, step / margin, spacing * margin
    reach, step, spacing, _faces = _measured_shape(cell)
    return clat, clng, reach, step, spacing


@lru_cache(maxsize=4096)
def _measured_shape(cell: int) -> tuple[float, float, float, tuple[int, ...]]:
    """(reach, ring step, spacing, icosahedron faces) of a cell, measured: how far any leaf
    descendant lies from its centre, with a margin (``cover_circle_at``); ``_ring_step_m``; and
    an upper bound on the distance between its centre and a neighbour's (the farthest one's,
    with the same margin), which is also how far its children's centres lie from its parent's
    (the other six children are the centre child's neighbours)."""
    clat, clng = h3.cell_to_latlng(cell)
    reach = max(distance_m(clat, clng, *vertex) for vertex in h3.cell_to_boundary(cell))
    spacings = [
        distance_m(clat, clng, *h3.cell_to_latlng(n)) for n in h3.grid_ring(cell, 1) if n != cell
    ]
    return (
        reach * _CIRCUMRADIUS_MARGIN,  # as _circumradius_m
        min(spacings) * math.sqrt(3) / 2 * 0.85,  # as _ring_step_m
        max(spacings) * _CIRCUMRADIUS_MARGIN,
        tuple(h3.get_icosahedron_faces(cell)),
    )


def disk_quick(lat: float, lng: float, res: int, k: int) -> Ring:
    """``disk_at`` without a distance per cell of the next ring: its ``clear_m`` is a lower
    bound from the triangle inequality (ring k+1 lies at least k+1 ring steps from the origin
    cell's centre, less the reach of its cells; the point lies this far from that centre),
    about a quarter below ``disk_at``'s, for a tenth of the work. ``area_m2`` is not set."""
    origin = h3.latlng_to_cell(lat, lng, res)
    clat, clng, reach, step, _spacing = _cell_shape(origin)
    clear = (k + 1) * step - reach - distance_m(lat, lng, clat, clng)
    return Ring(ranges=_disk_ranges(origin, k), clear_m=max(0.0, clear))


def _disk_ranges(origin: int, k: int) -> tuple[tuple[int, int], ...]:
    """The merged leaf ranges of the k-disk around a cell (compacted first, in h3's C: a
    parent whose seven children are all in the disk is one range)."""
    return _merged_leaf_ranges(h3m.compact_cells(h3m.grid_disk(origin, k)))


# The trailing bits of a leaf id below a cell of each resolution: 3 per digit.
_LOW_BITS = tuple((1 << 3 * (LEAF_RES - res)) - 1 for res in range(LEAF_RES + 1))
# A cell's digits below its resolution are 7, all ones: with its resolution field set to 15,
# all ones too, it is the last leaf id under it (and with those digits cleared, the first).
_last_leaf = partial(or_, _RES_MASK)


def _merged_leaf_ranges(cells) -> tuple[tuple[int, int], ...]:
    """``merge_ranges`` of the ``_leaf_range_at`` of cells (of any resolutions, none inside
    another), in one pass in the order of their leaf ids.

    Two cells' ranges join when the next starts right after the last ends, or when every id in
    between has a digit 7 (no cell has one: see ``_leaf_range_at``). The upper ends are left
    as they are (not raised over the digit-7 ids, which hold no rows either way).
    """
    los: list[int] = []
    his: list[int] = []
    end, end_free = -2, 0  # the last range's upper end, and its free bits
    for cell in sorted(cells, key=_last_leaf):
        hi = cell | _RES_MASK
        res = (cell >> _RES_SHIFT) & 0xF
        lo = hi ^ _LOW_BITS[res]
        if lo > end + 1:  # raise the last end over the ids no cell has
            shift = end_free
            while shift <= _TOP_DIGIT_SHIFT and (end >> shift) & 7 == 6:
                end |= 7 << shift
                shift += 3
        if lo <= end + 1:
            his[-1] = hi
        else:
            los.append(lo)
            his.append(hi)
        end, end_free = hi, 3 * (LEAF_RES - res)
    return tuple(zip(los, his, strict=True))


def circle_cells(lat: float, lng: float, radius_m: float, res: int) -> tuple[tuple[int, int], ...]:
    """Merged leaf ranges of every cell of ``res`` that may hold a point within ``radius_m``
    (its centre within the radius plus the reach): ``cover_circle_at`` without the split into
    inside and rim, for callers that need every row's distance anyway, at a fraction of its
    work (see ``circle_and_inner_cells``)."""
    return circle_and_inner_cells(lat, lng, radius_m, (radius_m,), res)[0][0]


def circle_and_inner_cells(
    lat: float, lng: float, radius_m: float, inner_m: Sequence[float], res: int
) -> tuple[list[tuple[tuple[int, int], ...]], tuple[tuple[int, int], ...]]:
    """``circle_cells`` at ``res`` of each of the ``inner_m`` radii (ascending), and of
    ``radius_m`` at the resolution one coarser, from one look at the coarser cells' centres
    (nearest_within's last levels: its circle at the coarser resolution holds some twice the
    rows, fine for the level read only where nothing nearer answers, and is found with a
    quarter of the work).

    The centres of a cell's children lie within the children's spacing of its own (the centre
    child's neighbours), so a coarser cell whose centre lies that much inside the smallest
    inner circle is taken whole, one that much outside the largest is dropped, and only the
    children of the others are looked at one by one: some 60 coarse and 60 fine centres for
    3 km and 1.5 km at resolution 8, where a disk of fine cells around the circle has 200 to
    250.
    """
    _lat, _lng, reach, _step, spacing = _cell_shape(h3.latlng_to_cell(lat, lng, res))
    if res == 0:  # no coarser cells: all 122 looked at, for every circle
        cells = h3.get_res0_cells()
        terms = _haversine_terms(lat, lng, cells)
        inner = [_cells_within(cells, terms, r + reach) for r in inner_m]
        return inner, _cells_within(cells, terms, radius_m + reach)
    origin = h3.latlng_to_cell(lat, lng, res - 1)
    clat, clng, c_reach, c_step, _spacing = _cell_shape(origin)
    # Coarse cells beyond ring k lie farther than (k + 1) * step - d: past all the circles.
    farthest = max(radius_m + c_reach, inner_m[-1] + reach + spacing if inner_m else 0.0)
    k = math.ceil((farthest + distance_m(lat, lng, clat, clng)) / c_step)
    coarse = h3.grid_disk(origin, k)
    terms = _haversine_terms(lat, lng, coarse)
    circle = _cells_within(coarse, terms, radius_m + c_reach)
    if not inner_m:
        return [], circle
    whole: list[int] = []  # children in every inner circle
    mixed: list[int] = []  # children to look at
    a_whole, a_none = _hav(inner_m[0] + reach - spacing), _hav(inner_m[-1] + reach + spacing)
    for cell, a in zip(coarse, terms, strict=True):
        if a <= a_whole:
            whole.extend(h3.cell_to_children(cell, res))
        elif a <= a_none:
            mixed.extend(h3.cell_to_children(cell, res))
    mixed_terms = _haversine_terms(lat, lng, mixed)
    inner = [_cells_within(mixed, mixed_terms, r + reach, whole) for r in inner_m]
    return inner, circle


def _cells_within(cells, terms, within_m: float, also=()) -> tuple[tuple[int, int], ...]:
    """The merged leaf ranges of the cells whose centre lies within ``within_m`` (``terms``:
    their ``_haversine_terms``), and of ``also``."""
    a_within = _hav(within_m)
    return _merged_leaf_ranges(
        [*also, *(cell for cell, a in zip(cells, terms, strict=True) if a <= a_within)]
    )


def _hav(d: float) -> float:
    """The haversine term of a distance: d <= D  <=>  a <= sin^2(D / 2R) (no distance is
    within a negative one)."""
    if d < 0:
        return -1.0
    return math.sin(min(d, math.pi * EARTH_RADIUS_M) / (2 * EARTH_RADIUS_M)) ** 2


def _haversine_terms(lat: float, lng: float, cells) -> list[float]:
    """The haversine term of the distance from the point to each cell's centre: compared with
    ``_hav``, a distance without its arcsine and square root. (One loop, no call per cell: a
    circle has a couple of hundred cells to look at.)"""
    phi0, lmb0 = lat * _TO_RAD, lng * _TO_RAD
    cos_phi0, sin, cos, to_rad = math.cos(phi0), math.sin, math.cos, _TO_RAD
    cell_to_latlng = h3.cell_to_latlng
    terms = []
    for cell in cells:
        c_lat, c_lng = cell_to_latlng(cell)
        c_phi = c_lat * to_rad
        s1 = sin((c_phi - phi0) / 2)
        s2 = sin((c_lng * to_rad - lmb0) / 2)
        terms.append(s1 * s1 + cos_phi0 * cos(c_phi) * s2 * s2)
    return terms


_TO_RAD = math.pi / 180  # as in cover_circle_at


def cells_holding(lat: float, lng: float, res: int, coarser: int) -> list[tuple[int, int, float]]:
    """(lo, hi, area in m²) of the cell holding the point at ``res`` and at each of the next
    ``coarser`` resolutions, finest first: one range of leaf ids each."""
    out = []
    for r in range(res, max(0, res - coarser) - 1, -1):
        cell = h3.latlng_to_cell(lat, lng, r)
        out.append((*_leaf_range_at(cell, r), h3.cell_area(cell, "m^2")))
    return out


# --- Drawing the grid -------------------------------------------------------------------------
# Resolution of the hexagons drawn on the console map (about 0.7 km² each).
MAP_HEX_RES = 8


@lru_cache(maxsize=65536)
def _centre(cell: int) -> tuple[float, float]:
    return h3.cell_to_latlng(cell)


@lru_cache(maxsize=65536)
def _cached_circumradius_m(cell: int) -> float:
    clat, clng = _centre(cell)
    return max(distance_m(clat, clng, *v) for v in h3.cell_to_boundary(cell))


@lru_cache(maxsize=4096)
def hexes_covering(
    lat: float, lng: float, radius_m: float, res: int = MAP_HEX_RES
) -> tuple[tuple[int, float], ...]:
    """H3 cells at ``res`` whose centre lies within ``radius_m`` plus the cell's circumradius
    of the point (every cell that touches the circle, and a few that nearly do), each with the
    distance from the point to its centre.

    Pure geometry, so cached per process (as are the cells' shapes); the cache only saves work.
    """
    origin = h3.latlng_to_cell(lat, lng, res)
    edge = h3.average_hexagon_edge_length(res, "m")
    # Ring k's nearest centres are k * 1.5 edges away (less a margin for distortion).
    k = math.ceil((radius_m + 2 * edge) / (1.5 * edge * 0.85)) + 1
    cells = []
    for cell in h3.grid_disk(origin, k):
        d = distance_m(lat, lng, *_centre(cell))
        # A cell's circumradius is its edge length, which stays well within 0.4-2 average
        # edges: only the cells in between need their own measured.
        if d <= radius_m + 0.4 * edge or (
            d <= radius_m + 2 * edge and d <= radius_m + _cached_circumradius_m(cell)
        ):
            cells.append((cell, d))
    return tuple(sorted(cells))


@lru_cache(maxsize=65536)
def cell_ring_lnglat(cell: int) -> tuple:
    # 5 decimals is about a metre: plenty for drawing, and it keeps the payload small.
    ring = tuple((round(lng, 5), round(lat, 5)) for lat, lng in h3.cell_to_boundary(cell))
    return (*ring, ring[0])
