"""Reminding customers of points about to expire (the daily job)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.sms import send_sms

from ..models import ExpiryReminder, PointsAccount, PointsLot
from .ledger import points_zone


def points_remind_expiring(*, now: datetime | None = None) -> int:
    """Text every customer whose available points expire within
    ``ALLIANCE_POINTS_EXPIRY_REMINDER_DAYS``: one SMS per customer per expiry moment, ever
    (``ExpiryReminder`` is unique per account and moment, written in the same transaction
    as the SMS is queued on commit; a re-run, or two jobs at once, send nothing twice).
    Returns how many reminders were sent."""
    now = now or timezone.now()
    horizon = now + timedelta(days=settings.ALLIANCE_POINTS_EXPIRY_REMINDER_DAYS)
    due = (
        PointsLot.objects.filter(
            state=PointsLot.State.AVAILABLE,
            remaining_points__gt=0,
            expires_at__gt=now,
            expires_at__lte=horizon,
            account__kind=PointsAccount.Kind.CUSTOMER,
        )
        .values("account_id", "account__customer__phone", "expires_at")
        .annotate(points=Sum("remaining_points"))
        .order_by("account_id", "expires_at")
    )
    already = set(
        ExpiryReminder.objects.filter(expires_at__gt=now, expires_at__lte=horizon).values_list(
            "account_id", "expires_at"
        )
    )
    sent = 0
    for row in due:
        if (row["account_id"], row["expires_at"]) in already or not row["account__customer__phone"]:
            continue
        sent += _remind(
            account_id=row["account_id"],
            phone=row["account__customer__phone"],
            expires_at=row["expires_at"],
            points=row["points"],
        )
    return sent


@transaction.atomic(durable=True)
def _remind(*, account_id: int, phone: str, expires_at: datetime, points: int) -> int:
    try:
        with transaction.atomic():
            ExpiryReminder.objects.create(
                account_id=account_id, expires_at=expires_at, points=points
            )
    except IntegrityError:
        return 0  # another run reminded this customer of this moment
    # The last moment the points can be used, in the customer's zone: the day before expiry.
    last_day = timezone.localtime(expires_at, points_zone()) - timedelta(seconds=1)
    with translation.override(settings.LANGUAGE_CODE):
        text = _(
            "[Merchant Alliance] %(points)d of your points expire after %(day)s. Use them at any "
            "alliance shop before then."
        ) % {"points": points, "day": last_day.strftime("%Y-%m-%d")}
    transaction.on_commit(partial(send_sms, phone=phone, text=text), robust=True)
    return 1
