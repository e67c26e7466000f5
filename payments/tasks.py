"""Payments' background work: ask the channel about orders nobody notified us of, close
unpaid orders, send refunds to the channel."""

from __future__ import annotations

from celery import shared_task

from .gateways import GatewayError
from .models import PaymentOrder
from .services import orders as order_services
from .services import refunds as refund_services


@shared_task
def poll_order(*, order_id: int, attempt: int = 0) -> None:
    """Ask the channel about an order we sent the payer to, on a back-off schedule
    (``orders.POLL_SCHEDULE_S``), until it is decided or the schedule ends (the closing job
    then takes it)."""
    order = order_services.order_settle_open(order_id=order_id)
    if order.status in PaymentOrder.OPEN:
        delay = order_services.poll_delay(attempt + 1)
        if delay is not None:
            poll_order.apply_async(kwargs={"order_id": order_id, "attempt": attempt + 1},
                                   countdown=delay)


@shared_task
def close_expired_orders() -> int:
    """Every minute (beat): close the unpaid orders past their 15 minutes."""
    return order_services.orders_close_expired()


@shared_task(bind=True, max_retries=12)
def submit_refund(self, *, refund_id: int) -> None:
    """Send a refund to its channel; a channel that cannot be reached is tried again
    (30 s, 60 s, ... up to an hour apart)."""
    try:
        refund_services.refund_submit(refund_id=refund_id)
    except GatewayError as exc:
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 3600)) from exc


@shared_task
def refund_expired_vouchers() -> int:
    """Every 5 minutes (beat): paid vouchers that expired unused are refunded automatically."""
    return refund_services.vouchers_refund_expired()


@shared_task
def resubmit_stale_refunds() -> int:
    """Every 10 minutes (beat): a refund still ``pending`` a few minutes after it was asked
    (its task was lost: the broker was down at the commit) is sent to its channel again."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import Refund

    stale = Refund.objects.filter(
        status=Refund.Status.PENDING, created_at__lt=timezone.now() - timedelta(minutes=5)
    ).values_list("pk", flat=True)[:200]
    for refund_id in stale:
        submit_refund.delay(refund_id=refund_id)
    return len(stale)
