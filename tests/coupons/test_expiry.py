"""Expiry: the beat job expires issued coupons past validity exactly once, and a real worker
runs it end to end."""

import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings

from coupons import services, tasks
from coupons.models import Coupon, CouponEvent
from tests.coupons.factories import live_template, typed


def claim_all(template, people):
    return [
        services.coupon_claim(customer=p, template_id=template.pk, claim_key=uuid.uuid4().hex)
        for p in people
    ]


@pytest.mark.django_db
def test_expire_exactly_the_due_ones_once(owner, officer, cashier, customers):
    template = live_template(owner=owner, reviewer=officer, total_stock=10)
    due, used, fresh = claim_all(template, customers)
    services.coupon_verify(actor=cashier, code=typed(used), idempotency_key="use-it-0001")
    Coupon.objects.filter(pk=fresh.pk).update(valid_until=fresh.valid_until + timedelta(days=1))
    at = due.valid_until
    assert services.coupons_expire_due(now=at - timedelta(seconds=1)) == 0
    assert services.coupons_expire_due(now=at, batch=1) == 1
    assert services.coupons_expire_due(now=at) == 0
    statuses = dict(Coupon.objects.values_list("pk", "status"))
    assert statuses == {due.pk: "expired", used.pk: "verified", fresh.pk: "issued"}
    assert CouponEvent.objects.filter(to_status="expired").count() == 1


@pytest.mark.django_db
def test_batches_cover_everything(owner, officer):
    from tests.factories import UserFactory

    template = live_template(owner=owner, reviewer=officer, total_stock=10)
    coupons = claim_all(template, [UserFactory(role="customer") for _ in range(7)])
    assert services.coupons_expire_due(now=coupons[0].valid_until, batch=3) == 7
    assert not Coupon.objects.filter(status="issued").exists()


def test_the_beat_schedule_runs_both_jobs():
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"coupons.tasks.expire_due_coupons", "coupons.tasks.end_due_templates"} <= (
        tasks_scheduled
    )


@pytest.mark.worker
def test_a_real_worker_expires_coupons(
    transactional_db, celery_worker_process, owner, officer, customers
):
    template = live_template(owner=owner, reviewer=officer, total_stock=10)
    coupons = claim_all(template, customers)
    Coupon.objects.filter(pk__in=[c.pk for c in coupons[:2]]).update(
        valid_from=coupons[0].valid_from - timedelta(days=9),
        valid_until=coupons[0].valid_from - timedelta(days=1),
    )
    tasks.expire_due_coupons.delay()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and Coupon.objects.filter(status="expired").count() < 2:
        time.sleep(0.2)
    assert sorted(Coupon.objects.values_list("status", flat=True)) == [
        "expired",
        "expired",
        "issued",
    ]
