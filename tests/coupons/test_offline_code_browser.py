"""The offline code in Debian's chromium: the wallet's script (WebCrypto) makes the codes the
server makes; a phone that loses its network after loading the wallet still shows a code and a
QR, and the counter (another browser, online) reads that QR with its own ZXing and uses the
coupon, once."""

import base64
import os
import re
import time
import uuid

import pytest
from django.templatetags.static import static
from django.urls import reverse
from playwright.sync_api import expect

from coupons import services
from coupons.models import Coupon, OfflineSecret, Verification
from coupons.services import tokens
from tests.coupons.factories import live_template
from tests.coupons.test_browser_customer import sign_in_as
from tests.coupons.test_browser_verify import PASSWORD, sign_in

pytestmark = pytest.mark.browser

DIGITS = re.compile(r"^9\d{3}( \d{4}){4}$")


def js_code(page, secret_hex: str, coupon_id: int, now: float) -> str:
    return page.evaluate(
        "([s, id, ms]) => window.couponsOffline.code(s, id, ms)",
        [secret_hex, coupon_id, now * 1000],
    )


def test_the_browser_makes_the_servers_codes(phone_page, live_server):
    page = phone_page
    page.goto(reverse("accounts:login"))
    page.add_script_tag(url=static("coupons/offline.js"))
    assert page.evaluate("window.isSecureContext && !!crypto.subtle")
    now = time.time()
    times = [
        now,
        now - now % 30,  # the first moment of a step
        now - now % 30 - 0.001,  # the last of the step before
        30 * 99 + 3000 * 590_000,  # a step ending in 99, and the next ending in 00
        30 * 100 + 3000 * 590_000,
        1_800_000_000.5,
    ]
    for secret in (os.urandom(32), os.urandom(32), bytes(32), bytes(range(32))):
        for coupon_id in (1, 42, 123_456_789, 1_234_567_890):
            for at in times:
                expected = tokens.offline_code_for(secret, coupon_id, now=at)
                assert js_code(page, secret.hex(), coupon_id, at) == expected, (coupon_id, at)


@pytest.fixture
def held(transactional_db, owner, officer, customer):
    """A live 满100减20 and the customer's coupon of it; the owner's password set (the
    counter's sign-in)."""
    owner.set_password(PASSWORD)
    owner.save()
    template = live_template(owner=owner, reviewer=officer, title="地下一层奶茶")
    return services.coupon_claim(
        customer=customer, template_id=template.pk, claim_key=uuid.uuid4().hex
    )


def read_qr_at_the_counter(counter, png: bytes) -> list[str]:
    """What the counter page's own ZXing (zxing-wasm, served by the app) reads in ``png``."""
    return counter.evaluate(
        """async (b64) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          window.ZXingWASM.prepareZXingModule({overrides: {locateFile: (path, prefix) =>
            path.endsWith(".wasm") ? document.getElementById("scan").dataset.wasm : prefix + path}});
          const found = await window.ZXingWASM.readBarcodes(
            new Blob([bytes], {type: "image/png"}), {formats: ["QRCode"]});
          return found.filter((r) => r.isValid).map((r) => r.text);
        }""",
        base64.b64encode(png).decode(),
    )


def counter_page(desk_page, owner):
    sign_in(desk_page, owner)
    desk_page.goto(reverse("coupons:merchant_verify"))
    return desk_page


