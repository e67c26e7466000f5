"""Scan to pay in Debian's chromium: a signed-in customer opens a store's QR on a phone, types
the bill key by key and watches the best coupon and the points come off it live, pays through
the sandbox channel's hosted page and lands on the receipt, which turns paid by itself; the
cashier's takings page, open at the counter PC since before, shows the payment arrive (and
reads it out aloud) without a reload.

Two ways the receipt learns: with a real Celery worker the sandbox's notification reaches our
notify URL over HTTP (PostgreSQL); without one (SQLite too) nothing is delivered and the
receipt asks the channel itself while the payment is open."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from coupons.models import Coupon
from coupons.services import coupon_claim
from payments import services
from payments.gateways import gateway_for
from payments.models import GatewayNotification, OrderEvent, PaymentOrder
from points.selectors import customer_balance
from sandbox_gateway import services as sandbox
from sandbox_gateway.models import Delivery
from tests.coupons.factories import live_template
from tests.coupons.test_browser_customer import sign_in_as
from tests.factories import UserFactory

from .conftest import key

SHOTS = "/tmp/browser-pay-{}.png"


@pytest.fixture
def on_live_server(settings, live_server):
    """The payer's browser must reach what the channel hands out: our receipt (the return URL)
    and the sandbox's hosted page, whose address the sandbox builds from the host it is called
    at. The adapter still calls it in-process: on SQLite the live server answers one request at
    a time, and a pay request waiting on its own server would wait for ever."""
    settings.ALLIANCE_PUBLIC_BASE_URL = live_server.url
    settings.ALLIANCE_PAYMENT_GATEWAYS = {
        channel: {**conf, "base_url": f"{live_server.url}/sandbox-gateway"}
        for channel, conf in settings.ALLIANCE_PAYMENT_GATEWAYS.items()
    }
    gateway_for.cache_clear()  # adapters are built once per process from the settings
    yield live_server
    gateway_for.cache_clear()


@pytest.fixture
def small_coupon(owner, officer, payer):
    """A second coupon of the payer's at the same shop, worth less at ¥120: 满50减5."""
    template = live_template(owner=owner, reviewer=officer, title="满50减5", discount_fen=500,
                             min_spend_fen=5000)
    return coupon_claim(customer=payer, template_id=template.pk, claim_key=key("claim"))


def paid_earlier(qr, gross_fen: int) -> PaymentOrder:
    """Another customer's payment at the shop earlier today, paid on the channel and settled."""
    other = UserFactory(role="customer")
    order = services.order_create(payer=other, qr_token=qr.token, gross_fen=gross_fen,
                                  channel="alipay", idempotency_key=key("earlier"))
    order = services.order_start_payment(order_id=order.pk)
    sandbox.pay(order.out_trade_no)
    order = services.order_settle_open(order_id=order.pk)
    assert order.status == "paid"
    return order


# What the takings page says aloud goes to this list instead of a speaker.
FAKE_SPEAKER = """
window.said = [];
Object.defineProperty(window, "speechSynthesis", {
  configurable: true, value: { speak: function (u) { window.said.push(u.text); } },
});
if (!window.SpeechSynthesisUtterance) window.SpeechSynthesisUtterance = function (t) { this.text = t; };
"""


def open_takings(page, cashier, live_server):
    """The cashier's takings page with "read out aloud" on (before the customer pays)."""
    sign_in_as(page, cashier, live_server)
    page.add_init_script(FAKE_SPEAKER)
    page.goto(reverse("payments:merchant_takings"))
    page.check("#announce")
    expect(page.locator("#today-amount")).to_have_text("¥30.00")
    expect(page.locator("#today-orders")).to_have_text("1")
    expect(page.locator("#payment-rows tr")).to_have_count(1)
    page.evaluate("window.samePage = true")


