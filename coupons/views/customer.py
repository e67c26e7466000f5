"""The customer's coupon pages (mobile first): offers near me, a merchant, a coupon and its
claim button, the wallet and a coupon's QR.

Views parse input, call a selector or a service and render. Every page works without
JavaScript; htmx swaps named partials of the same templates: the offer results and the
"load more" page (``coupons/customer/offers.html``), the claim box (``coupon.html``), the wallet
page (``wallet.html``) and the QR, refreshed every 30 s (``wallet_coupon.html``). Both wallet
pages also hand the phone what it needs for offline codes (``static/coupons/offline.js``).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.access import role_required
from alliance.errors import ApplicationError
from branches import geo
from merchants.models import Category

from .. import services, wording
from ..errors import CouponLimitReached, CouponNotFound
from ..selectors import customer as selectors

WALLET_PAGE_SIZE = 20
LOGIN = "accounts:login"


def _query(params: dict, **changes) -> str:
    """``?a=1&b=2`` from the kept parameters with ``changes`` applied (None drops one)."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else "?"


def _vary(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


# --- Offers near me --------------------------------------------------------------------------


@require_GET
def offers(request: HttpRequest):
    query = selectors.parse_offer_query(request.GET)
    typed = query.located and "lat" in request.GET and not query.errors.keys() & {"lat", "lng"}
    kept = {
        "lat": request.GET["lat"].strip() if typed else "",
        "lng": request.GET["lng"].strip() if typed else "",
        "area": query.area or "",
        "category": query.category,
        "sort": query.sort if query.sort != "distance" else "",
        "q": query.q,
    }
    page = None
    if query.located:
        page = selectors.offers_near(
            lat=query.lat,
            lng=query.lng,
            category=query.category or None,
            q=query.q or None,
            sort=query.sort,
            page=query.page,
        )
    point = {"lat": query.lat, "lng": query.lng} if query.located else {}
    for offer in page.results if page else []:
        offer.url = reverse("coupons:offer_coupon", args=[offer.template_id]) + (
            _query({}, lat=f"{query.lat:.6f}", lng=f"{query.lng:.6f}") if point else ""
        )
    context = {
        "query": query,
        "errors": list(query.errors.values()),
        "page": page,
        "areas": selectors.area_choices(),
        "categories": [
            {
                "value": value,
                "label": label,
                "url": _query(kept, category=value or None, page=None),
                "active": value == query.category,
            }
            for value, label in [("", _("All")), *Category.choices]
        ],
        "sorts": [
            {
                "value": value,
                "label": label,
                "url": _query(kept, sort=None if value == "distance" else value, page=None),
                "active": value == query.sort,
            }
            for value, label in selectors.SORTS.items()
        ],
        "next_url": _query(kept, page=page.next_page) if page and page.has_next else "",
    }
    if request.htmx and request.htmx.target == "load-more":
        return _vary(render(request, "coupons/customer/offers.html#offer-page", context))
    if request.htmx and request.htmx.target == "results":
        return _vary(render(request, "coupons/customer/offers.html#results", context))
    return _vary(render(request, "coupons/customer/offers.html", context))


# --- A merchant, a coupon ----------------------------------------------------------------------


@require_GET
def merchant(request: HttpRequest, merchant_id: int):
    query = selectors.parse_offer_query(request.GET)
    try:
        found = selectors.merchant_for_customer(merchant_id, lat=query.lat, lng=query.lng)
    except CouponNotFound as exc:
        return render(
            request, "coupons/customer/not_found.html", {"message": exc.message}, status=404
        )
    return render(
        request,
        "coupons/customer/merchant.html",
        {"found": found, "errors": [v for k, v in query.errors.items() if k in ("lat", "lng")]},
    )


def _coupon_context(request: HttpRequest, template, **extra) -> dict:
    query = selectors.parse_offer_query(request.GET)
    stores = list(template.stores.all())
    for store in stores:
        store.distance_label = (
            wording.distance_label(geo.distance_m(query.lat, query.lng, store.lat, store.lng))
            if query.located
            else ""
        )
    return {
        "template": template,
        "rules": wording.rules_of(template).as_rows(),
        "value": wording.value_label(template),
        "state": selectors.claim_state(template),
        "stores": stores,
        "claim_key": uuid.uuid4().hex,
        "can_claim": roles.is_customer(request.user),
        "signed_in": request.user.is_authenticated,
        "login_url": f"{reverse(LOGIN)}?{urlencode({'next': request.get_full_path()})}",
        **extra,
    }


def _template_or_404(request: HttpRequest, template_id: int):
    try:
        return selectors.template_for_customer(template_id), None
    except CouponNotFound as exc:
        response = render(
            request, "coupons/customer/not_found.html", {"message": exc.message}, status=404
        )
        return None, response


@require_GET
def coupon(request: HttpRequest, template_id: int):
    template, missing = _template_or_404(request, template_id)
    if missing:
        return missing
    response = render(request, "coupons/customer/coupon.html", _coupon_context(request, template))
    add_never_cache_headers(response)  # each render carries a fresh claim key
    return response


@require_POST
def claim(request: HttpRequest, template_id: int):
    """One tap: claim with the form's key. The same key again (a double tap, a resubmitted
    form) gives the same coupon. Anonymous: sign in, then back to the coupon page."""
    page_url = reverse("coupons:offer_coupon", args=[template_id])
    if not request.user.is_authenticated:
        return redirect_to_login(page_url, reverse(LOGIN))
    template, missing = _template_or_404(request, template_id)
    if missing:
        return missing
    if not roles.is_customer(request.user):
        context = _coupon_context(
            request,
            template,
            error=_(
                "Only customers can claim coupons. Sign in with your "
                "mobile number as a customer to claim."
            ),
        )
        return render(request, "coupons/customer/coupon.html", context, status=403)
    try:
        take = (
            services.coupon_exchange
            if template.obtain == template.Obtain.POINTS
            else services.coupon_claim
        )
        claimed = take(
            customer=request.user,
            template_id=template.pk,
            claim_key=request.POST.get("claim_key", ""),
        )
    except ApplicationError as exc:
        context = _coupon_context(
            request,
            template,
            error=exc.message,
            error_code=exc.code,
            show_wallet=isinstance(exc, CouponLimitReached),
        )
        if request.htmx:
            return render(request, "coupons/customer/coupon.html#claim", context)
        return render(request, "coupons/customer/coupon.html", context, status=exc.status)
    if request.htmx:
        context = _coupon_context(request, template, claimed=claimed)
        return render(request, "coupons/customer/coupon.html#claim", context)
    messages.success(request, _("Claimed! The coupon is in your wallet."))
    return redirect(reverse("coupons:wallet_coupon", args=[claimed.pk]))


# --- The wallet ----------------------------------------------------------------------------

# How many usable coupons the phone keeps for offline codes (the soonest to expire first).
OFFLINE_COUPONS = 50


def _offline_data(request: HttpRequest, now) -> dict:
    """What the wallet hands this phone for offline codes: the customer's key (made on first
    need) and their usable coupons. Only over the signed-in session, in a page that is never
    cached (HTTPS in production)."""
    secret = services.offline_secret_ensure(customer=request.user)
    held = selectors.wallet(request.user, "active", now=now)[:OFFLINE_COUPONS]
    return {
        "customer": request.user.pk,
        "secret": secret.secret,
        "coupons": [
            {
                "id": c.pk,
                "title": c.template.title,
                "merchant": c.template.merchant.business_name,
                "value": str(wording.value_label(c.template)),
                "valid_until": c.valid_until.isoformat(),
            }
            for c in held
        ],
    }



@role_required(roles.is_customer, login_url=LOGIN)
@require_GET
def wallet(request: HttpRequest):
    tab = request.GET.get("tab") or "active"
    errors = []
    if tab not in selectors.WALLET_TABS:
        errors.append(_("Choose active, used or expired."))
        tab = "active"
    now = timezone.now()
    page = Paginator(selectors.wallet(request.user, tab, now=now), WALLET_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for held in page.object_list:
        held.value_label = wording.value_label(held.template)
        held.state = selectors.wallet_state(held, now=now)
    context = {
        "tab": tab,
        "tabs": [
            {"value": v, "label": label, "url": _query({"tab": v}), "active": v == tab}
            for v, label in selectors.WALLET_TABS.items()
        ],
        "page": page,
        "errors": errors,
        "next_url": _query({"tab": tab}, page=page.next_page_number()) if page.has_next() else "",
    }
    if request.htmx and request.htmx.target == "load-more":
        return _vary(render(request, "coupons/customer/wallet.html#wallet-page", context))
    if tab == "active":  # the usable coupons, and the key for their offline codes
        context["offline"] = _offline_data(request, now)
    response = render(request, "coupons/customer/wallet.html", context)
    add_never_cache_headers(response)
    return _vary(response)


def qr_svg(data: str) -> str:
    """The QR of ``data`` as inline SVG (drawn on the server: no script, no image request)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return image.to_string(encoding="unicode")


@role_required(roles.is_customer, login_url=LOGIN)
@require_GET
def wallet_coupon(request: HttpRequest, coupon_id: int):
    try:
        held = selectors.wallet_coupon(request.user, coupon_id)
    except CouponNotFound as exc:
        return render(
            request, "coupons/customer/not_found.html", {"message": exc.message}, status=404
        )
    now = timezone.now()
    state = selectors.wallet_state(held, now=now)
    context = {
        "coupon": held,
        "state": state,
        "value": wording.value_label(held.template),
        "rules": wording.rules_of(held.template),
        "refreshed_at": now,
    }
    if state == "active":
        # The QR carries the signed, short-lived token, and the digits to type change with it:
        # never the bare code, which the counter does not take.
        token = services.token_for(held.code)
        context.update(
            token=token,
            qr=mark_safe(qr_svg(token)),  # noqa: S308 - our own SVG
            counter_code=selectors.grouped_code(services.counter_code_for(held.pk)),
        )
    if request.htmx and request.htmx.target == "qr":
        context["qr_refresh"] = True
        response = render(request, "coupons/customer/wallet_coupon.html#qr", context)
    else:
        context["offline"] = _offline_data(request, now)
        response = render(request, "coupons/customer/wallet_coupon.html", context)
    add_never_cache_headers(response)
    return _vary(response)
