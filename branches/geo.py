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
(exact distance decides) and cells outside (dropped), compacts the inside ones and merges
adjacent ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from h3.api import basic_int as h3

EARTH_RADIUS_M = 6_371_008.8
LEAF_RES = 15
# Bit layout of an H3 index: resolution in bits 52-55, then 15 three-bit digits (res 1 first).
_RES_SHIFT = 52
_RES_MASK = 0xF << _RES_SHIFT
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


def query_res(radius_m: float) -> int:
    """A covering resolution whose cells are about a twelfth of the radius across."""
    for res in range(0, LEAF_RES + 1):
        if h3.average_hexagon_edge_length(res, "m") <= radius_m / 12:
            return res
    return LEAF_RES


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
    res = query_res(radius_m)
    origin = h3.latlng_to_cell(lat, lng, res)
    reach = _circumradius_m(origin) * _CIRCUMRADIUS_MARGIN
    k = math.ceil((radius_m + reach) / _ring_step_m(origin)) + 1
    inside: list[int] = []
    rim: list[int] = []
    for cell in h3.grid_disk(origin, k):
        clat, clng = h3.cell_to_latlng(cell)
        d = distance_m(lat, lng, clat, clng)
        if d + reach <= radius_m:
            inside.append(cell)
        elif d - reach <= radius_m:
            rim.append(cell)
    inside_ranges = [leaf_range(c) for c in h3.compact_cells(inside)] if inside else []
    return Covering(
        inside=merge_ranges(inside_ranges),
        rim=merge_ranges([leaf_range(c) for c in rim]),
    )


@dataclass(frozen=True)
class Ring:
    """Cells within ``k`` steps of the origin cell, and how far from the query point every
    point outside them is guaranteed to be (``clear_m``)."""

    ranges: list[tuple[int, int]]
    clear_m: float


def disk_around(lat: float, lng: float, radius_m: float, k: int) -> Ring:
    """The k-disk of cells (at the radius's query resolution) around the point."""
    res = query_res(radius_m)
    origin = h3.latlng_to_cell(lat, lng, res)
    reach = _circumradius_m(origin) * _CIRCUMRADIUS_MARGIN
    # Anything outside the k-disk lies in ring k+1 or beyond; the segment to it crosses ring k+1,
    # so its distance is at least the nearest ring-(k+1) cell's centre distance less its reach.
    cells = h3.grid_disk(origin, k)
    # (set difference rather than grid_ring, which refuses to run near a pentagon)
    next_ring = set(h3.grid_disk(origin, k + 1)).difference(cells)
    clear = min(distance_m(lat, lng, *h3.cell_to_latlng(cell)) - reach for cell in next_ring)
    return Ring(ranges=merge_ranges([leaf_range(c) for c in cells]), clear_m=max(0.0, clear))
