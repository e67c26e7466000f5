"""The points page on a phone in Debian's chromium: balance, a coupon exchanged for points in
the history, and "More" appending the next page in place (htmx)."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from coupons import services as coupon_services
from points import services
from tests.coupons.conftest import owner, shop  # noqa: F401  (fixtures)
from tests.coupons.factories import live_template
from tests.coupons.test_browser_customer import sign_in_as

from .factories import earn_available, key


@pytest.mark.browser
def test_balance_history_and_more_on_a_phone(
    transactional_db, live_server, phone_page, customer, head_office, owner, officer  # noqa: F811
):
    earn_available(customer, 900, now=timezone.now() - timedelta(days=20))
    for n in range(22):
        services.points_adjust(actor=head_office, customer_id=customer.pk, points=1,
                               reason=f"gift {n}", idempotency_key=key())
    template = live_template(owner=owner, reviewer=officer, obtain="points", points_price=500,
                             title="龙井一杯")
    coupon_services.coupon_exchange(
        customer=customer, template_id=template.pk, claim_key=uuid.uuid4().hex
    )

    page = phone_page
    sign_in_as(page, customer, live_server)
    page.goto(reverse("points:home"))
    expect(page.locator("#usable-points")).to_have_text("422")
    history = page.locator("#history > li:not(.more)")
    expect(history).to_have_count(20)
    expect(history.first).to_contain_text("-500")  # the newest: the coupon exchanged
    page.evaluate("window.samePage = true")
    page.locator("#history li.more a").click()
    expect(history).to_have_count(25)  # 22 gifts, earned and released, the exchange
    assert page.evaluate("window.samePage") is True
    page.screenshot(path="/tmp/points-page.png", full_page=True)
