"""The payer's pages (mobile first): the pay page a store's QR opens, and the receipt.

The pay page works as a plain form: type the amount, "Check discounts" shows the best coupon
and the points deduction, "Pay" creates the order and sends the browser to the channel's
page. htmx makes the quote live as the amount is typed (the ``quote`` partial). The receipt
is where the channel sends the payer back; while the payment is not decided it asks the
channel and refreshes itself.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts import roles
from alliance.errors import ApplicationError
from coupons.console_forms import yuan_to_fen
from coupons.selectors.paying import coupons_for_payment
from points.selectors import deduction_quote, usable_points

from .. import selectors, services
from ..errors import OrderNotFound
from ..models import PaymentOrder, PaymentQR
from ..services.orders import active_qr


def _amount(request, qr: PaymentQR) -> tuple[int | None, str]:
    if qr.kind == PaymentQR.Kind.ONE_OFF:
        return qr.amount_fen, ""
    typed = (request.POST.get("amount") or request.GET.get("amount") or "").strip()
    if not typed:
        return None, ""
    try:
        return yuan_to_fen(typed), ""
    except ValidationError as exc:
        return None, exc.messages[0]


def _int(raw, default=0) -> int | None:
    try:
        return int((raw or "").strip() or default)
    except ValueError:
        return None


def quote_for(request, qr: PaymentQR, amount_fen: int | None) -> dict:
    """What the payer would pay: the usable coupons (best first, or the one chosen), the
    points they can use on this bill, and the amount left for the channel."""
    params = request.POST or request.GET
    quote = {"amount_fen": amount_fen, "coupons": [], "coupon_id": None, "discount_fen": 0,
             "points_balance": 0, "points_cap": 0, "points": 0, "use_points": False,
             "signed_in": roles.is_customer(request.user)}
    if amount_fen is None:
        return quote
    if quote["signed_in"]:
        usable = coupons_for_payment(customer_id=request.user.pk, merchant_id=qr.merchant_id,
                                     store_id=qr.store_id, amount_fen=amount_fen,
                                     now=timezone.now())
        quote["coupons"] = usable
        chosen = params.get("coupon")
        if params.get("quoted_amount", str(amount_fen)) != str(amount_fen):
            chosen = None  # a new amount (a form without JavaScript): the best one again
        pick = next((u for u in usable if str(u.coupon.pk) == chosen), None)
        if pick is None and chosen != "":  # first look, or the chosen one no longer applies
            pick = usable[0] if usable else None
        if pick:
            quote["coupon_id"], quote["discount_fen"] = pick.coupon.pk, pick.discount_fen
        deduction = deduction_quote(customer_id=request.user.pk,
                                    order_fen=amount_fen - quote["discount_fen"])
        step = max(1, settings.ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN // 100)
        cap = deduction.points - deduction.points % step
        quote["points_balance"] = usable_points(customer_id=request.user.pk)
        quote["points_cap"] = cap
        # Points are offered switched on until the payer has seen the switch.
        quote["use_points"] = cap > 0 and (
            params.get("use_points") == "on" or "points_seen" not in params
        )
        if quote["use_points"]:
            wanted = _int(params.get("points"), cap)
            quote["points"] = min(max(wanted or 0, 0), cap)
    per_yuan = settings.ALLIANCE_POINTS_REDEEM_POINTS_PER_YUAN
    quote["points_fen"] = quote["points"] * 100 // per_yuan
    quote["to_pay_fen"] = amount_fen - quote["discount_fen"] - quote["points_fen"]
    return quote


def _page(request, qr: PaymentQR, *, error: str = "", status: int = 200, key: str = ""):
    amount_fen, amount_error = _amount(request, qr)
    context = {
        "qr": qr,
        "merchant": qr.merchant,
        "store": qr.store,
        "typed": request.POST.get("amount") or request.GET.get("amount") or "",
        "amount_error": amount_error,
        "error": error,
        "quote": quote_for(request, qr, amount_fen),
        "channels": settings.ALLIANCE_PAYMENT_CHANNELS,
        "channel": request.POST.get("channel") or settings.ALLIANCE_PAYMENT_CHANNELS[0][0],
        "key": key or uuid.uuid4().hex,
        "login_url": reverse("accounts:login") + "?next=" + request.path,
    }
    template = "payments/customer/pay.html"
    if request.htmx and request.htmx.target == "quote":
        template += "#quote"
    return render(request, template, context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, token: str):
    """The pay page of a store's (or a cashier's one-off) QR."""
    try:
        qr = active_qr(token, now=timezone.now())
    except ApplicationError as exc:
        return render(request, "payments/customer/qr_refused.html", {"message": exc.message},
                      status=exc.status)
    if request.method == "GET" or request.POST.get("action") == "quote":
        return _page(request, qr, key=request.POST.get("key", ""))
    amount_fen, amount_error = _amount(request, qr)
    if amount_fen is None:
        return _page(request, qr, error=amount_error or _enter_amount(), status=400,
                     key=request.POST.get("key", ""))
    quote = quote_for(request, qr, amount_fen)
    try:
        order = services.order_create(
            payer=request.user, qr_token=token, gross_fen=amount_fen,
            channel=request.POST.get("channel", ""), idempotency_key=request.POST.get("key", ""),
            coupon_id=quote["coupon_id"], points=quote["points"],
        )
        if order.customer_id is None:
            selectors.remember_payer(request, order.out_trade_no)
        if order.status == PaymentOrder.Status.CREATED:
            order = services.order_start_payment(order_id=order.pk)
    except ApplicationError as exc:
        return _page(request, qr, error=exc.message, status=exc.status,
                     key=request.POST.get("key", ""))
    target = order.pay_url if order.status == PaymentOrder.Status.PAYING else reverse(
        "payments:receipt", args=[order.out_trade_no]
    )
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


def _enter_amount() -> str:
    from django.utils.translation import gettext as _

    return _("Enter the amount to pay.")


@never_cache
@require_http_methods(["GET"])
def receipt(request: HttpRequest, out_trade_no: str):
    """The payment's receipt (the channel's return page). An open payment is checked with the
    channel on each look, so the payer sees it paid as soon as the channel knows."""
    try:
        order = selectors.order_for_payer(request, out_trade_no)
    except OrderNotFound:
        return render(request, "payments/customer/qr_refused.html",
                      {"message": OrderNotFound.message}, status=404)
    if order.is_open:
        services.order_settle_open(order_id=order.pk)
        order = selectors.order_for_payer(request, out_trade_no)
    template = "payments/customer/receipt.html"
    if request.htmx:
        template += "#status"
    return render(request, template, {"order": order, "pending_days": settings.ALLIANCE_POINTS_PENDING_DAYS})


@never_cache
@require_http_methods(["GET", "POST"])
def buy_voucher(request: HttpRequest, template_id: int):
    """Buy a paid voucher (代金券): its price, a channel, then the channel's page."""
    from django.contrib.auth.views import redirect_to_login

    from coupons.selectors.customer import template_for_customer

    if not roles.is_customer(request.user):
        return redirect_to_login(request.get_full_path(), reverse("accounts:login"))
    try:
        template = template_for_customer(template_id)
    except ApplicationError as exc:
        return render(request, "payments/customer/qr_refused.html", {"message": exc.message},
                      status=exc.status)
    error, status = "", 200
    if request.method == "POST":
        try:
            order = services.order_buy_voucher(
                customer=request.user, template_id=template.pk,
                channel=request.POST.get("channel", ""), idempotency_key=request.POST.get("key", ""),
            )
            if order.status == PaymentOrder.Status.CREATED:
                order = services.order_start_payment(order_id=order.pk)
            return redirect(order.pay_url)
        except ApplicationError as exc:
            error, status = exc.message, exc.status
    return render(request, "payments/customer/buy_voucher.html", {
        "template": template, "error": error, "channels": settings.ALLIANCE_PAYMENT_CHANNELS,
        "channel": request.POST.get("channel") or settings.ALLIANCE_PAYMENT_CHANNELS[0][0],
        "key": request.POST.get("key") or uuid.uuid4().hex,
    }, status=status)


