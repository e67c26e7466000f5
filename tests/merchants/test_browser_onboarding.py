"""Onboarding end to end in Debian's chromium: a shop applies from a phone, the branch officer
approves it in the console's review queue, the new merchant signs in.

The applicant fills the real application pages (typing the coordinates: no map tiles in
tests), uploads the photos and submits; the approval goes through the real console page.
"""

import io

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import NoReverseMatch, reverse
from PIL import Image

from accounts.models import User
from alliance.celery import app as celery_app
from merchants.models import Merchant, MerchantApplication
from tests.factories import BranchFactory, UserFactory
from tests.merchants.factories import credit_code, fee_plan, near

PASSWORD = "Tea-House-2026!"


@pytest.fixture
def eager_tasks():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def sign_in_as(page, user, live_server):
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME,
          "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
          "url": live_server.url}]
    )


def png(width=400, height=300) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.browser
def test_apply_on_a_phone_approve_in_the_console_sign_in_as_the_merchant(
    transactional_db, live_server, phone_page, desk_page, eager_tasks, tmp_path, settings
):
    settings.MEDIA_ROOT = str(tmp_path)  # the live server thread reads the same settings
    branch = BranchFactory(code="HZ001", name="West Lake", lat=30.2590, lng=120.1640)
    officer = UserFactory(role="branch_officer", username="officer-browser", branch=branch)
    applicant = UserFactory(role="customer", phone="+8613912345678")
    plan = fee_plan("Tea houses", 38)
    lat, lng = near(bearing=45, metres=600)

    # --- the applicant, on a phone: the real pages, typed coordinates (no map tiles here) ------
    sign_in_as(phone_page, applicant, live_server)
    phone_page.goto(reverse("merchants:apply"))
    phone_page.click("#start-application")
    phone_page.wait_for_selector("#application-form")
    typed = {
        "business_name": "湖畔茶社",
        "credit_code": credit_code(424242),
        "legal_representative": "王芳",
        "contact_phone": "13805710001",
        "store_name": "湖畔茶社（北山路店）",
        "store_address": "杭州市西湖区北山路 12 号",
        "opening_hours": "09:00-22:00",
        "lat": str(lat),
        "lng": str(lng),
        "settlement_bank": "联盟银行西湖支行",
        "settlement_account_name": "杭州湖畔茶社有限公司",
        "settlement_account_number": "6222021234567890123",
    }
    for name, value in typed.items():
        phone_page.fill(f"#application-form [name={name}]", value)
    phone_page.select_option("#application-form [name=category]", "drinks_desserts")
    phone_page.click("#save-draft")
    application = None
    for _ in range(100):  # the htmx save swaps the form in place
        application = MerchantApplication.objects.filter(applicant=applicant).first()
        if application and application.business_name == "湖畔茶社":
            break
        phone_page.wait_for_timeout(100)
    assert application.settlement_account_number == "6222021234567890123"
    application_id = application.pk
    for n, kind in enumerate(("licence", "storefront"), start=1):
        phone_page.select_option("#document-form [name=kind]", kind)
        phone_page.set_input_files(
            "#document-form [name=image]",
            files=[{"name": f"{kind}.png", "mimeType": "image/png", "buffer": png()}],
        )
        phone_page.click("#upload")
        phone_page.wait_for_function(
            f"document.querySelectorAll('#documents ul.docs img').length === {n}"
        )
    phone_page.click("#submit-application")
    phone_page.wait_for_url(f"**{reverse('merchants:apply_status', args=[application_id])}")
    assert MerchantApplication.objects.get(pk=application_id).status == "submitted"
    phone_page.screenshot(path="/tmp/application-submitted.png", full_page=True)

    # --- the branch officer, in the console ----------------------------------------------------
    sign_in_as(desk_page, officer, live_server)
    desk_page.goto(reverse("merchants:console_review_queue"))
    row = desk_page.locator(f"#application-{application_id}")
    row.wait_for()
    assert "湖畔茶社" in row.inner_text()
    assert row.locator(".credit-code .badge.ok").count() == 1
    assert row.locator(".photos img").count() == 2
    # the photos are streamed to staff: both load as real images
    desk_page.wait_for_function(
        f"Array.from(document.querySelectorAll('#application-{application_id} .photos img'))"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    desk_page.screenshot(path="/tmp/review-queue.png", full_page=True)

    row.locator("select[name$='fee_plan']").select_option(str(plan.pk))
    row.locator("form.decision-approve button[type=submit]").click()
    desk_page.locator(f"#application-{application_id}[data-status='approved']").wait_for()
    merchant = Merchant.objects.get(application_id=application_id)
    assert merchant.fee_plan == plan and merchant.stores.get().branch == branch
    assert desk_page.url.endswith(reverse("merchants:console_review_queue"))  # in place

    desk_page.goto(reverse("branches:map"))
    desk_page.wait_for_selector("#map[data-ready='true']")
    assert desk_page.locator("#map path.store-marker.store-active").count() == 1
    desk_page.screenshot(path="/tmp/grid-map-stores.png", full_page=True)

    # --- the new merchant signs in (the password-set flow is built elsewhere) -------------------
    owner = User.objects.get(pk=applicant.pk)
    assert owner.role == "merchant_owner"
    owner.set_password(PASSWORD)
    owner.save()
    phone_page.context.clear_cookies()
    phone_page.goto(reverse("accounts:merchant_login"))
    phone_page.fill("input[name=phone]", "13912345678")
    phone_page.fill("input[name=password]", PASSWORD)
    phone_page.locator("form[action$='/merchant/login/'] button[type=submit]").click()
    phone_page.wait_for_load_state()
    assert "/login/" not in phone_page.url
    assert phone_page.locator(f"form[action='{reverse('accounts:logout')}']").count() == 1
    try:
        dashboard = reverse("merchants:dashboard")
    except NoReverseMatch:
        dashboard = None
    if dashboard:
        response = phone_page.goto(dashboard)
        assert response.status == 200
        assert "湖畔茶社" in phone_page.content()
    phone_page.screenshot(path="/tmp/merchant-signed-in.png", full_page=True)
