"""The expiry job: issued coupons past their validity become expired, in batches.

Each batch is one transaction that locks its rows with ``SKIP LOCKED`` (a coupon being verified
right now is left for the next run), moves them issued -> expired with one conditional update,
writes their history rows and releases campaign reservations. Re-running changes nothing.
Paid vouchers would be refunded on expiry by the payments issue; until purchase exists no
paid voucher is ever issued (see ``claiming.refusal``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import Campaign, CampaignEntry, Coupon, CouponEvent

Status = Coupon.Status


def coupons_expire_due(*, now: datetime | None = None, batch: int = 500) -> int:
    """Expire every issued coupon whose ``valid_until`` has passed; return how many."""
    now = now or timezone.now()
    total = 0
    while True:
        done = _expire_batch(now=now, batch=batch)
        total += done
        if done < batch:
            return total


@transaction.atomic(durable=True)
def _expire_batch(*, now: datetime, batch: int) -> int:
    rows = list(
        Coupon.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=Status.ISSUED, valid_until__lte=now)
        .order_by("pk")
        .values_list("pk", "template__campaign_id", "reserved_fen")[:batch]
    )
    if not rows:
        return 0
    ids = [pk for pk, _, _ in rows]
    updated = Coupon.objects.filter(pk__in=ids, status=Status.ISSUED).update(
        status=Status.EXPIRED, closed_at=now
    )
    assert updated == len(ids), "locked rows changed under the lock"
    CouponEvent.objects.bulk_create(
        CouponEvent(coupon_id=pk, actor=None, from_status=Status.ISSUED, to_status=Status.EXPIRED)
        for pk in ids
    )
    release: dict[int, int] = defaultdict(int)
    entries = []
    for pk, campaign_id, reserved in rows:
        if campaign_id and reserved:
            release[campaign_id] += reserved
            entries.append(
                CampaignEntry(
                    campaign_id=campaign_id,
                    coupon_id=pk,
                    kind=CampaignEntry.Kind.RELEASE,
                    amount_fen=reserved,
                )
            )
    for campaign_id in sorted(release):
        Campaign.objects.filter(pk=campaign_id).update(
            reserved_fen=F("reserved_fen") - release[campaign_id]
        )
    CampaignEntry.objects.bulk_create(entries)
    return len(ids)
