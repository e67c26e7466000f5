"""Celery tasks of the sandbox: deliver a notification, settle a refund, sweep what is due.

In eager mode (the local demo) a task runs inline: ``deliver_notification`` then makes one
attempt and does not chain its retries (that would block the request, or recurse); the sweep
``deliver_due`` makes them when they are due. Schedule the sweep every minute in beat.
"""

from celery import shared_task

from . import notifications, services


@shared_task(bind=True, ignore_result=True)
def deliver_notification(self, delivery_id: int) -> None:
    """One attempt of a delivery; on failure the next one is scheduled on the retry schedule
    (by a worker only; eager mode leaves it to the sweep)."""
    wait = notifications.delivery_attempt(delivery_id=delivery_id)
    if wait is not None and not self.request.is_eager:
        self.apply_async(kwargs={"delivery_id": delivery_id}, countdown=wait)


@shared_task(bind=True, ignore_result=True)
def settle_refund(self, refund_id: int) -> None:
    """A PROCESSING refund reaches its outcome when its moment has come (idempotent); early
    (eager mode ignores the countdown) it waits for that moment, or for the sweep."""
    wait = services.refund_settle_if_due(refund_id=refund_id)
    if wait is not None and not self.request.is_eager:
        self.apply_async(kwargs={"refund_id": refund_id}, countdown=wait)


@shared_task(ignore_result=True)
def deliver_due(limit: int = 100) -> int:
    """Settle due refunds and attempt every due delivery (a restarted worker, eager mode)."""
    return notifications.deliver_due(limit=limit)
