"""The template form on the owner's PC shows only the fields the chosen kind, way of getting
and validity use (and all of them without JavaScript)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.coupons.test_browser_verify import PASSWORD, sign_in


@pytest.mark.browser
def test_fields_follow_the_kind(transactional_db, live_server, desk_page, owner):
    owner.set_password(PASSWORD)
    owner.save()
    page = desk_page
    sign_in(page, owner)
    page.goto(reverse("coupons:merchant_template_new"))
    page.select_option("#template-form [name=kind]", "percent_off")
    expect(page.locator("#field-pay_percent")).to_be_visible()
    expect(page.locator("#field-cap")).to_be_visible()
    expect(page.locator("#field-price")).to_be_hidden()
    expect(page.locator("#field-gift_item")).to_be_hidden()
    page.select_option("#template-form [name=kind]", "gift")
    expect(page.locator("#field-gift_item")).to_be_visible()
    expect(page.locator("#field-pay_percent")).to_be_hidden()
    page.select_option("#template-form [name=obtain]", "points")
    expect(page.locator("#field-points_price")).to_be_visible()
    expect(page.locator("#field-campaign")).to_be_hidden()


def test_without_javascript_every_field_is_there(client, owner):
    client.force_login(owner)
    html = client.get(reverse("coupons:merchant_template_new")).content.decode()
    for name in ("pay_percent", "cap", "price", "gift_item", "points_price", "valid_days"):
        assert f'id="field-{name}"' in html and 'style="display' not in html
