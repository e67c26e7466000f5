"""The merchant's payment pages: today's takings with payments arriving live (and read out
aloud if the counter wants), a payment's detail and its refunds, the stores' QR posters and a
cashier's one-off QR.

The merchant is resolved once per request from the signed-in staff member; every lookup goes
through it, so another merchant's payment is a 404. Owner-only actions (refunds) are refused
to cashiers by the service (403) and not offered on the page.
"""

from __future__ import annotations

from datetime import datetime, time

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from accounts.access import role_required
from alliance.errors import ApplicationError, Forbidden
from coupons.console_forms import yuan_to_fen
from merchants import selectors as merchant_selectors
from merchants.models import MerchantStaff

from .. import posters, selectors, services
from ..errors import OrderNotFound
from ..models import PaymentOrder

merchant_pages = role_required(roles.is_merchant, login_url="accounts:merchant_login")


def _membership(request) -> MerchantStaff:
    membership = merchant_selectors.membership_for(request.user)
    if membership is None:
        raise Http404
    return membership


def _today_start() -> datetime:
    local = timezone.localtime()
    return datetime.combine(local.date(), time.min, tzinfo=local.tzinfo)


def _pay_url(request, token: str) -> str:
    base = settings.ALLIANCE_PUBLIC_BASE_URL.rstrip("/")
    return base + reverse("payments:pay", args=[token])


@never_cache
@merchant_pages
@require_GET
def takings(request):
    membership = _membership(request)
    merchant_id = membership.merchant_id
    return render(request, "payments/merchant/takings.html", {
        "membership": membership,
        "merchant": membership.merchant,
        "today": selectors.takings(merchant_id=merchant_id, since=_today_start()),
        "payments": selectors.recent_payments(merchant_id=merchant_id),
        "last_id": selectors.last_paid_mark(merchant_id=merchant_id),
    })


@never_cache
@merchant_pages
@require_GET
def takings_live(request):
    """The part of the takings page that polls: today's totals and the payments that arrived
    since ``after`` (the page reads each new row's amount out aloud, if switched on)."""
    membership = _membership(request)
    try:
        after = int(request.GET.get("after", "0"))
    except ValueError:
        after = 0
    new, mark = selectors.paid_since(merchant_id=membership.merchant_id, mark=after)
    return render(request, "payments/merchant/takings.html#live", {
        "today": selectors.takings(merchant_id=membership.merchant_id, since=_today_start()),
        "new_payments": new,
        "last_id": mark,
    })


def _own_payment(membership, out_trade_no: str) -> PaymentOrder:
    order = (
        PaymentOrder.objects.select_related("store", "customer")
        .prefetch_related("refunds", "events")
        .filter(out_trade_no=out_trade_no, merchant_id=membership.merchant_id)
        .first()
    )
    if order is None:
        raise Http404
    return order


@never_cache
@merchant_pages
@require_GET
def payment_detail(request, out_trade_no: str):
    membership = _membership(request)
    order = _own_payment(membership, out_trade_no)
    return render(request, "payments/merchant/payment.html", {
        "membership": membership, "merchant": membership.merchant, "order": order,
        "is_owner": membership.role == MerchantStaff.Role.OWNER,
    })


@merchant_pages
@require_POST
def payment_refund(request, out_trade_no: str):
    membership = _membership(request)
    order = _own_payment(membership, out_trade_no)
    error = ""
    try:
        amount_fen = 0 if order.amount_fen == 0 else yuan_to_fen(request.POST.get("amount", ""))
        services.refund_request(
            actor=request.user, out_trade_no=order.out_trade_no, amount_fen=amount_fen,
            idempotency_key=request.POST.get("key", ""), reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        error = exc.messages[0]
    except Forbidden as exc:
        raise PermissionDenied(str(exc.message)) from exc
    except OrderNotFound as exc:
        raise Http404 from exc
    except ApplicationError as exc:
        error = str(exc.message)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Refund requested. It is sent to the payment channel."))
    return redirect("payments:merchant_payment", out_trade_no=order.out_trade_no)


@never_cache
@merchant_pages
@require_GET
def qr_codes(request):
    membership = _membership(request)
    stores = list(membership.merchant.stores.order_by("pk"))
    rows = []
    for store in stores:
        qr = services.qr_for_store(store=store)
        url = _pay_url(request, qr.token)
        rows.append({"store": store, "url": url, "svg": mark_safe(posters.qr_svg(url))})  # noqa: S308 - our own SVG
    one_off = None
    if token := request.GET.get("one_off"):
        qr = membership.merchant.payment_qrs.filter(token=token, kind="one_off").first()
        if qr is not None:
            url = _pay_url(request, qr.token)
            one_off = {"qr": qr, "url": url, "svg": mark_safe(posters.qr_svg(url))}  # noqa: S308
    return render(request, "payments/merchant/qr.html", {
        "membership": membership, "merchant": membership.merchant, "rows": rows,
        "one_off": one_off,
    })


@merchant_pages
@require_GET
def poster(request, store_id: int, fmt: str):
    """The store's payment poster, as PNG or PDF, to print and put on the counter."""
    membership = _membership(request)
    store = membership.merchant.stores.filter(pk=store_id).first()
    if store is None or fmt not in ("png", "pdf"):
        raise Http404
    qr = services.qr_for_store(store=store)
    kwargs = {
        "merchant_name": membership.merchant.business_name,
        "store_name": store.name,
        "url": _pay_url(request, qr.token),
        "channels": [str(label) for _code, label in settings.ALLIANCE_PAYMENT_CHANNELS],
        "footer": f"{_('Merchant Alliance')} · {membership.merchant.code}-{store.pk}",
    }
    if fmt == "png":
        response = HttpResponse(posters.poster_png(**kwargs), content_type="image/png")
    else:
        response = HttpResponse(posters.poster_pdf(**kwargs), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="poster-{store.pk}.{fmt}"'
    return response


@merchant_pages
@require_http_methods(["POST"])
def one_off(request):
    _membership(request)
    try:
        amount_fen = yuan_to_fen(request.POST.get("amount", ""))
        minutes = int(request.POST.get("minutes") or 10)
        qr = services.qr_one_off_create(
            actor=request.user, store_id=int(request.POST.get("store_id") or 0),
            amount_fen=amount_fen, minutes=minutes, note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("payments:merchant_qr")
    except ValueError:
        messages.error(request, _("Enter whole minutes."))
        return redirect("payments:merchant_qr")
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
        return redirect("payments:merchant_qr")
    return redirect(reverse("payments:merchant_qr") + f"?one_off={qr.token}")
