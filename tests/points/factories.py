"""Points state for tests, built through the points services."""

import uuid
from datetime import datetime, timedelta

from django.conf import settings

from points import services
from points.models import JournalEntry


def key(prefix: str = "test") -> str:
    return f"{prefix}:{uuid.uuid4().hex}"


def earn(customer, points: int, *, now: datetime, merchant_funded: int = 0, merchant_id=None,
         reference_id: int | None = None) -> JournalEntry:
    """Pending points from a payment."""
    return services.points_earn(
        customer_id=customer.pk, base_points=points, merchant_funded_points=merchant_funded,
        merchant_id=merchant_id, idempotency_key=key("earn"), reference_id=reference_id, now=now,
    )


def earn_available(customer, points: int, *, now: datetime, **kwargs) -> JournalEntry:
    """Points earned at ``now`` and released once their pending period is over."""
    entry = earn(customer, points, now=now, **kwargs)
    services.points_release_pending(
        account_id=services.customer_account(customer_id=customer.pk).pk,
        now=now + timedelta(days=settings.ALLIANCE_POINTS_PENDING_DAYS),
    )
    return entry


def spend(customer, points: int, *, now: datetime, merchant_id=None) -> JournalEntry:
    return services.points_spend(
        customer_id=customer.pk, points=points, idempotency_key=key("spend"),
        merchant_id=merchant_id, now=now,
    )