def test_offline_after_loading_the_coupon_and_the_counter_uses_it_once(
    phone_page, desk_page, live_server, owner, customer, held
):
    phone = phone_page
    sign_in_as(phone, customer, live_server)
    phone.goto(reverse("coupons:wallet_coupon", args=[held.pk]))
    secret = OfflineSecret.objects.get(customer=customer)
    kept = phone.evaluate("window.couponsOffline.load()")
    assert kept["secret"] == secret.secret and [c["id"] for c in kept["coupons"]] == [held.pk]
    box = phone.locator("#offline-code-box")
    expect(box).not_to_have_attribute("open", "")

    phone.context.set_offline(True)
    # The 30-second refresh of the online QR fails: the page opens the offline code itself.
    phone.evaluate(
        "htmx.ajax('GET', location.pathname, {target: '#qr', swap: 'outerHTML'}).catch(() => 0)"
    )
    expect(box).to_have_attribute("open", "")
    view = box.locator("[data-offline-code]")
    expect(view).to_have_attribute("data-code", re.compile(r"^9\d{19}$"))
    expect(view.locator("[data-role=digits]")).to_have_text(DIGITS)
    expect(view.locator("[data-role=status]")).to_contain_text("秒")  # Chinese first
    code = view.get_attribute("data-code")
    made = {
        tokens.offline_code_for(secret.key, held.pk, now=time.time() - back) for back in (0, 30)
    }
    assert code in made
    assert held.code not in phone.content()
    png = view.locator("[data-role=qr] svg").screenshot()

    counter = counter_page(desk_page, owner)
    assert read_qr_at_the_counter(counter, png) == [code]
    counter.evaluate("(text) => window.couponsVerifySubmitScanned(text)", code)
    counter.locator("#inspection[data-usable='true']").wait_for()
    counter.locator("#confirm-form button[type=submit]").click()
    counter.locator("#verify-success").wait_for()
    verification = Verification.objects.get(coupon=held)
    assert verification.offline_step is not None
    assert Coupon.objects.get(pk=held.pk).status == "verified"

    # The owner undoes it; the same code, scanned again, is refused: the customer shows a new one.
    services.verification_undo(actor=owner, verification_id=verification.pk, reason="试一下")
    counter.goto(reverse("coupons:merchant_verify"))
    counter.evaluate("(text) => window.couponsVerifySubmitScanned(text)", code)
    expect(counter.locator("#verify-error")).to_have_attribute("data-code", "coupon_code_used")
    assert Verification.objects.filter(coupon=held).count() == 1


def test_the_wallet_list_works_offline_from_what_the_phone_keeps(
    phone_page, desk_page, live_server, owner, officer, customer, held
):
    other = services.coupon_claim(
        customer=customer,
        template_id=live_template(owner=owner, reviewer=officer, title="第二张").pk,
        claim_key=uuid.uuid4().hex,
    )
    phone = phone_page
    sign_in_as(phone, customer, live_server)
    phone.goto(reverse("coupons:wallet"))
    phone.context.set_offline(True)
    phone.click("#offline-wallet summary")
    buttons = phone.locator("#offline-list button")
    expect(buttons).to_have_count(2)
    view = phone.locator("#offline-wallet [data-offline-code]")
    expect(view).to_have_attribute("data-coupon", str(held.pk))  # the soonest to expire first
    phone.locator(f"#offline-list button[data-coupon='{other.pk}']").click()
    expect(view).to_have_attribute("data-coupon", str(other.pk))
    expect(view.locator("[data-role=title]")).to_contain_text("第二张")
    expect(view).to_have_attribute("data-code", re.compile(rf"^9{other.pk:09d}\d{{10}}$"))
    digits = view.locator("[data-role=digits]").inner_text()

    counter = counter_page(desk_page, owner)
    counter.fill("#inspect-form input[name=code]", digits)  # typed by the cashier, with spaces
    counter.locator("#inspect-form button[type=submit]").click()
    inspection = counter.locator("#inspection[data-usable='true']")
    inspection.wait_for()
    assert "第二张" in inspection.inner_text()

    # Signing out on the phone takes the key off it.
    phone.context.set_offline(False)
    phone.goto(reverse("coupons:wallet"))
    assert phone.evaluate("window.couponsOffline.load()") is not None
    phone.locator("form[action$='/logout/'] button[type=submit]").click()
    phone.wait_for_load_state()
    assert phone.evaluate("localStorage.getItem('coupons.offline.v1')") is None