def quote_and_pay_on_the_phone(page, qr, coupon, small_coupon, payer) -> PaymentOrder:
    """Type ¥120 as a person does, watch the quote, pay with WeChat Pay: on the channel's
    hosted page, not confirmed yet. The order as it stands then."""
    page.goto(reverse("payments:pay", args=[qr.token]))
    expect(page.locator("h1")).to_have_text(qr.merchant.business_name)
    # Key by key, slower than the page's 400 ms pause: ¥1 and ¥12 are quoted on the way
    # (no coupon can be used on them, and points pay half of them at most).
    page.locator("#amount").press_sequentially("120", delay=650)
    best = page.locator(f"input[name=coupon][value='{coupon.pk}']")
    summary, to_pay = page.locator("#summary"), page.locator("#to-pay")
    expect(to_pay).to_have_text("¥50.00")  # 120 - 20 (满100减20) - 50 (5,000 points, half of 100)
    expect(best).to_be_checked()
    expect(summary).to_contain_text("-¥20.00")
    expect(summary).to_contain_text("-¥50.00")

    page.locator("label", has_text="满50减5").click()
    expect(to_pay).to_have_text("¥65.00")  # 120 - 5 - 50: the points' cap is the balance
    page.locator("label", has_text="满100减20").click()
    expect(to_pay).to_have_text("¥50.00")
    points = page.locator("input[name=use_points]")
    points.uncheck()
    expect(to_pay).to_have_text("¥100.00")
    points.check()
    expect(to_pay).to_have_text("¥50.00")
    expect(best).to_be_checked()

    page.locator("label", has_text="微信支付").click()
    page.screenshot(path=SHOTS.format("phone"), full_page=True)
    page.click("#pay-button")
    page.wait_for_url(re.compile(r"/sandbox-gateway/pay/"))
    expect(page.locator("#amount")).to_have_text("¥50.00")
    page.screenshot(path=SHOTS.format("hosted"), full_page=True)

    order = PaymentOrder.objects.get(customer=payer)
    assert (order.status, order.channel) == ("paying", "wechat")
    assert (order.gross_fen, order.coupon_discount_fen, order.points_used, order.points_fen,
            order.amount_fen) == (12_000, 2000, 5000, 5000, 5000)
    # The coupon and the points are held by the order while the channel has it.
    assert Coupon.objects.get(pk=coupon.pk).status == Coupon.Status.VERIFIED
    assert Coupon.objects.get(pk=small_coupon.pk).status == Coupon.Status.ISSUED
    assert customer_balance(customer_id=payer.pk) == (0, 0)
    return order


def assert_paid(order: PaymentOrder, *, coupon, small_coupon, payer) -> PaymentOrder:
    order.refresh_from_db()
    assert order.status == "paid" and order.amount_fen == 5000
    assert OrderEvent.objects.filter(order=order, to_status="paid").count() == 1
    assert order.coupon_verification.coupon_id == coupon.pk
    assert Coupon.objects.get(pk=coupon.pk).status == Coupon.Status.VERIFIED
    assert Coupon.objects.get(pk=small_coupon.pk).status == Coupon.Status.ISSUED
    # Points spent; ¥50 paid in cash earns 50 (1 a yuan), pending for now.
    assert order.points_earned == 50
    assert customer_balance(customer_id=payer.pk) == (0, 50)
    return order


def assert_arrived_at_the_counter(page, order: PaymentOrder) -> None:
    """The takings page shows the new payment on top, today's totals updated, read aloud."""
    top = page.locator("#payment-rows tr").first
    expect(top).to_contain_text("¥50.00", timeout=20_000)  # polled every 3 s
    expect(top).to_contain_text("¥120.00")
    expect(top.locator("a")).to_have_attribute(
        "href", reverse("payments:merchant_payment", args=[order.out_trade_no]))
    expect(page.locator("#payment-rows tr")).to_have_count(2)
    expect(page.locator("#today-amount")).to_have_text("¥80.00")
    expect(page.locator("#today-orders")).to_have_text("2")
    assert page.evaluate("window.samePage") is True  # no reload
    assert page.evaluate("window.said") == ["收款到账50.00元"]
    page.screenshot(path=SHOTS.format("takings"), full_page=True)


