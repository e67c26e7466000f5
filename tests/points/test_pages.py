"""The customer's points page and the head-office adjustment console."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from points import services
from points.models import JournalEntry, Tier
from points.selectors import customer_balance, points_expiring_soon

from .factories import earn, earn_available, key, spend

HOME = reverse("points:home")
CONSOLE = reverse("points:console_adjust")
pytestmark = pytest.mark.django_db


def english(client):
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def tiers(db):
    Tier.objects.create(code="normal", name="Normal", threshold_fen=0)
    Tier.objects.create(code="silver", name="Silver", threshold_fen=500_000, multiplier_percent=120)
    Tier.objects.create(code="gold", name="Gold", threshold_fen=2_000_000, multiplier_percent=150)


# --- Who may see what ----------------------------------------------------------------------------


def test_anonymous_goes_to_the_customer_sign_in(client):
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={HOME}"


@pytest.mark.parametrize("who", ["merchant_owner", "officer", "head_office"])
def test_only_customers_see_the_points_page(client, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(HOME).status_code == 403


@pytest.mark.parametrize("who", ["customer", "merchant_owner", "officer", "manager"])
def test_only_head_office_reaches_the_adjustment_console(client, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(CONSOLE).status_code == 403
    assert client.post(CONSOLE, {}).status_code == 403


def test_anonymous_console_goes_to_the_staff_sign_in(client):
    response = client.get(CONSOLE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:staff_login"))


# --- The customer's page -------------------------------------------------------------------------


def test_balance_pending_expiring_tier_and_progress(client, customer, head_office, tiers):
    now = timezone.now()
    services.points_adjust(actor=head_office, customer_id=customer.pk, points=300,
                           reason="welcome", idempotency_key=key(), now=now)
    # a lot earned a year ago: it expires at the start of next month, within 30 days on most
    # days (points_summary's exact dates are tested with a fixed clock in test_api)
    earn_available(customer, 40, now=now - timedelta(days=365))
    earn(customer, 25, now=now)  # pending
    services.tier_record_spending(customer_id=customer.pk, amount_fen=123_456,
                                  idempotency_key=key(), now=now)
    client.force_login(customer)
    response = english(client).get(HOME)
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'id="usable-points">340<', html)
    assert re.search(r'id="pending-points">25<', html)
    assert "Expiring in the next 30 days" in html
    expiring = points_expiring_soon(customer_id=customer.pk).points
    assert expiring in (0, 40)
    assert re.search(rf'class="num ?(warn)?">{expiring}<', html)
    assert "Normal" in html
    assert "Spent in the last 12 months: ¥1,234.56" in html
    assert "Spend ¥3,765.44 more to reach Silver." in html
    assert 'value="24"' in html  # 123,456 / 500,000 of the way


def test_top_tier_says_so(client, customer, tiers):
    services.tier_record_spending(customer_id=customer.pk, amount_fen=2_500_000,
                                  idempotency_key=key(), now=timezone.now())
    client.force_login(customer)
    html = english(client).get(HOME).content.decode()
    assert "Gold" in html and "You are in the highest tier." in html


def test_history_in_plain_language_and_shanghai_time(client, customer, head_office):
    from .conftest import sh

    earn_available(customer, 100, now=sh(2026, 3, 1, 9, 30), reference_id=7781)
    spend(customer, 30, now=sh(2026, 3, 20, 23, 45))
    services.points_adjust(actor=head_office, customer_id=customer.pk, points=-5,
                           reason="Duplicate reward corrected", idempotency_key=key(),
                           now=sh(2026, 3, 21, 8, 0))
    client.force_login(customer)
    html = english(client).get(HOME).content.decode()
    assert "Points for your payment" in html and "Payment no. 7781" in html
    assert "Pending points can now be used" in html
    assert "Used to pay" in html
    assert "Adjusted by the bank: Duplicate reward corrected" in html
    assert "2026-03-20 23:45" in html  # 15:45 UTC, shown in Asia/Shanghai
    assert "2026-03-01 09:30" in html
    assert "+100 pending" in html
    assert "· Spent" in html and "· Earned" in html and "· Adjusted by head office" in html
    # entry kinds are translated
    client.cookies["django_language"] = "zh-hans"
    zh = client.get(HOME).content.decode()
    with translation.override("zh-hans"):
        spent = str(JournalEntry.Kind.SPEND.label)
    assert spent != "Spent" and f"· {spent}" in zh and "· Spent" not in zh


def test_history_names_the_merchant(client, customer, officer, branch):
    from tests.merchants.factories import approved_merchant

    merchant = approved_merchant(reviewer=officer)
    earn_available(customer, 80, now=timezone.now() - timedelta(days=10), merchant_id=merchant.pk)
    client.force_login(customer)
    html = english(client).get(HOME).content.decode()
    assert f"Points for your payment at {merchant.business_name}" in html


def test_history_pages_by_link_and_by_htmx(client, customer, head_office):
    for n in range(25):
        services.points_adjust(actor=head_office, customer_id=customer.pk, points=1,
                               reason=f"gift {n}", idempotency_key=key())
    client.force_login(customer)
    first = english(client).get(HOME).content.decode()
    assert first.count("Adjusted by the bank") == 20
    assert "gift 24" in first and "gift 4<" not in first
    more = re.search(r'<a class="button secondary" href="\?page=2"\s+hx-get="\?page=2"', first)
    assert more, "the more link works with and without htmx"

    plain = client.get(HOME, {"page": 2}).content.decode()  # no JavaScript: a whole page
    assert "<html" in plain and plain.count("Adjusted by the bank") == 5 and "Newer" in plain

    partial = client.get(HOME, {"page": 2}, HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode()
    assert partial.content.decode().count("<li") == 5
    assert "HX-Request" in partial["Vary"]


def test_a_customer_without_points_sees_zeros(client, customer):
    client.force_login(customer)
    html = english(client).get(HOME).content.decode()
    assert 'id="usable-points">0<' in html and "No points yet." in html


# --- The head-office console ---------------------------------------------------------------------


def _form_key(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html).group(1)


def test_find_a_customer_and_see_their_points(client, head_office, customer):
    earn_available(customer, 70, now=timezone.now() - timedelta(days=10))
    client.force_login(head_office)
    response = english(client).get(CONSOLE, {"phone": customer.phone[3:]})
    html = response.content.decode()
    assert response.status_code == 200
    assert customer.masked_phone in html and customer.phone not in html
    assert re.search(r'id="usable-points">70<', html)
    assert "Points for your payment" in html
    assert _form_key(html)


def test_unknown_or_invalid_numbers_are_said_plainly(client, head_office, merchant_owner):
    client.force_login(head_office)
    english(client)
    assert "No customer with this mobile number" in client.get(CONSOLE, {"phone": "13700000000"}).content.decode()
    assert "valid mainland China mobile number" in client.get(CONSOLE, {"phone": "12"}).content.decode()
    # a merchant's number is not a customer's
    html = client.get(CONSOLE, {"phone": merchant_owner.phone}).content.decode()
    assert "No customer with this mobile number" in html


def test_a_double_submit_posts_one_adjustment(client, head_office, customer):
    client.force_login(head_office)
    english(client)  # messages are translated when they are made, at the POST
    form_key = _form_key(client.get(CONSOLE, {"phone": customer.phone}).content.decode())
    data = {"customer": customer.pk, "points": 50, "reason": "Compensation for a late refund",
            "idempotency_key": form_key}
    first = client.post(CONSOLE, data)
    second = client.post(CONSOLE, data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == f"{CONSOLE}?customer={customer.pk}"
    assert JournalEntry.objects.filter(kind="adjust").count() == 1
    assert customer_balance(customer_id=customer.pk) == (50, 0)
    entry = JournalEntry.objects.get(kind="adjust")
    assert entry.actor == head_office and entry.reason == "Compensation for a late refund"
    page = client.get(first["Location"]).content.decode()
    assert "already recorded" in page  # the second submit's message
    assert _form_key(page) != form_key  # the next adjustment gets a new key


def test_htmx_submit_redirects_the_client(client, head_office, customer):
    client.force_login(head_office)
    response = client.post(CONSOLE, {"customer": customer.pk, "points": 5, "reason": "gift",
                                     "idempotency_key": "abc123"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{CONSOLE}?customer={customer.pk}"


def test_overdrawing_adjustment_is_refused_with_a_message(client, head_office, customer):
    earn_available(customer, 10, now=timezone.now() - timedelta(days=10))
    client.force_login(head_office)
    response = english(client).post(CONSOLE, {"customer": customer.pk, "points": -11,
                                              "reason": "clawback", "idempotency_key": "k1"})
    assert response.status_code == 200
    assert "Not enough points." in response.content.decode()
    assert customer_balance(customer_id=customer.pk) == (10, 0)
    assert not JournalEntry.objects.filter(kind="adjust").exists()


def test_reason_and_non_zero_points_are_required(client, head_office, customer):
    client.force_login(head_office)
    english(client)
    html = client.post(CONSOLE, {"customer": customer.pk, "points": 0, "reason": " ",
                                 "idempotency_key": "k2"}).content.decode()
    assert "other than zero" in html and "This field is required." in html
    assert not JournalEntry.objects.exists()


def test_the_console_pages_history_with_htmx(client, head_office, customer):
    for n in range(21):
        services.points_adjust(actor=head_office, customer_id=customer.pk, points=1,
                               reason=f"gift {n}", idempotency_key=key())
    client.force_login(head_office)
    html = client.get(CONSOLE, {"customer": customer.pk}).content.decode()
    assert f'href="?customer={customer.pk}&amp;page=2"' in html
    partial = client.get(CONSOLE, {"customer": customer.pk, "page": 2}, HTTP_HX_REQUEST="true")
    assert partial.content.decode().count("<li") == 1
