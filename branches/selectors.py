"""Reads of the grid: what lies within a radius, the nearest first, who owns a point.

Every query goes through the H3 leaf-cell index (``h3_cell BETWEEN lo AND hi``) and then
decides by exact great-circle distance only on the rim; nothing scans every row. The functions
take any queryset of a ``Located`` model (branches now, merchant stores later), so the caller's
scope (active branches only, one merchant's stores...) stays in the queryset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.conf import settings
from django.db.models import F, FloatField, Q, QuerySet, Value
from django.db.models.functions import ASin, Cos, Power, Radians, Sin, Sqrt

from . import geo
from .models import Branch

# Ring sizes tried before falling back to the full 3 km covering (at the query resolution).
_NEAREST_STEPS = (2, 6)


def grid_radius_m() -> float:
    return float(settings.ALLIANCE_GRID_RADIUS_M)


def distance_expression(lat: float, lng: float):
    """SQL for the haversine distance in metres from (lat, lng) to the row's point.

    The same formula as ``geo.distance_m``, so Python and the database agree on the rim.
    """
    lat_r = math.radians(lat)
    half_dphi = (Radians(F("lat")) - Value(lat_r, output_field=FloatField())) / 2
    half_dlmb = (Radians(F("lng")) - Value(math.radians(lng), output_field=FloatField())) / 2
    a = Power(Sin(half_dphi), 2) + Cos(Radians(F("lat"))) * Value(
        math.cos(lat_r), output_field=FloatField()
    ) * Power(Sin(half_dlmb), 2)
    return Value(2 * geo.EARTH_RADIUS_M, output_field=FloatField()) * ASin(Sqrt(a))


def _ranges_q(ranges: list[tuple[int, int]]) -> Q:
    if not ranges:
        return Q(pk__in=[])
    return reduce(or_, (Q(h3_cell__range=r) for r in ranges))


def count_within(qs: QuerySet, *, lat: float, lng: float, radius_m: float | None = None) -> int:
    """How many rows of ``qs`` lie within ``radius_m`` (inclusive) of the point."""
    radius = grid_radius_m() if radius_m is None else radius_m
    cover = geo.cover_circle(lat, lng, radius)
    inside = qs.filter(_ranges_q(cover.inside)).count() if cover.inside else 0
    rim = (
        qs.filter(_ranges_q(cover.rim))
        .alias(distance_m=distance_expression(lat, lng))
        .filter(distance_m__lte=radius)
        .count()
        if cover.rim
        else 0
    )
    return inside + rim


def within(qs: QuerySet, *, lat: float, lng: float, radius_m: float | None = None) -> QuerySet:
    """``qs`` narrowed to the rows within the radius, annotated with ``distance_m``."""
    radius = grid_radius_m() if radius_m is None else radius_m
    cover = geo.cover_circle(lat, lng, radius)
    return (
        qs.filter(_ranges_q(cover.inside + cover.rim))
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

    Looks in a small disk of cells first and widens only when the disk cannot prove that the
    rows it found are the nearest: the answer is exact, the work grows with local density.
    """
    radius = grid_radius_m() if radius_m is None else radius_m
    need = offset + limit
    ordered = ("distance_m", "pk")
    for k in _NEAREST_STEPS:
        disk = geo.disk_around(lat, lng, radius, k)
        if disk.clear_m >= radius:
            break
        rows = list(
            qs.filter(_ranges_q(disk.ranges))
            .annotate(distance_m=distance_expression(lat, lng))
            .filter(distance_m__lte=radius)
            .order_by(*ordered)[:need]
        )
        if len(rows) == need and rows[-1].distance_m <= disk.clear_m:
            return rows[offset:]
    return list(within(qs, lat=lat, lng=lng, radius_m=radius).order_by(*ordered)[offset:need])


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
