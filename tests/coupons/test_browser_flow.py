"""The whole coupon story in Debian's chromium: a customer on a phone finds an offer, claims it
and opens the wallet; the cashier at the counter PC types the code the wallet shows, checks it
and confirms; the customer's wallet then lists it as used."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from coupons.models import Coupon, Verification
from tests.coupons.factories import live_template
from tests.coupons.test_browser_customer import sign_in_as
from tests.coupons.test_browser_verify import PASSWORD, sign_in


@pytest.mark.browser
def test_customer_claims_on_a_phone_and_the_counter_verifies_the_typed_code(
    transactional_db, live_server, phone_page, desk_page, branch, owner, officer, customer
):
    live_template(owner=owner, reviewer=officer, title="龙井下午茶满100减20")
    owner.set_password(PASSWORD)
    owner.save()

    # --- the customer, on a phone -------------------------------------------------------------
    sign_in_as(phone_page, customer, live_server)
    phone_page.goto(reverse("coupons:offers") + f"?area={branch.pk}")
    phone_page.locator("li.offer", has_text="龙井下午茶").locator("a").click()
    phone_page.click("#claim-button")
    phone_page.locator("#claim a.button").click()
    phone_page.wait_for_url(re.compile(r"/wallet/\d+/$"))
    phone_page.click("#typed-code summary")
    shown = phone_page.locator("#typed-code .code").inner_text()
    coupon = Coupon.objects.get(customer=customer)
    assert shown.replace(" ", "").isdigit() and coupon.code not in shown

    # --- the owner at the counter types what the customer shows ------------------------------
    sign_in(desk_page, owner)
    desk_page.goto(reverse("coupons:merchant_verify"))
    desk_page.fill("#inspect-form input[name=code]", shown)
    desk_page.locator("#inspect-form button[type=submit]").click()
    expect(desk_page.locator("#inspection[data-usable='true']")).to_contain_text("龙井下午茶")
    desk_page.locator("#confirm-form button[type=submit]").click()
    desk_page.locator("#verify-success").wait_for()
    assert Verification.objects.get(coupon=coupon).verified_by == owner
    assert Coupon.objects.get(pk=coupon.pk).status == "verified"

    # --- the customer's wallet moves it to "used" --------------------------------------------
    phone_page.goto(reverse("coupons:wallet") + "?tab=used")
    expect(phone_page.locator("li.coupon", has_text="龙井下午茶")).to_be_visible()
    phone_page.goto(reverse("coupons:wallet"))
    expect(phone_page.locator("li.coupon", has_text="龙井下午茶")).to_have_count(0)
