"""Offers near me sorted by newest and most claimed: every page equals the answer found by
brute force (every offer, its distance in Python, sorted), on PostgreSQL's per-cell statement
and on the portable sort alike; the claimed counts the sort reads are copied by a beat job."""

import random
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from h3.api import basic_int as h3

from branches import geo
from coupons import services, tasks
from coupons.models import OFFER_CELL_RES, Offer, offer_cell_of
from coupons.selectors.customer import (
    SORT_KEYS,
    _bounding_box,
    offer_cells_near,
    offers_near,
)
from merchants import services as merchant_services
from tests.coupons.factories import live_template
from tests.factories import UserFactory
from tests.merchants.factories import BRANCH_A, approved_merchant, near

pytestmark = pytest.mark.django_db

RADIUS = 3000
# (bearing, metres from BRANCH_A, category) of each shop's first store: inside the circle at
# every distance, across several res-7 cells, and a few outside it.
SHOPS = [
    (0, 150, "food"),
    (40, 600, "drinks_desserts"),
    (80, 1100, "food"),
    (120, 1700, "retail"),
    (160, 2300, "food"),
    (200, 2800, "drinks_desserts"),
    (240, 2990, "food"),
    (280, 3050, "food"),  # just outside
    (320, 900, "retail"),
    (10, 2000, "food"),
    (100, 2600, "drinks_desserts"),
    (300, 4000, "food"),  # outside
]


# --- Pure geometry --------------------------------------------------------------------------


def test_offer_cell_is_the_h3_parent_of_the_leaf_cell():
    rng = random.Random(7)
    for _ in range(2000):
        leaf = geo.leaf_cell(rng.uniform(-80, 80), rng.uniform(-180, 180))
        assert offer_cell_of(leaf) == h3.cell_to_parent(leaf, OFFER_CELL_RES)


@pytest.mark.parametrize(
    "point", [BRANCH_A, (30.1, 119.9), (59.9, 30.3), (-33.9, 151.2), (0.01, 179.99)]
)
def test_the_cells_and_the_box_hold_every_point_within_the_radius(point):
    cells = set(offer_cells_near(*point, RADIUS))
    lat_lo, lat_hi, lng_lo, lng_hi = _bounding_box(*point, RADIUS)
    rng = random.Random(str(point))
    for _ in range(3000):
        # Most on the rim, where a missing cell or a tight box would show.
        metres = RADIUS * (1 - rng.random() ** 4)
        lat, lng = geo.destination(*point, rng.uniform(0, 360), metres)
        assert h3.cell_to_parent(geo.leaf_cell(lat, lng), OFFER_CELL_RES) in cells
        assert lat_lo <= lat <= lat_hi
        if lng_lo is not None:
            assert lng_lo <= lng <= lng_hi
    assert len(cells) < 40  # and not the whole neighbourhood


# --- Against brute force --------------------------------------------------------------------


@pytest.fixture
def city(head_office):
    """Shops around BRANCH_A, some chains with a second store elsewhere (an offer per store,
    the same publication time: ties the distance breaks), templates claimed 0-3 times (ties on
    the count), then the beat job."""
    customer = UserFactory(role="customer")
    rng = random.Random(11)
    templates = []
    for i, (bearing, metres, category) in enumerate(SHOPS):
        shop = approved_merchant(
            reviewer=head_office,
            business_name=f"Shop {i}",
            category=category,
            location=near(bearing=bearing, metres=metres),
        )
        owner = shop.application.applicant
        if i % 3 == 0:
            lat, lng = near(bearing=bearing + 150, metres=rng.uniform(300, 3300))
            merchant_services.store_add(
                actor=owner, merchant_id=shop.pk, name="Second", address="2 Road", lat=lat, lng=lng
            )
        for n in range(1 + i % 3):
            template = live_template(
                owner=owner, reviewer=head_office, title=f"T{i}-{n}", per_customer_limit=5
            )
            for _ in range(rng.choice([0, 0, 1, 2, 3])):
                services.coupon_claim(
                    customer=customer, template_id=template.pk, claim_key=uuid.uuid4().hex
                )
            templates.append(template)
    tasks.refresh_offer_popularity()
    return templates


def brute_force(lat, lng, sort, *, category=None, q=None):
    now = timezone.now()
    rows = []
    for offer in Offer.objects.select_related("template"):
        distance = geo.distance_m(lat, lng, offer.lat, offer.lng)
        if distance > RADIUS or offer.claim_end <= now:
            continue
        if category and offer.category != category:
            continue
        if q and q.lower() not in offer.merchant_name.lower():
            continue
        keys = [offer.published_at.timestamp()]
        if sort == "popular":
            keys.insert(0, offer.template.claimed)
        rows.append(([-k for k in keys], distance, offer.pk))
    return [pk for *_, pk in sorted(rows)]


@pytest.mark.parametrize("sort", sorted(SORT_KEYS))
@pytest.mark.parametrize(
    ("category", "q"),
    [(None, None), ("food", None), (None, "shop 1"), ("drinks_desserts", "shop 1")],
)
@pytest.mark.parametrize("point", [BRANCH_A, near(bearing=130, metres=1500)])
def test_every_page_equals_the_brute_force_answer(city, sort, category, q, point):
    expected = brute_force(*point, sort, category=category, q=q)
    assert len(expected) >= (5 if q is None else 1)  # something to page through
    seen = []
    for page in range(1, len(expected) + 2):
        found = offers_near(
            lat=point[0], lng=point[1], sort=sort, category=category, q=q, page=page, per_page=2
        )
        assert [o.pk for o in found.results] == expected[(page - 1) * 2 : page * 2]
        seen += [o.pk for o in found.results]
        if not found.has_next:
            break
    assert seen == expected  # each offer once, in order, and none missing


