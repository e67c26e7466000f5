"""Verifying at the counter in Debian's chromium: the owner signs in with their password, types
a customer's coupon code, sees what it is, confirms, sees it used. And the camera path: a fake
camera shows the customer's QR (a Y4M video made from the wallet's token) and the page reads it
with the vendored ZXing library."""

import uuid

import pytest
import qrcode
from django.urls import reverse
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from coupons import services
from coupons.models import Coupon, Verification
from tests.conftest import CHROMIUM
from tests.coupons.factories import live_template, typed

PASSWORD = "Counter-2026!"


def sign_in(page, owner) -> None:
    page.goto(reverse("accounts:merchant_login"))
    page.fill("input[name=phone]", owner.phone.removeprefix("+86"))
    page.fill("input[name=password]", PASSWORD)
    page.locator("form[action$='/merchant/login/'] button[type=submit]").click()
    page.wait_for_load_state()
    assert "/login/" not in page.url


@pytest.fixture
def counter(transactional_db, owner, officer, customers):
    """A live 满100减20 and a customer's coupon of it; the owner's password set (the test's own
    setup of credentials)."""
    owner.set_password(PASSWORD)
    owner.save()
    template = live_template(owner=owner, reviewer=officer)
    return services.coupon_claim(
        customer=customers[0], template_id=template.pk, claim_key=uuid.uuid4().hex
    )


@pytest.mark.browser
def test_owner_types_a_code_inspects_and_confirms(desk_page, live_server, owner, counter):
    page = desk_page
    sign_in(page, owner)
    page.goto(reverse("coupons:merchant_verify"))
    # The vendored QR library is served by the app and the camera button is offered.
    assert page.evaluate("typeof window.ZXingWASM.readBarcodes") == "function"
    page.locator("#scan-start").wait_for()

    page.fill("#inspect-form input[name=code]", typed(counter))
    page.locator("#inspect-form button[type=submit]").click()
    inspection = page.locator("#inspection[data-usable='true']")
    inspection.wait_for()
    assert "满100减20" in inspection.inner_text()
    assert counter.customer.phone[-4:] in inspection.inner_text()
    assert page.url.endswith(reverse("coupons:merchant_verify"))  # swapped in place by htmx
    page.screenshot(path="/tmp/verify-inspect.png", full_page=True)

    page.locator("#confirm-form button[type=submit]").click()
    page.locator("#verify-success").wait_for()
    verification = Verification.objects.get(coupon=counter)
    assert Coupon.objects.get(pk=counter.pk).status == "verified"
    page.locator(f"#recent-verifications #verification-{verification.pk}").wait_for()
    page.screenshot(path="/tmp/verify-success.png", full_page=True)


def qr_video(text: str, path: str, frames: int = 20) -> None:
    """A Y4M video (640x480, 4:2:0, grey) of the QR of ``text``: what Chromium's fake camera
    plays in a loop."""
    width, height = 640, 480
    qr = qrcode.make(text, box_size=8, border=4).get_image().convert("L")
    side = min(qr.size[0], height - 40)
    frame = Image.new("L", (width, height), 255)
    frame.paste(qr.resize((side, side)), ((width - side) // 2, (height - side) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * (width * height // 4)
    with open(path, "wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + luma + chroma + chroma)


# A wallet QR that ZXing-JS 0.23, the library the counter used before zxing-wasm, could never
# read (zxing-js/library#653, about 6 % of wallet symbols; static/coupons/vendor/README.md). Its
# token is for no coupon of this database: read, it is refused, which shows it was read.
ZXING_JS_COULD_NOT_READ = "gAAAAABrB9fPJrBKcOj0975dpkw-e2ZM47p10aHcg7Al2DBpKy3YeTnk8glip-mpRT__vDRNoqQXHfKzo3e4UVXuX5rPhRrKcQ=="


def counter_camera(browser, live_server, owner, token: str, video: str):
    """(chromium, page): the owner's counter page in a chromium whose fake camera plays the
    QR of ``token``, scanning."""
    qr_video(token, video)
    camera_browser = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    context = camera_browser.new_context(locale="zh-CN", base_url=live_server.url)
    context.grant_permissions(["camera"])
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in(page, owner)
    page.goto(reverse("coupons:merchant_verify"))
    page.locator("#scan-start").click()
    return camera_browser, page


def read_or_fail(page, selector: str) -> None:
    try:
        page.locator(selector).wait_for()
    except PlaywrightTimeout:
        status = page.locator("#scan-status").inner_text()
        pytest.fail(f"nothing read in 20 s; the scanner says {status!r}")


@pytest.mark.browser
def test_the_camera_reads_the_customers_qr(browser, live_server, owner, counter, tmp_path):
    camera_browser, page = counter_camera(
        browser, live_server, owner, services.token_for(counter.code), str(tmp_path / "qr.y4m")
    )
    try:
        read_or_fail(page, "#inspection[data-usable]")
        inspection = page.locator("#inspection")
        assert inspection.get_attribute("data-usable") == "true", (
            inspection.get_attribute("data-reason"),
            inspection.inner_text(),
        )
        assert counter.code in inspection.inner_text()
        # the camera is released once the code is read
        assert page.locator("#scan-video").is_hidden()
        page.locator("#confirm-form button[type=submit]").click()
        page.locator("#verify-success").wait_for()
    finally:
        camera_browser.close()
    assert Verification.objects.filter(coupon=counter).count() == 1


@pytest.mark.browser
def test_the_camera_reads_a_qr_the_old_library_could_not(browser, live_server, owner, tmp_path):
    owner.set_password(PASSWORD)
    owner.save()
    camera_browser, page = counter_camera(
        browser, live_server, owner, ZXING_JS_COULD_NOT_READ, str(tmp_path / "qr.y4m")
    )
    try:
        read_or_fail(page, "#verify-error")
        assert page.locator("#scan-video").is_hidden()
    finally:
        camera_browser.close()


def test_the_qr_video_has_whole_frames(tmp_path):
    path = tmp_path / "qr.y4m"
    qr_video("ABC:def:ghi", str(path), frames=3)
    header, _, rest = path.read_bytes().partition(b"\n")
    assert header.startswith(b"YUV4MPEG2 W640 H480")
    assert len(rest) == 3 * (len(b"FRAME\n") + 640 * 480 * 3 // 2)