@never_cache
@require_http_methods(["GET"])
def my_payments(request: HttpRequest):
    """The signed-in customer's payments and vouchers bought, newest first."""
    from django.contrib.auth.views import redirect_to_login
    from django.core.paginator import Paginator

    if not roles.is_customer(request.user):
        return redirect_to_login(request.get_full_path(), reverse("accounts:login"))
    orders = selectors.orders_visible_to(request.user).order_by("-created_at", "-pk")
    page = Paginator(orders, 20).get_page(request.GET.get("page"))
    return render(request, "payments/customer/my_payments.html", {"page": page})


@require_http_methods(["POST"])
def refund_voucher(request: HttpRequest, out_trade_no: str):
    """The buyer refunds an unused voucher (when the voucher allows it), in full."""
    from django.contrib import messages
    from django.utils.translation import gettext as _

    try:
        order = selectors.order_for_payer(request, out_trade_no)
        if order.kind != PaymentOrder.Kind.VOUCHER or not roles.is_customer(request.user):
            raise OrderNotFound()
        services.refund_request(
            actor=request.user, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen,
            idempotency_key=f"buyer-refund-{order.pk}", reason=_("Refund asked by the buyer"),
        )
        messages.success(request, _("Refund requested. The money goes back to how you paid."))
    except OrderNotFound:
        return render(request, "payments/customer/qr_refused.html",
                      {"message": OrderNotFound.message}, status=404)
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
    return redirect("payments:receipt", out_trade_no=out_trade_no)
