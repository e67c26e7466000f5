"""Branch staff's and head office's view of payments: the grid's payments (a branch's
officers see those at stores of their grid, head office all), read-only."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.access import staff_console

from .. import selectors
from ..errors import OrderNotFound
from ..models import PaymentOrder


def _day(raw: str | None):
    try:
        return datetime.strptime(raw or "", "%Y-%m-%d").date()
    except ValueError:
        return timezone.localdate()


@never_cache
@staff_console
@require_GET
def payments(request):
    """The payments of one local day in the reader's scope, with the day's totals."""
    day = _day(request.GET.get("day"))
    start = datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())
    orders = selectors.orders_visible_to(request.user).filter(
        created_at__gte=start, created_at__lt=start + timedelta(days=1)
    )
    status = request.GET.get("status", "")
    if status in PaymentOrder.Status.values:
        orders = orders.filter(status=status)
    totals = selectors.totals(orders)
    page = Paginator(orders.order_by("-created_at", "-pk"), 50).get_page(request.GET.get("page"))
    return render(request, "payments/console/payments.html", {
        "day": day, "page": page, "totals": totals, "status": status,
        "statuses": PaymentOrder.Status.choices,
    })


@never_cache
@staff_console
@require_GET
def payment(request, out_trade_no: str):
    try:
        order = selectors.order_for_viewer(request.user, out_trade_no)
    except OrderNotFound as exc:
        raise Http404 from exc
    return render(request, "payments/console/payment.html", {
        "order": order, "events": order.events.order_by("pk"),
        "notifications": order.notifications.order_by("pk"),
    })
