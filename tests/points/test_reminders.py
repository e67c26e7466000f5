"""Customers are reminded, once, of points expiring within 30 days."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from accounts import sms
from points import services, tasks
from points.models import ExpiryReminder
from tests.factories import UserFactory

from .factories import earn_available, spend

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def outbox():
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def test_one_reminder_per_customer_and_expiry_day(
    customer, outbox, django_capture_on_commit_callbacks
):
    earned = datetime(2025, 11, 10, 12, tzinfo=SHANGHAI)  # expires 2026-12-01 00:00 Shanghai
    earn_available(customer, 300, now=earned)
    earn_available(customer, 200, now=earned + timedelta(days=5))  # same month, same expiry
    earn_available(customer, 900, now=datetime(2025, 12, 3, tzinfo=SHANGHAI))  # next month
    spend(customer, 100, now=datetime(2026, 1, 5, tzinfo=SHANGHAI))  # FIFO: from the oldest
    now = datetime(2026, 11, 5, 10, tzinfo=SHANGHAI)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.points_remind_expiring(now=now) == 1
    assert len(outbox) == 1
    assert outbox[0].phone == customer.phone
    assert "400" in outbox[0].text and "2026-11-30" in outbox[0].text
    with django_capture_on_commit_callbacks(execute=True):
        assert services.points_remind_expiring(now=now + timedelta(days=1)) == 0
    assert len(outbox) == 1
    # A month later the December lot is within 30 days: its own reminder.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.points_remind_expiring(now=datetime(2026, 12, 5, tzinfo=SHANGHAI)) == 1
    assert "900" in outbox[1].text
    assert ExpiryReminder.objects.count() == 2


def test_nothing_for_far_or_used_up_points(outbox):
    far, used = UserFactory(role="customer"), UserFactory(role="customer")
    earned = datetime(2025, 11, 10, tzinfo=SHANGHAI)
    earn_available(far, 100, now=earned + timedelta(days=40))  # expires 2027-01-01
    earn_available(used, 100, now=earned)
    spend(used, 100, now=earned + timedelta(days=30))
    assert services.points_remind_expiring(now=datetime(2026, 11, 5, tzinfo=SHANGHAI)) == 0


def test_the_reminder_is_chinese_and_scheduled(
    customer, outbox, django_capture_on_commit_callbacks
):
    earn_available(customer, 120, now=datetime(2025, 11, 10, tzinfo=SHANGHAI))
    with django_capture_on_commit_callbacks(execute=True):
        services.points_remind_expiring(now=datetime(2026, 11, 20, tzinfo=SHANGHAI))
    assert "积分" in outbox[0].text
    scheduled = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "points.tasks.remind_expiring_points" in scheduled
    assert tasks.remind_expiring_points.name == "points.tasks.remind_expiring_points"
