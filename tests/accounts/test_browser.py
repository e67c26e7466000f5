"""A customer on a phone signs in with an SMS code, in a real browser (htmx on)."""

import pytest
from playwright.sync_api import expect

from tests.accounts.helpers import E164, MASKED, code_sent_to


@pytest.mark.browser
def test_a_customer_signs_in_on_a_phone_with_an_sms_code(
    phone_page, live_server, transactional_db, sms_outbox
):
    page = phone_page
    page.goto("/accounts/login/")
    page.fill("input[name=phone]", "138 1234 1234")
    page.evaluate("window.samePage = true")
    page.click("#send-code")

    # htmx swapped in the status region: masked number and a running countdown.
    expect(page.locator("#sms-status")).to_contain_text(MASKED)
    expect(page.locator("#sms-status [data-countdown]")).to_be_visible()
    expect(page.locator("input[name=code]")).to_be_focused()
    expect(page.locator("#send-code")).to_be_disabled()
    assert page.evaluate("window.samePage") is True  # swapped in place, no page load
    assert len(sms_outbox) == 1

    page.fill("input[name=code]", code_sent_to(E164))
    page.press("input[name=code]", "Enter")  # Enter signs in once a code is typed

    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".topbar .who")).to_have_text(MASKED)  # signed in, shown masked
