"""Daily points jobs. Each account is one short transaction, so a crash part-way leaves the
rest for the next run, and a re-run changes nothing twice (lots are released/expired once)."""

from datetime import date

from celery import shared_task
from django.utils import timezone

from . import services
from .models import PointsLot


@shared_task
def release_due_pending_points() -> int:
    """Make pending points whose pending period is over available. Returns entries written."""
    now = timezone.now()
    account_ids = (
        PointsLot.objects.filter(state=PointsLot.State.PENDING, available_at__lte=now)
        .values_list("account_id", flat=True).distinct().order_by("account_id")
    )
    return sum(
        len(services.points_release_pending(account_id=pk, now=now)) for pk in list(account_ids)
    )


@shared_task
def expire_due_points() -> int:
    """Expire the lots whose expiry has come. Returns entries written."""
    now = timezone.now()
    account_ids = (
        PointsLot.objects.filter(state=PointsLot.State.AVAILABLE, expires_at__lte=now)
        .values_list("account_id", flat=True).distinct().order_by("account_id")
    )
    return sum(len(services.points_expire(account_id=pk, now=now)) for pk in list(account_ids))


@shared_task
def review_tiers() -> int:
    """Monthly: re-evaluate every member's tier (downgrades when 12-month spending fell)."""
    from .models import MemberTier

    now = timezone.now()
    ids = list(MemberTier.objects.values_list("customer_id", flat=True).order_by("customer_id"))
    for customer_id in ids:
        services.tier_evaluate(customer_id=customer_id, now=now)
    return len(ids)


@shared_task
def clear_last_month() -> int:
    """Monthly: clear the month that just ended. Returns the run id."""
    from .services.ledger import points_zone

    now = timezone.now()
    local = timezone.localtime(now, points_zone())
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    return services.points_clearing_run(period=date(year, month, 1), now=now).pk


@shared_task
def remind_expiring_points() -> int:
    """Daily: text customers whose points expire within the reminder window (once each)."""
    return services.points_remind_expiring()
