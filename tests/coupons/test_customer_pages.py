"""The customer's coupon pages: offers near me, a merchant, a coupon and its claim button, the
wallet and a coupon's QR. Through URLs, with a signed-in client, asserting what users see."""

import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from coupons import services, tasks
from coupons.models import Coupon
from coupons.views.customer import qr_svg
from tests.coupons.factories import approved_template, draft_template, live_template, typed
from tests.factories import UserFactory
from tests.merchants.factories import approved_merchant, near

pytestmark = pytest.mark.django_db

OFFERS = reverse("coupons:offers")
WALLET = reverse("coupons:wallet")


def english(client):
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def web(client):
    return english(client)


@pytest.fixture
def signed_in(web, customer):
    web.force_login(customer)
    return web


def coupon_url(template) -> str:
    return reverse("coupons:offer_coupon", args=[template.pk])


def claim_url(template) -> str:
    return reverse("coupons:offer_claim", args=[template.pk])


def claim(customer, template, key=None):
    return services.coupon_claim(
        customer=customer, template_id=template.pk, claim_key=key or uuid.uuid4().hex
    )


def text(response) -> str:
    return response.content.decode()


def offer_titles(response) -> list[str]:
    return re.findall(r'<div class="value">([^<]*)</div>\s*<div>([^<]*)</div>', text(response))


# --- Offers near me -------------------------------------------------------------------------


def test_offers_by_area_show_distance_merchant_and_value(web, branch, owner, officer):
    template = live_template(owner=owner, reviewer=officer, title="Autumn tea")
    response = web.get(OFFERS, {"area": branch.pk})
    assert response.status_code == 200
    page = text(response)
    assert "Lakeside Tea House" in page and "Autumn tea" in page
    assert "¥20 off orders of ¥100 or more" in page
    assert "500 m" in page  # the store is 500 m north of the branch
    assert coupon_url(template) in page


def test_offers_by_typed_location_and_nothing_far_away(web, owner, officer):
    live_template(owner=owner, reviewer=officer, title="Close by")
    lat, lng = near(metres=1700, bearing=180)  # the shop is 500 m north: 2.2 km away
    response = web.get(OFFERS, {"lat": f"{lat:.6f}", "lng": f"{lng:.6f}"})
    assert re.search(r'<span class="distance">2\.\d km</span>', text(response))
    far = web.get(OFFERS, {"lat": "31.2304", "lng": "121.4737"})  # Shanghai
    assert "Close by" not in text(far) and "No offers here yet" in text(far)


def test_without_location_the_page_asks_for_it_and_offers_areas(web, branch):
    response = web.get(OFFERS)
    assert response.status_code == 200
    page = text(response)
    assert "navigator.geolocation" in page
    assert f'<option value="{branch.pk}">West Lake</option>' in page
    assert "choose an area" in page


def test_drafts_paused_and_ended_templates_are_not_offered(web, branch, owner, officer):
    live = live_template(owner=owner, reviewer=officer, title="Live one")
    draft_template(owner=owner, title="Draft one")
    approved_template(owner=owner, reviewer=officer, title="Approved one")
    paused = live_template(owner=owner, reviewer=officer, title="Paused one")
    services.template_pause(actor=owner, template_id=paused.pk)
    page = text(web.get(OFFERS, {"area": branch.pk}))
    assert "Live one" in page
    for hidden in ("Draft one", "Approved one", "Paused one"):
        assert hidden not in page
    services.template_end(actor=owner, template_id=live.pk)
    assert "Live one" not in text(web.get(OFFERS, {"area": branch.pk}))


def test_category_filter_and_merchant_search(web, branch, owner, officer, head_office):
    live_template(owner=owner, reviewer=officer, title="Tea offer")
    noodles = approved_merchant(
        reviewer=head_office,
        business_name="Noodle Bar",
        category="food",
        location=near(metres=800, bearing=90),
    )
    live_template(owner=noodles.application.applicant, reviewer=officer, title="Noodle offer")
    page = text(web.get(OFFERS, {"area": branch.pk, "category": "food"}))
    assert "Noodle offer" in page and "Tea offer" not in page
    page = text(web.get(OFFERS, {"area": branch.pk, "q": "noodle"}))
    assert "Noodle offer" in page and "Tea offer" not in page
    page = text(web.get(OFFERS, {"area": branch.pk}))
    assert "Noodle offer" in page and "Tea offer" in page
    assert page.index("Tea offer") < page.index("Noodle offer")  # 500 m before 800 m


