"""Reads of payments for pages and APIs, each through the reader's scope: a customer their
own payments, merchant staff their merchant's, branch staff those at stores of their grid,
head office all. A scope that cannot be resolved is empty, never everything."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from accounts import roles
from accounts.access import second_factor_ok
from merchants.models import MerchantStaff

from .errors import OrderNotFound
from .models import OrderEvent, PaymentOrder, Refund


def orders_visible_to(user) -> QuerySet[PaymentOrder]:
    qs = PaymentOrder.objects.select_related("merchant", "store")
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if roles.is_customer(user):
        return qs.filter(customer=user)
    if roles.is_merchant(user):
        merchant_id = (
            MerchantStaff.objects.filter(user=user).values_list("merchant_id", flat=True).first()
        )
        return qs.filter(merchant_id=merchant_id) if merchant_id else qs.none()
    if not second_factor_ok(user):
        return qs.none()
    if roles.is_head_office(user):
        return qs
    if roles.is_branch_staff(user) and user.branch_id:
        return qs.filter(store__branch_id=user.branch_id)
    return qs.none()


def order_for_viewer(user, out_trade_no: str) -> PaymentOrder:
    order = (
        orders_visible_to(user).prefetch_related("refunds").filter(out_trade_no=out_trade_no).first()
    )
    if order is None:
        raise OrderNotFound()
    return order


SESSION_KEY = "payments:orders"


def order_for_payer(request, out_trade_no: str) -> PaymentOrder:
    """The order for its payer: a signed-in customer's own, or one this browser session
    created (a payer who did not sign in); anybody else gets 404."""
    qs = PaymentOrder.objects.select_related("merchant", "store").prefetch_related("refunds")
    order = qs.filter(out_trade_no=out_trade_no).first()
    if order is None:
        raise OrderNotFound()
    user = request.user
    if order.customer_id is not None and user.is_authenticated and order.customer_id == user.pk:
        return order
    if order.customer_id is None and out_trade_no in request.session.get(SESSION_KEY, []):
        return order
    if order.customer_id is None or (user.is_authenticated and not roles.is_customer(user)):
        try:
            return order_for_viewer(user, out_trade_no)
        except OrderNotFound:
            pass
    raise OrderNotFound()


def remember_payer(request, out_trade_no: str) -> None:
    kept = request.session.get(SESSION_KEY, [])[-19:]
    request.session[SESSION_KEY] = [*kept, out_trade_no]


def takings(*, merchant_id: int, since: datetime, until: datetime | None = None) -> dict:
    """A merchant's paid takings, payment count and refunds in a window (the live dashboard)."""
    until = until or timezone.now()
    paid = PaymentOrder.objects.filter(
        merchant_id=merchant_id, paid_at__gte=since, paid_at__lt=until,
        status__in=PaymentOrder.PAID_STATES,
    ).aggregate(n=Count("pk"), fen=Sum("amount_fen"), gross=Sum("gross_fen"))
    refunded = Refund.objects.filter(
        order__merchant_id=merchant_id, status=Refund.Status.SUCCEEDED,
        succeeded_at__gte=since, succeeded_at__lt=until,
    ).aggregate(n=Count("pk"), fen=Sum("amount_fen"))
    return {
        "orders": paid["n"] or 0,
        "amount_fen": paid["fen"] or 0,
        "gross_fen": paid["gross"] or 0,
        "refunds": refunded["n"] or 0,
        "refunded_fen": refunded["fen"] or 0,
    }


def recent_payments(*, merchant_id: int, limit: int = 20) -> list[PaymentOrder]:
    """The merchant's latest paid payments, newest first."""
    qs = PaymentOrder.objects.filter(
        Q(status__in=PaymentOrder.PAID_STATES), merchant_id=merchant_id
    ).select_related("store")
    return list(qs.order_by("-paid_at", "-pk")[:limit])


def last_paid_mark(*, merchant_id: int) -> int:
    """Where the live list stands: the newest "became paid" event of the merchant's
    payments (events are append-only, so their ids order the moments we learnt of each
    payment, whatever time the channel put on it)."""
    return (
        OrderEvent.objects.filter(order__merchant_id=merchant_id, to_status=PaymentOrder.Status.PAID)
        .order_by("-pk").values_list("pk", flat=True).first()
    ) or 0


def paid_since(*, merchant_id: int, mark: int, limit: int = 50) -> tuple[list[PaymentOrder], int]:
    """The merchant's payments that became paid after ``mark`` (see ``last_paid_mark``),
    oldest first, and the new mark: a payment created earlier but paid later is not missed."""
    events = list(
        OrderEvent.objects.filter(
            order__merchant_id=merchant_id, to_status=PaymentOrder.Status.PAID, pk__gt=mark
        ).select_related("order", "order__store").order_by("pk")[:limit]
    )
    return [e.order for e in events], (events[-1].pk if events else mark)


def totals(orders: QuerySet[PaymentOrder]) -> dict:
    """Count and money of a set of payments (paid ones only for the money)."""
    paid = orders.filter(status__in=PaymentOrder.PAID_STATES).aggregate(
        n=Count("pk"), fen=Sum("amount_fen"), gross=Sum("gross_fen"),
        discount=Sum("coupon_discount_fen"), points=Sum("points_fen"), refunded=Sum("refunded_fen"),
    )
    return {"orders": orders.count(), "paid": paid["n"] or 0, "amount_fen": paid["fen"] or 0,
            "gross_fen": paid["gross"] or 0, "discount_fen": paid["discount"] or 0,
            "points_fen": paid["points"] or 0, "refunded_fen": paid["refunded"] or 0}