def test_ties_in_the_sort_keys_are_nearest_first(city):
    """A chain's template has an offer at each store: same count, same publication time."""
    found = offers_near(lat=BRANCH_A[0], lng=BRANCH_A[1], sort="popular", per_page=100)
    keys = [(-o.popularity, -o.published_at.timestamp(), o.distance_m) for o in found.results]
    assert keys == sorted(keys)
    assert len({(k[0], k[1]) for k in keys}) < len(keys)  # there were ties to break


@pytest.mark.parametrize("sort", sorted(SORT_KEYS))
def test_tied_offers_in_one_cell_are_nearest_first(head_office, sort):
    """One template at three stores of one cell: the same sort keys, so the cell's scan must
    keep every tied offer for the distance to decide (the nearest is the northernmost, and
    the index holds them southernmost first)."""
    south_far, south, north = (
        near(bearing=180, metres=300),
        near(bearing=180, metres=200),
        near(bearing=0, metres=100),
    )
    shop = approved_merchant(reviewer=head_office, location=south_far)
    owner = shop.application.applicant
    for name, (lat, lng) in (("South", south), ("North", north)):
        merchant_services.store_add(
            actor=owner, merchant_id=shop.pk, name=name, address="1 Road", lat=lat, lng=lng
        )
    template = live_template(owner=owner, reviewer=head_office)
    offers = Offer.objects.filter(template=template)
    assert offers.count() == 3 and len({o.coarse_cell for o in offers}) == 1
    found = [
        offers_near(lat=BRANCH_A[0], lng=BRANCH_A[1], sort=sort, page=page, per_page=1)
        for page in (1, 2, 3)
    ]
    assert [p.results[0].store.name for p in found][:2] == ["North", "South"]
    assert [round(p.results[0].distance_m) for p in found] == [100, 200, 300]


@pytest.mark.postgres
def test_postgresql_reads_cell_by_cell_in_one_query(city):
    with CaptureQueriesContext(connection) as captured:
        offers_near(lat=BRANCH_A[0], lng=BRANCH_A[1], sort="newest")
    sqls = [q["sql"] for q in captured.captured_queries]
    assert len(sqls) == 2  # the page's offers, then their templates and stores
    assert "WITH TIES" in sqls[0] and "coarse_cell" in sqls[0]


# --- The claimed count on the offers ---------------------------------------------------------


def test_the_beat_job_copies_claimed_counts_and_writes_only_what_changed(owner, officer):
    popular = live_template(owner=owner, reviewer=officer, title="Popular", per_customer_limit=5)
    quiet = live_template(owner=owner, reviewer=officer, title="Quiet")
    customer = UserFactory(role="customer")
    assert tasks.refresh_offer_popularity() == 0
    for _ in range(3):
        services.coupon_claim(customer=customer, template_id=popular.pk, claim_key=uuid.uuid4().hex)
    # A claim writes nothing on the offers: the sort lags until the job runs.
    assert Offer.objects.get(template=popular).popularity == 0
    first = offers_near(lat=BRANCH_A[0], lng=BRANCH_A[1], sort="popular").results
    assert [o.template_id for o in first] == [quiet.pk, popular.pk]  # newest breaks the tie

    assert tasks.refresh_offer_popularity() == 1
    assert Offer.objects.get(template=popular).popularity == 3
    assert Offer.objects.get(template=quiet).popularity == 0
    after = offers_near(lat=BRANCH_A[0], lng=BRANCH_A[1], sort="popular").results
    assert [o.template_id for o in after] == [popular.pk, quiet.pk]
    assert tasks.refresh_offer_popularity() == 0


def test_published_again_the_offers_carry_the_count(owner, officer):
    template = live_template(owner=owner, reviewer=officer, per_customer_limit=5)
    customer = UserFactory(role="customer")
    for _ in range(2):
        services.coupon_claim(
            customer=customer, template_id=template.pk, claim_key=uuid.uuid4().hex
        )
    services.template_pause(actor=owner, template_id=template.pk)
    services.template_resume(actor=owner, template_id=template.pk)
    offer = Offer.objects.get(template=template)
    assert offer.popularity == 2
    assert offer.coarse_cell == h3.cell_to_parent(offer.h3_cell, OFFER_CELL_RES)


# --- The page -------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["newest", "popular"])
def test_load_more_links_page_through_every_offer_once(client, branch, owner, officer, sort):
    for n in range(23):
        live_template(owner=owner, reviewer=officer, title=f"Offer {n:02d}")
    url = reverse("coupons:offers") + f"?area={branch.pk}&sort={sort}"
    titles = []
    while url:
        body = client.get(url).content.decode()
        titles += re.findall(r'<div class="value">[^<]*</div>\s*<div>([^<]*)</div>', body)
        more = re.search(r'<li class="more" id="load-more">\s*<a [^>]*href="([^"]+)"', body)
        url = reverse("coupons:offers") + more.group(1).replace("&amp;", "&") if more else None
    assert titles == [f"Offer {n:02d}" for n in reversed(range(23))]