def test_sort_newest_and_popular(web, branch, owner, officer, customers):
    older = live_template(owner=owner, reviewer=officer, title="Older")
    newer = live_template(owner=owner, reviewer=officer, title="Newer")
    assert newer.published_at > older.published_at
    for c in customers:
        claim(c, older)
    tasks.refresh_offer_popularity()  # the sort reads the counts the beat job copies
    newest = text(web.get(OFFERS, {"area": branch.pk, "sort": "newest"}))
    assert newest.index("Newer") < newest.index("Older")
    popular = text(web.get(OFFERS, {"area": branch.pk, "sort": "popular"}))
    assert popular.index("Older") < popular.index("Newer")
    assert "3 claimed" in popular


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lat": "abc", "lng": "120.1"}, "Latitude must be a number from -90 to 90."),
        ({"lat": "95", "lng": "120.1"}, "Latitude must be a number from -90 to 90."),
        ({"lat": "30.2", "lng": "nan"}, "Longitude must be a number from -180 to 180."),
        ({"area": "x1"}, "Choose one of the areas."),
        ({"area": "999999"}, "Choose one of the areas."),
        ({"area": "0", "sort": "cheapest"}, "Choose nearest, newest or most claimed."),
        ({"category": "weapons"}, "Choose one of the categories."),
        ({"page": "-1"}, "No such page."),
    ],
)
def test_bad_parameters_give_a_message_not_a_500(web, branch, params, message):
    response = web.get(OFFERS, params)
    assert response.status_code == 200
    assert message in text(response)


def test_load_more_appends_with_htmx_and_works_as_a_link(web, branch, owner, officer):
    for n in range(22):
        live_template(owner=owner, reviewer=officer, title=f"Offer {n:02d}")
    first = web.get(OFFERS, {"area": branch.pk})
    assert len(offer_titles(first)) == 20
    more = re.search(
        r'<li class="more" id="load-more">\s*<a [^>]*href="([^"]+)" hx-get="([^"]+)"', text(first)
    )
    assert more and more.group(1) == more.group(2)
    url = OFFERS + more.group(1).replace("&amp;", "&")
    # Without JavaScript: a normal page with the rest.
    assert len(offer_titles(web.get(url))) == 2
    # With htmx: only the next rows, no page around them, no further "load more".
    partial = web.get(url, headers={"HX-Request": "true", "HX-Target": "load-more"})
    assert "<html" not in text(partial) and len(offer_titles(partial)) == 2
    assert "load-more" not in text(partial)