@pytest.mark.browser
def test_scan_to_pay_on_a_phone_the_receipt_asks_the_channel(
    transactional_db, settings, on_live_server, phone_page, desk_page, payer, coupon,
    small_coupon, qr, earn_rate, cashier
):
    # Nothing delivers the channel's notifications, and no poll job is queued (as in the local
    # demo, alliance/settings/local.py): only the receipt page asks the channel.
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    settings.CELERY_TASK_ALWAYS_EAGER = True
    paid_earlier(qr, 3000)
    open_takings(desk_page, cashier, on_live_server)

    phone = phone_page
    sign_in_as(phone, payer, on_live_server)
    order = quote_and_pay_on_the_phone(phone, qr, coupon, small_coupon, payer)
    hosted_url = phone.url

    # The payer leaves the channel's page before paying: the receipt waits, asking.
    phone.get_by_role("link", name=re.compile("Back to the merchant|返回商户")).click()
    phone.wait_for_url(re.compile(r"/pay/orders/"))
    waiting = phone.locator("#status")
    expect(waiting).to_have_attribute("data-status", "paying")
    expect(waiting).not_to_contain_text("已支付")  # "to pay", not "paid", until it is
    phone.evaluate("window.samePage = true")

    # ...and pays in the channel's page after all (the channel's app, here a second tab).
    channel = phone.context.new_page()
    channel.goto(hosted_url)
    channel.click("button.confirm")
    channel.wait_for_url(re.compile(r"/pay/orders/"))
    expect(channel.locator("#status")).to_have_attribute("data-status", "paid")
    channel.close()

    expect(waiting).to_have_attribute("data-status", "paid")  # polled every 2 s
    assert phone.evaluate("window.samePage") is True
    expect(phone.locator("#paid-amount")).to_have_text("¥50.00")
    expect(phone.locator("#points-earned")).to_contain_text("50")
    phone.screenshot(path=SHOTS.format("receipt"), full_page=True)

    order = assert_paid(order, coupon=coupon, small_coupon=small_coupon, payer=payer)
    # Decided by asking: the channel's notification is still waiting to be sent.
    assert not GatewayNotification.objects.filter(out_trade_no=order.out_trade_no).exists()
    assert Delivery.objects.get(trade__out_trade_no=order.out_trade_no).status == "pending"
    assert_arrived_at_the_counter(desk_page, order)


def wait_for(check, *, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {check.__doc__}")
        time.sleep(0.2)


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_scan_to_pay_on_a_phone_the_notification_comes_over_http(
    on_live_server, celery_worker_process, phone_page, desk_page, payer, coupon, small_coupon,
    qr, earn_rate, cashier
):
    paid_earlier(qr, 3000)
    open_takings(desk_page, cashier, on_live_server)

    phone = phone_page
    sign_in_as(phone, payer, on_live_server)
    order = quote_and_pay_on_the_phone(phone, qr, coupon, small_coupon, payer)
    phone.click("button.confirm")
    phone.wait_for_url(re.compile(r"/pay/orders/"))
    expect(phone.locator("#status")).to_have_attribute("data-status", "paid")
    expect(phone.locator("#paid-amount")).to_have_text("¥50.00")

    def notified():
        """the worker delivered the channel's notification to our notify URL"""
        return Delivery.objects.filter(trade__out_trade_no=order.out_trade_no,
                                       status="delivered").exists()

    wait_for(notified)
    # The receipt asks the channel too: whichever came first paid the order, the other
    # changed nothing.
    note = GatewayNotification.objects.get(out_trade_no=order.out_trade_no)
    assert (note.kind, note.outcome) in {("payment", "applied"), ("payment", "duplicate")}
    order = assert_paid(order, coupon=coupon, small_coupon=small_coupon, payer=payer)
    assert_arrived_at_the_counter(desk_page, order)
