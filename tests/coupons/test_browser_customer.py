"""A customer on a phone, in Debian's chromium: finds an offer in an area, opens it, claims it
with one tap (htmx), opens the wallet and sees the QR to show at the counter."""

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from coupons import services
from coupons.models import Coupon
from tests.coupons.factories import live_template


def sign_in_as(page, user, live_server):
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


@pytest.mark.browser
def test_find_claim_and_show_the_qr_on_a_phone(
    transactional_db, live_server, phone_page, branch, owner, officer, customer
):
    template = live_template(owner=owner, reviewer=officer, title="秋日茶歇")
    page = phone_page
    sign_in_as(page, customer, live_server)

    page.goto(f"/offers/?area={branch.pk}")
    offer = page.locator("li.offer", has_text="秋日茶歇")
    expect(offer).to_be_visible()
    expect(offer.locator(".distance")).to_have_text("500 米")  # the phone asks for Chinese
    offer.locator("a").click()
    page.wait_for_url(re.compile(rf"/offers/coupon/{template.pk}/"))

    page.evaluate("window.samePage = true")
    page.click("#claim-button")
    expect(page.locator("#claim .notice.ok")).to_be_visible()
    assert page.evaluate("window.samePage") is True  # swapped in place by htmx
    coupon = Coupon.objects.get(customer=customer)

    page.locator("#claim a.button").click()
    page.wait_for_url(re.compile(rf"/wallet/{coupon.pk}/$"))
    qr = page.locator("#qr figure.qr svg")
    expect(qr).to_be_visible()
    token = page.locator("#qr figure.qr").get_attribute("data-token")
    assert services.code_from_token(token) == coupon.code
    # The digits for typing stay behind their disclosure until asked for; never the code.
    code = page.locator("#typed-code .code")
    expect(code).to_be_hidden()
    page.click("#typed-code summary")
    expect(code).to_have_text(re.compile(r"^\d{4} \d{4} \d{4} \d{4} \d{2}$"))
    assert coupon.code not in page.content()
    # The 30-second refresh (made now, as its timer would) brings a new QR token and swaps the
    # digits into the disclosure, which stays open.
    page.evaluate(
        "htmx.ajax('GET', location.pathname, {target: '#qr', swap: 'outerHTML'})"
    )
    expect(page.locator("#qr figure.qr")).not_to_have_attribute("data-token", token)
    expect(page.locator("#typed-code")).to_have_attribute("open", "")
    expect(code).to_have_count(1)
    expect(code).to_have_text(re.compile(r"^\d{4} \d{4} \d{4} \d{4} \d{2}$"))
    assert services.coupon_inspect(actor=owner, code=code.inner_text()).coupon.pk == coupon.pk

    page.goto("/wallet/")
    expect(page.locator("li.coupon[data-state=active]", has_text="秋日茶歇")).to_be_visible()