def test_htmx_form_submission_swaps_only_the_results(web, branch, owner, officer):
    live_template(owner=owner, reviewer=officer, title="Swap me")
    response = web.get(
        OFFERS, {"area": branch.pk}, headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert text(response).lstrip().startswith('<section id="results"')
    assert "Swap me" in text(response)


# --- Merchant and coupon pages ----------------------------------------------------------------


def test_merchant_page_lists_live_offers_and_stores_with_distance(
    web, branch, shop, store, owner, officer
):
    live_template(owner=owner, reviewer=officer, title="Shown")
    draft_template(owner=owner, title="Not shown")
    url = reverse("coupons:offer_merchant", args=[shop.pk])
    page = text(web.get(url, {"lat": branch.lat, "lng": branch.lng}))
    assert "Shown" in page and "Not shown" not in page
    assert store.address in page and "09:00-22:00" in page and "500 m" in page
    assert web.get(reverse("coupons:offer_merchant", args=[999999])).status_code == 404


def test_coupon_page_explains_the_rules_in_plain_words(web, owner, officer):
    template = live_template(
        owner=owner,
        reviewer=officer,
        kind="percent_off",
        pay_percent=85,
        cap_fen=3000,
        discount_fen=0,
        min_spend_fen=0,
        per_customer_limit=2,
        weekdays=31,
        time_slots=[["11:00", "14:00"]],
        start_delay_days=1,
        valid_days=10,
    )
    page = text(web.get(coupon_url(template)))
    assert "Pay 8.5/10 of the bill, up to ¥30 off" in page
    assert "Monday to Friday" in page and "11:00-14:00" in page
    assert "2 per customer" in page
    assert "Usable from 1 day(s) after you claim it, then for 10 day(s)" in page
    assert "Lakeside Tea House (Beishan Road)" in page
    assert "Sign in to claim" in page  # anonymous


def test_gift_and_fixed_validity_wording(web, owner, officer):
    now = timezone.now()
    template = live_template(
        owner=owner,
        reviewer=officer,
        kind="gift",
        gift_item="Longjing tea",
        discount_fen=1500,
        min_spend_fen=0,
        validity="fixed",
        valid_from=now,
        valid_until=now + timedelta(days=30),
    )
    page = text(web.get(coupon_url(template)))
    assert "Free: Longjing tea" in page
    assert timezone.localtime(now + timedelta(days=30)).strftime("%Y-%m-%d") in page


def test_drafts_and_rejected_templates_are_404(web, owner, officer):
    draft = draft_template(owner=owner)
    assert web.get(coupon_url(draft)).status_code == 404
    approved = approved_template(owner=owner, reviewer=officer)
    assert web.get(coupon_url(approved)).status_code == 404
    rejected = draft_template(owner=owner)
    services.template_submit(actor=owner, template_id=rejected.pk)
    services.template_reject(actor=officer, template_id=rejected.pk, reason="Blurry")
    assert web.get(coupon_url(rejected)).status_code == 404


# --- Claiming through the page ---------------------------------------------------------------


def claim_key_of(response) -> str:
    match = re.search(r'name="claim_key" value="([0-9a-f]{32})"', text(response))
    assert match, "the coupon page carries a fresh claim key"
    return match.group(1)


def test_claim_on_the_page_then_the_wallet(signed_in, customer, owner, officer):
    template = live_template(owner=owner, reviewer=officer)
    page = signed_in.get(coupon_url(template))
    key = claim_key_of(page)
    assert claim_key_of(signed_in.get(coupon_url(template))) != key  # fresh per render
    response = signed_in.post(claim_url(template), {"claim_key": key})
    coupon = Coupon.objects.get(customer=customer)
    assert response.status_code == 302
    assert response["Location"] == reverse("coupons:wallet_coupon", args=[coupon.pk])
    assert coupon.claim_key == key


def test_a_double_tap_or_resubmitted_form_gives_one_coupon(signed_in, customer, owner, officer):
    template = live_template(owner=owner, reviewer=officer, per_customer_limit=3)
    key = claim_key_of(signed_in.get(coupon_url(template)))
    first = signed_in.post(claim_url(template), {"claim_key": key})
    second = signed_in.post(claim_url(template), {"claim_key": key})
    assert first["Location"] == second["Location"]
    assert Coupon.objects.filter(customer=customer).count() == 1
    template.refresh_from_db()
    assert template.stock_left == template.total_stock - 1


def test_claim_with_htmx_swaps_the_claim_box(signed_in, customer, owner, officer):
    template = live_template(owner=owner, reviewer=officer)
    response = signed_in.post(
        claim_url(template), {"claim_key": uuid.uuid4().hex}, headers={"HX-Request": "true"}
    )
    coupon = Coupon.objects.get(customer=customer)
    body = text(response)
    assert body.lstrip().startswith('<section id="claim"')
    assert "Claimed! The coupon is in your wallet." in body
    assert reverse("coupons:wallet_coupon", args=[coupon.pk]) in body


def _sold_out(owner, officer, customers):
    template = live_template(owner=owner, reviewer=officer, total_stock=1)
    claim(customers[0], template)
    return template


def _at_limit(owner, officer, customers, customer):
    template = live_template(owner=owner, reviewer=officer)
    claim(customer, template)
    return template


def _not_started(owner, officer, customers):
    now = timezone.now()
    return live_template(
        owner=owner,
        reviewer=officer,
        claim_start=now + timedelta(days=1),
        claim_end=now + timedelta(days=3),
    )


def _ended(owner, officer, customers):
    template = live_template(owner=owner, reviewer=officer)
    return services.template_end(actor=owner, template_id=template.pk)


def _paused(owner, officer, customers):
    template = live_template(owner=owner, reviewer=officer)
    return services.template_pause(actor=owner, template_id=template.pk)


def _daily_cap(owner, officer, customers):
    template = live_template(owner=owner, reviewer=officer, daily_cap=1)
    claim(customers[0], template)
    return template


def _bought(owner, officer, customers):
    return live_template(
        owner=owner, reviewer=officer, kind="paid_voucher", obtain="purchase",
        price_fen=8000, discount_fen=10000,
    )


@pytest.mark.parametrize(
    ("build", "code", "message"),
    [
        (_sold_out, "coupon_out_of_stock", "Sorry, all coupons have been claimed."),
        (_at_limit, "coupon_limit_reached", "You already have the maximum number of this coupon."),
        (_not_started, "coupon_not_started", "This coupon cannot be claimed yet."),
        (_ended, "coupon_ended", "This offer has ended."),
        (_paused, "coupon_paused", "This offer is paused for now. Try again later."),
        (_daily_cap, "coupon_daily_cap_reached", "Try again tomorrow."),
        (_bought, "coupon_not_claimable", "It is bought or exchanged instead."),
    ],
)
def test_each_refusal_is_a_clear_message(
    signed_in, customer, customers, owner, officer, build, code, message
):
    if build is _at_limit:
        template = build(owner, officer, customers, customer)
    else:
        template = build(owner, officer, customers)
    held = Coupon.objects.filter(customer=customer).count()
    response = signed_in.post(claim_url(template), {"claim_key": uuid.uuid4().hex})
    assert response.status_code == 409
    assert f'data-code="{code}"' in text(response) and message in text(response)
    assert Coupon.objects.filter(customer=customer).count() == held
    # With htmx the same message, in the claim box.
    response = signed_in.post(
        claim_url(template), {"claim_key": uuid.uuid4().hex}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and message in text(response)
    if build is _at_limit:
        assert WALLET in text(response)


def test_a_missing_claim_key_is_a_message(signed_in, owner, officer):
    template = live_template(owner=owner, reviewer=officer)
    response = signed_in.post(claim_url(template), {})
    assert response.status_code == 400 and 'data-code="invalid"' in text(response)
    assert not Coupon.objects.exists()


def test_anonymous_claim_goes_to_the_customer_sign_in_and_back(web, owner, officer):
    template = live_template(owner=owner, reviewer=officer)
    response = web.post(claim_url(template), {"claim_key": uuid.uuid4().hex})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={coupon_url(template)}"
    assert not Coupon.objects.exists()


@pytest.mark.parametrize("who", ["owner", "cashier", "officer", "head_office"])
def test_other_roles_are_refused_clearly(web, owner, officer, who, request):
    template = live_template(owner=owner, reviewer=officer)
    web.force_login(request.getfixturevalue(who))
    assert "Only customers can claim coupons." in text(web.get(coupon_url(template)))
    response = web.post(claim_url(template), {"claim_key": uuid.uuid4().hex})
    assert response.status_code == 403
    assert "Only customers can claim coupons." in text(response)
    assert not Coupon.objects.exists()


# --- The wallet -------------------------------------------------------------------------------


def test_wallet_tabs(signed_in, customer, owner, officer, cashier):
    active = claim(customer, live_template(owner=owner, reviewer=officer, title="Active one"))
    used = claim(customer, live_template(owner=owner, reviewer=officer, title="Used one"))
    services.coupon_verify(actor=cashier, code=typed(used), idempotency_key=uuid.uuid4().hex)
    lapsed = claim(customer, live_template(owner=owner, reviewer=officer, title="Lapsed one"))
    Coupon.objects.filter(pk=lapsed.pk).update(
        valid_from=timezone.now() - timedelta(days=9),
        valid_until=timezone.now() - timedelta(days=1),
    )  # past its validity, before the expiry job ran
    voided = claim(customer, live_template(owner=owner, reviewer=officer, title="Voided one"))
    services.coupon_void(actor=owner, coupon_id=voided.pk, reason="Customer asked")
    claim(
        UserFactory(role="customer"), live_template(owner=owner, reviewer=officer, title="Theirs")
    )

    tabs = {tab: text(signed_in.get(WALLET, {"tab": tab})) for tab in ("active", "used", "expired")}
    assert "Active one" in tabs["active"] and "Used one" not in tabs["active"]
    assert "Lapsed one" not in tabs["active"] and "Voided one" not in tabs["active"]
    assert "Used one" in tabs["used"] and "Active one" not in tabs["used"]
    assert "Lapsed one" in tabs["expired"] and "Voided one" in tabs["expired"]
    assert "Active one" not in tabs["expired"]
    assert all("Theirs" not in page for page in tabs.values())
    assert reverse("coupons:wallet_coupon", args=[active.pk]) in tabs["active"]
    bad = signed_in.get(WALLET, {"tab": "everything"})
    assert bad.status_code == 200 and "Choose active, used or expired." in text(bad)


def test_wallet_coupon_shows_a_qr_of_the_token_never_the_code(
    signed_in, customer, owner, officer, cashier
):
    coupon = claim(customer, live_template(owner=owner, reviewer=officer))
    url = reverse("coupons:wallet_coupon", args=[coupon.pk])
    page = text(signed_in.get(url))
    qr = re.search(r'<section id="qr".*?</section>', page, re.S).group(0)
    assert 'hx-trigger="every 30s"' in qr and f'href="{url}"' in qr  # refresh with and without JS
    token = re.search(r'data-token="([^"]+)"', qr).group(1)
    assert services.code_from_token(token) == coupon.code
    assert coupon.code not in token and qr_svg(token) in qr  # the drawn QR is the signed token's
    assert qr_svg(coupon.code) not in qr  # never a QR of the bare code
    assert coupon.code not in qr.replace(token, "")  # nor the code as text in the QR region
    # The digits for typing (they change with the QR), grouped by 4, behind a disclosure; the
    # permanent code is nowhere on the page.
    details = re.search(r'<details class="box" id="typed-code">.*?</details>', page, re.S).group(0)
    shown = re.search(r'<p class="code" id="counter-code">([0-9 ]+)</p>', details).group(1)
    assert shown.split(" ")[0] == shown.replace(" ", "")[:4] and len(shown.replace(" ", "")) == 18
    assert services.coupon_inspect(actor=cashier, code=shown).coupon.pk == coupon.pk
    assert coupon.code not in page.split("<main", 1)[1]
    # htmx refresh: the QR region with a new token for the same code, and the new digits
    # swapped out of band into the disclosure (which stays as the customer left it).
    partial = text(signed_in.get(url, headers={"HX-Request": "true", "HX-Target": "qr"}))
    assert partial.lstrip().startswith('<section id="qr"') and "<html" not in partial
    fresh = re.search(r'data-token="([^"]+)"', partial).group(1)
    assert services.code_from_token(fresh) == coupon.code
    assert re.search(r'<p class="code" id="counter-code" hx-swap-oob="true">[0-9 ]{22}</p>', partial)


def test_a_used_coupon_has_no_qr(signed_in, customer, owner, officer, cashier):
    coupon = claim(customer, live_template(owner=owner, reviewer=officer))
    services.coupon_verify(actor=cashier, code=typed(coupon), idempotency_key=uuid.uuid4().hex)
    page = text(signed_in.get(reverse("coupons:wallet_coupon", args=[coupon.pk])))
    assert "This coupon has been used." in page and 'id="qr"' not in page
    assert coupon.code[:4] not in page.split("<main", 1)[1]


def test_another_customers_coupon_is_404(signed_in, owner, officer):
    theirs = claim(UserFactory(role="customer"), live_template(owner=owner, reviewer=officer))
    response = signed_in.get(reverse("coupons:wallet_coupon", args=[theirs.pk]))
    assert response.status_code == 404 and theirs.code not in text(response)


def test_the_wallet_is_for_signed_in_customers(web, owner):
    response = web.get(WALLET)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={WALLET}"
    web.force_login(owner)
    assert web.get(WALLET).status_code == 403
    assert web.get(reverse("coupons:wallet_coupon", args=[1])).status_code == 403
