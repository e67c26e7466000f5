"""Reads for the customer pages and API: offers near a point, a template's rules, the wallet.

Every read runs a fixed number of queries whatever the number of rows: the offer list goes
through the grid index (``branches.selectors``) with the template and store joined in; the
wallet joins the template and its merchant. Input from the query string is parsed here once
(``parse_offer_query``), for the page and the API alike, into typed values or ``invalid``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from django.db import connections
from django.db.models import Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from h3.api import basic_int as h3

from branches import geo
from branches.selectors import (
    active_branches,
    distance_expression,
    grid_radius_m,
    nearest_within,
    within,
)
from merchants.models import Category, Merchant, Store

from ..errors import CouponNotFound, InvalidInput
from ..models import OFFER_CELL_RES, Coupon, CouponTemplate, Offer
from ..wording import (
    distance_label,
    value_label,
)

Status = CouponTemplate.Status
Kind = CouponTemplate.Kind

SORTS = {
    "distance": gettext_lazy("Nearest"),
    "newest": gettext_lazy("Newest"),
    "popular": gettext_lazy("Most claimed"),
}
# The columns each sort orders by, all descending; then nearest first, then by primary key.
SORT_KEYS = {"newest": ("published_at",), "popular": ("popularity", "published_at")}
PER_PAGE = 20
MAX_PAGE = 500
VISIBLE = (Status.LIVE, Status.PAUSED, Status.ENDED)


# --- Offers near a point ----------------------------------------------------------------------


@dataclass(frozen=True)
class OfferPage:
    """One page of offers, each an ``Offer`` with ``distance_m`` and its template and store."""

    results: list[Offer]
    page: int
    per_page: int
    has_next: bool

    @property
    def next_page(self) -> int | None:
        return self.page + 1 if self.has_next else None


def live_offers(*, now: datetime, category: str | None = None, q: str | None = None) -> QuerySet:
    """Offers claimable from now on, narrowed by category and name. Offer rows exist only for
    live templates of active merchants (the services that pause, end, suspend and close
    remove them), so the spatial query reads the offer table alone."""
    offers = Offer.objects.filter(claim_end__gt=now)
    if category:
        offers = offers.filter(category=category)
    if q:
        offers = offers.filter(merchant_name__icontains=q)
    return offers


def _with_details(found: list[tuple[int, float]]) -> list[Offer]:
    """The page's offers, with their template and store, in the order found (one query).

    The spatial query sorts thousands of candidates for a page of twenty; joining the
    template and store to the page only, by primary key, keeps them out of that sort.
    """
    rows = Offer.objects.select_related("template", "store").in_bulk([pk for pk, _ in found])
    page = []
    for pk, distance in found:
        offer = rows[pk]
        offer.distance_m = distance
        offer.distance_label = distance_label(distance)
        offer.value_label = value_label(offer.template)
        page.append(offer)
    return page


def offers_near(
    *,
    lat: float,
    lng: float,
    category: str | None = None,
    q: str | None = None,
    sort: str = "distance",
    page: int = 1,
    per_page: int = PER_PAGE,
    now=None,
) -> OfferPage:
    """Offers within the grid radius (3 km) of the point, one page, sorted by ``sort``.

    distance: nearest first (``nearest_within``: the work grows with the page, not the
    density); newest: latest published first; popular: most claimed first (the count of the
    last ``offers_refresh_popularity``, at most five minutes old), then latest published;
    ties nearest first. One row more than the page is read to know whether there is a next
    page (no count); the page's templates and stores come in one more query. No query per
    offer. Raises ``invalid`` for an unknown sort or category.
    """
    if sort not in SORTS:
        raise InvalidInput({"sort": _("Choose nearest, newest or most claimed.")})
    if category and category not in Category.values:
        raise InvalidInput({"category": _("Choose one of the categories.")})
    page, per_page = max(1, int(page)), max(1, int(per_page))
    now = now or timezone.now()
    offers = live_offers(now=now, category=category, q=(q or "").strip() or None)
    offset = (page - 1) * per_page
    if sort == "distance":
        nearest = nearest_within(
            offers.only("pk"), lat=lat, lng=lng, limit=per_page + 1, offset=offset
        )
        found = [(offer.pk, offer.distance_m) for offer in nearest]
    else:
        found = top_within(
            offers,
            lat=lat,
            lng=lng,
            keys=SORT_KEYS[sort],
            offset=offset,
            limit=per_page + 1,
        )
    return OfferPage(
        results=_with_details(found[:per_page]) if found else [],
        page=page,
        per_page=per_page,
        has_next=len(found) > per_page,
    )


def top_within(
    offers: QuerySet,
    *,
    lat: float,
    lng: float,
    keys: tuple[str, ...],
    offset: int,
    limit: int,
) -> list[tuple[int, float]]:
    """(pk, distance_m) of the offers within the grid radius, ordered by ``keys`` descending,
    then nearest, then pk: rows ``offset`` to ``offset + limit``.

    On PostgreSQL, ``_top_by_cell``; elsewhere (the SQLite demo) every offer in the circle
    is sorted: the same order, so the same answer.
    """
    radius = grid_radius_m()
    if connections[offers.db].vendor == "postgresql":
        return _top_by_cell(offers, lat, lng, radius, keys, offset + limit)[offset:]
    nearby = within(offers, lat=lat, lng=lng, radius_m=radius)
    nearby = nearby.order_by(*(f"-{key}" for key in keys), "distance_m", "pk")
    return list(nearby.values_list("pk", "distance_m")[offset : offset + limit])


def _top_by_cell(
    offers: QuerySet, lat: float, lng: float, radius: float, keys: tuple[str, ...], need: int
) -> list[tuple[int, float]]:
    """The first ``need`` offers in the circle by ``keys``, distance, pk, in one statement.

    For each cell of ``OFFER_CELL_RES`` that touches the circle (``offer_cells_near``), the
    database reads the cell's offers in ``keys`` order on the (coarse_cell, keys...) index,
    skipping in the index those outside the bounding box, expired, of another category or
    another name than searched (the scan never visits the table), and
    keeps the first ``need`` within the radius, with every offer tied with the last of them
    (``WITH TIES``). Those hold the answer: an offer among the circle's first ``need`` has
    fewer than ``need`` offers ahead of it, so fewer than ``need`` in its cell with greater
    keys: it is among its cell's first ``need``, or tied with the last of them. The few hundred
    rows found are sorted by the full order. The work grows with the cells and the page, not
    with the offers in the circle.
    """
    lat_lo, lat_hi, lng_lo, lng_hi = _bounding_box(lat, lng, radius)
    in_cell = (
        offers.filter(coarse_cell=RawSQL("_cells.cell", ()), lat__range=(lat_lo, lat_hi))
        .annotate(distance_m=distance_expression(lat, lng))
        .filter(distance_m__lte=radius)
        .order_by(*(f"-{key}" for key in keys))
    )
    if lng_lo is not None:
        in_cell = in_cell.filter(lng__range=(lng_lo, lng_hi))
    inner_sql, inner_params = (
        in_cell.values_list("pk", *keys, "distance_m").query.get_compiler(using=offers.db).as_sql()
    )
    last = len(keys) + 1  # the distance's column; the pk is _k0
    columns = ", ".join(f"_k{i}" for i in range(last + 1))
    order = "".join(f"_o._k{i} DESC, " for i in range(1, last))
    sql = (
        f"SELECT _o._k0, _o._k{last} FROM unnest(%s::bigint[]) AS _cells(cell)"
        f" CROSS JOIN LATERAL ({inner_sql} FETCH FIRST %s ROWS WITH TIES) AS _o({columns})"
        f" ORDER BY {order}_o._k{last}, _o._k0 LIMIT %s"
    )
    cells = "{" + ",".join(map(str, offer_cells_near(lat, lng, radius))) + "}"
    with connections[offers.db].cursor() as cursor:
        cursor.execute(sql, [cells, *inner_params, need, need])
        return cursor.fetchall()


def _bounding_box(
    lat: float, lng: float, radius: float
) -> tuple[float, float, float | None, float | None]:
    """Latitudes and longitudes that hold every point within ``radius`` of the point, a
    little wider so that no rounding drops a point on the rim (the distance decides); no
    longitudes when the circle reaches a pole or the 180th meridian."""
    angle = radius / geo.EARTH_RADIUS_M
    dlat = math.degrees(angle) * (1 + 1e-6) + 1e-9
    lat_lo, lat_hi = lat - dlat, lat + dlat
    if lat_lo <= -90 or lat_hi >= 90:
        return lat_lo, lat_hi, None, None
    dlng = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat)))))
    dlng = dlng * (1 + 1e-6) + 1e-9
    if lng - dlng <= -180 or lng + dlng >= 180:
        return lat_lo, lat_hi, None, None
    return lat_lo, lat_hi, lng - dlng, lng + dlng


@lru_cache(maxsize=65536)
def _cell_shape(cell: int) -> tuple[float, float, float]:
    """(centre lat, centre lng, reach): every point of the cell lies within ``reach`` of its
    centre (the farthest corner, with a margin for the edges' curvature). Cached: geometry."""
    clat, clng = h3.cell_to_latlng(cell)
    corner = max(geo.distance_m(clat, clng, *v) for v in h3.cell_to_boundary(cell))
    return clat, clng, corner * 1.15


def offer_cells_near(lat: float, lng: float, radius_m: float) -> list[int]:
    """The cells of ``OFFER_CELL_RES`` that may hold a point within ``radius_m`` of the point:
    those whose centre is within the radius plus the cell's reach."""
    origin = h3.latlng_to_cell(lat, lng, OFFER_CELL_RES)
    *_centre, reach = _cell_shape(origin)
    # A wanted cell's centre lies within the radius and two reaches of the origin's centre;
    # ring k lies some 1.3 k reaches from it (1.5 k edges): one reach per ring is ample.
    k = math.ceil((radius_m + 3 * reach) / reach) + 1
    cells = []
    for cell in h3.grid_disk(origin, k):
        clat, clng, cell_reach = _cell_shape(cell)
        if geo.distance_m(lat, lng, clat, clng) <= radius_m + cell_reach:
            cells.append(cell)
    return cells


@dataclass(frozen=True)
class OfferQuery:
    """What the offer list was asked for: a point (typed, or an area's branch), filters."""

    lat: float | None = None
    lng: float | None = None
    area: int | None = None
    area_name: str = ""
    category: str = ""
    sort: str = "distance"
    q: str = ""
    page: int = 1
    errors: dict = field(default_factory=dict)

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lng is not None


def _number(raw: str, low: float, high: float) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or not low <= value <= high:
        return None
    return value


def parse_offer_query(params) -> OfferQuery:
    """Parse ``lat, lng, area, category, sort, q, page`` from a query dict, never failing:
    bad values are dropped and reported in ``errors`` (field -> message). A typed point wins
    over an area; an area is an open branch's location."""
    errors: dict[str, str] = {}
    values: dict = {}
    raw_lat, raw_lng = (params.get("lat") or "").strip(), (params.get("lng") or "").strip()
    if raw_lat or raw_lng:
        lat, lng = _number(raw_lat, -90, 90), _number(raw_lng, -180, 180)
        if lat is None:
            errors["lat"] = _("Latitude must be a number from -90 to 90.")
        if lng is None:
            errors["lng"] = _("Longitude must be a number from -180 to 180.")
        if lat is not None and lng is not None:
            values.update(lat=lat, lng=lng)
    raw_area = (params.get("area") or "").strip()
    if raw_area:
        branch = None
        if raw_area.isdigit() and len(raw_area) < 12:
            branch = active_branches().filter(pk=int(raw_area)).first()
        if branch is None:
            errors["area"] = _("Choose one of the areas.")
        else:
            values.update(area=branch.pk, area_name=branch.name)
            if "lat" not in values:
                values.update(lat=branch.lat, lng=branch.lng)
    category = (params.get("category") or "").strip()
    if category and category not in Category.values:
        errors["category"] = _("Choose one of the categories.")
    elif category:
        values["category"] = category
    sort = (params.get("sort") or "").strip() or "distance"
    if sort not in SORTS:
        errors["sort"] = _("Choose nearest, newest or most claimed.")
    else:
        values["sort"] = sort
    values["q"] = (params.get("q") or "").strip()[:50]
    raw_page = (params.get("page") or "").strip() or "1"
    if raw_page.isdigit() and 1 <= int(raw_page) <= MAX_PAGE:
        values["page"] = int(raw_page)
    else:
        errors["page"] = _("No such page.")
    return OfferQuery(errors=errors, **values)


def area_choices() -> list:
    """Open branches as areas a customer without location can pick (name, lat, lng)."""
    return list(active_branches().only("pk", "name", "lat", "lng").order_by("name", "pk"))


# --- A template, a merchant --------------------------------------------------------------------


def template_for_customer(template_id: int) -> CouponTemplate:
    """A live, paused or ended template with its merchant and stores; anything else (drafts,
    submitted, rejected, approved but not published) is ``coupon_not_found``."""
    template = (
        CouponTemplate.objects.select_related("merchant")
        .prefetch_related(Prefetch("stores", queryset=Store.objects.order_by("pk")))
        .filter(pk=template_id, status__in=VISIBLE)
        .first()
    )
    if template is None:
        raise CouponNotFound()
    return template


def claim_state(template: CouponTemplate, *, now: datetime | None = None) -> str:
    """Whether anybody can claim it now: "open", or why not ("not_claimable", "ended",
    "paused", "not_started", "sold_out"). The claim service decides; this only labels."""
    from ..services.claiming import FOR_POINTS, FREE, refusal

    reason = refusal(template, now=now or timezone.now(), obtain=FREE + FOR_POINTS)
    return "open" if reason is None else reason.code.removeprefix("coupon_")


@dataclass(frozen=True)
class MerchantPage:
    merchant: Merchant
    stores: list[Store]
    templates: list[CouponTemplate]


def merchant_for_customer(
    merchant_id: int, *, lat: float | None = None, lng: float | None = None, now=None
) -> MerchantPage:
    """An active merchant, its stores (with ``distance_m`` from the point, if any) and its
    templates claimable now or later (live, claim not ended). Three queries."""
    now = now or timezone.now()
    merchant = Merchant.objects.filter(pk=merchant_id, status=Merchant.Status.ACTIVE).first()
    if merchant is None:
        raise CouponNotFound(_("No such merchant."))
    stores = list(merchant.stores.order_by("pk"))
    for store in stores:
        store.distance_m = (
            geo.distance_m(lat, lng, store.lat, store.lng) if lat is not None else None
        )
        store.distance_label = distance_label(store.distance_m)
    if lat is not None:
        stores.sort(key=lambda s: (s.distance_m, s.pk))
    templates = list(
        CouponTemplate.objects.filter(merchant=merchant, status=Status.LIVE, claim_end__gt=now)
        .select_related("merchant")
        .order_by("-published_at", "-pk")
    )
    for template in templates:
        template.value_label = value_label(template)
    return MerchantPage(merchant=merchant, stores=stores, templates=templates)


# --- The wallet -----------------------------------------------------------------------------

WALLET_TABS = {
    "active": pgettext_lazy("coupon", "Active"),
    "used": gettext_lazy("Used"),
    "expired": pgettext_lazy("coupon", "Expired"),
}


def wallet(user, status: str = "active", *, now=None) -> QuerySet:
    """The customer's coupons on one tab, with template and merchant joined.

    active: issued and not past ``valid_until`` (soonest to expire first); used: verified;
    expired: expired, issued but past ``valid_until`` (the expiry job has not run yet),
    refunded or voided — everything no longer usable that was not used.
    """
    if status not in WALLET_TABS:
        raise InvalidInput({"status": _("Choose active, used or expired.")})
    now = now or timezone.now()
    S = Coupon.Status
    coupons = Coupon.objects.filter(customer_id=user.pk).select_related(
        "template", "template__merchant"
    )
    if status == "active":
        return coupons.filter(status=S.ISSUED, valid_until__gt=now).order_by("valid_until", "pk")
    if status == "used":
        return coupons.filter(status=S.VERIFIED).order_by("-closed_at", "-pk")
    return coupons.filter(
        Q(status__in=(S.EXPIRED, S.REFUNDED, S.VOIDED)) | Q(status=S.ISSUED, valid_until__lte=now)
    ).order_by("-valid_until", "-pk")


def wallet_coupon(user, coupon_id: int) -> Coupon:
    """One of the customer's own coupons; anybody else's is ``coupon_not_found``."""
    coupon = (
        Coupon.objects.select_related("template", "template__merchant")
        .filter(pk=coupon_id, customer_id=user.pk)
        .first()
    )
    if coupon is None:
        raise CouponNotFound()
    return coupon


def wallet_state(coupon: Coupon, *, now=None) -> str:
    """The tab a coupon sits on (an issued coupon past ``valid_until`` counts as expired)."""
    now = now or timezone.now()
    if coupon.status == Coupon.Status.ISSUED:
        return "active" if coupon.valid_until > now else "expired"
    return "used" if coupon.status == Coupon.Status.VERIFIED else "expired"


def grouped_code(code: str) -> str:
    """ABCD EFGH JKMN: easier to read out and type."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))
