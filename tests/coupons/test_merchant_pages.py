"""The merchant's coupon pages, through their URLs: templates (write, edit, actions, file) and
the counter (inspect, confirm, undo), for the owner, the cashier and another merchant."""

import re
import time
import uuid
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from coupons import services
from coupons.errors import CouponOtherMerchant, TokenExpired, UndoWindowPassed, UnsafeEdit
from coupons.merchant_forms import TemplateForm, yuan_to_fen
from coupons.models import Coupon, CouponTemplate, Verification
from tests.coupons.factories import approved_template, draft_template, live_template, typed

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
SHANGHAI = timezone.get_default_timezone()


def url(name, *args):
    return reverse(f"coupons:{name}", args=args)


@pytest.fixture
def as_owner(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def as_cashier(client, cashier):
    client.force_login(cashier)
    return client


def new_template_data(store, **overrides) -> dict:
    """What the owner types into the new-coupon form: 满100减20.5, weekdays Mon-Fri."""
    data = {
        "kind": "cash_off",
        "title": "满100减20.5",
        "description": "Weekday lunch",
        "discount": "20.5",
        "min_spend": "¥100",
        "obtain": "free",
        "stores": [str(store.pk)],
        "total_stock": "50",
        "per_customer_limit": "1",
        "claim_start": "2030-01-01T10:00",
        "claim_end": "2030-01-31T22:00",
        "validity": "relative",
        "valid_days": "7",
        "start_delay_days": "0",
        "weekdays": ["0", "1", "2", "3", "4"],
        "time_slots": "11:00-14:00, 17:00-21:00",
        "refund_any_time": "on",
        "refund_on_expiry": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def form_data_of(template: CouponTemplate) -> dict:
    """The edit form as the page shows it, posted back untouched."""
    form = TemplateForm(initial=TemplateForm.initial_of(template), merchant=template.merchant)
    data = {}
    for name, field in form.fields.items():
        if name == "image":
            continue
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list):
            data[name] = [str(v) for v in value]
        elif value is None:
            data[name] = ""
        else:
            shown = field.widget.format_value(value)  # a select gives a list of one
            shown = shown[0] if isinstance(shown, list) else shown
            data[name] = "" if shown is None else shown
    return data


# --- Money --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fen"),
    [("20.5", 2050), ("¥1,234.56", 123456), ("20", 2000), ("0.01", 1), ("", 0), ("20.500", 2050)],
)
def test_yuan_become_integer_fen(typed, fen):
    assert yuan_to_fen(typed) == fen
    assert isinstance(yuan_to_fen(typed), int)


@pytest.mark.parametrize("typed", ["20.555", "-1", "abc", "1e3", "20.5.1"])
def test_bad_money_is_refused(typed):
    with pytest.raises(ValidationError):
        yuan_to_fen(typed)


# --- Access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["merchant_templates", "merchant_template_new", "merchant_verify"])
def test_anonymous_users_go_to_the_merchant_sign_in(client, name):
    response = client.get(url(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:merchant_login"))


def test_customers_are_refused(client, customer):
    client.force_login(customer)
    assert client.get(url("merchant_templates")).status_code == 403


def test_cashier_reads_the_list_but_cannot_write(as_cashier, owner, store):
    template = draft_template(owner=owner)
    response = as_cashier.get(url("merchant_templates"))
    assert response.status_code == 200
    assert template.title in response.text and 'id="new-template"' not in response.text
    assert as_cashier.get(url("merchant_template_new")).status_code == 403
    assert (
        as_cashier.post(url("merchant_template_new"), new_template_data(store)).status_code == 403
    )
    response = as_cashier.post(url("merchant_template_action", template.pk, "submit"))
    assert response.status_code == 403
    response = as_cashier.post(url("merchant_template_stock", template.pk), {"more": "5"})
    assert response.status_code == 403
    assert as_cashier.get(url("merchant_template_edit", template.pk)).status_code == 403
    template.refresh_from_db()
    assert (template.status, template.total_stock) == ("draft", 100)
    page = as_cashier.get(url("merchant_template", template.pk))
    assert page.status_code == 200 and "action-submit" not in page.text


def test_another_merchants_template_is_404(client, owner, other_owner, store):
    template = draft_template(owner=owner)
    client.force_login(other_owner)
    assert client.get(url("merchant_template", template.pk)).status_code == 404
    assert client.get(url("merchant_template_edit", template.pk)).status_code == 404
    assert client.post(url("merchant_template_action", template.pk, "submit")).status_code == 404
    assert client.post(url("merchant_template_stock", template.pk), {"more": 1}).status_code == 404
    assert template.title not in client.get(url("merchant_templates")).text
    template.refresh_from_db()
    assert template.status == "draft"


# --- Write and edit ----------------------------------------------------------------------------


def test_owner_creates_a_draft_typed_in_yuan_and_local_time(as_owner, owner, store):
    response = as_owner.post(url("merchant_template_new"), new_template_data(store))
    assert response.status_code == 302, response.content.decode()[:2000]
    template = CouponTemplate.objects.get()
    assert response.url == url("merchant_template", template.pk)
    assert (template.discount_fen, template.min_spend_fen) == (2050, 10000)
    assert template.weekdays == 0b0011111
    assert template.time_slots == [["11:00", "14:00"], ["17:00", "21:00"]]
    assert template.claim_start == datetime(2030, 1, 1, 10, 0, tzinfo=SHANGHAI)
    assert list(template.stores.all()) == [store]
    assert (template.status, template.created_by) == ("draft", owner)
    page = as_owner.get(response.url)
    assert "¥20.50" in page.text and "¥100.00" in page.text


def test_three_decimals_are_refused_on_the_field(as_owner, store):
    response = as_owner.post(
        url("merchant_template_new"), new_template_data(store, discount="20.555"), **EN
    )
    assert response.status_code == 400
    assert response.context["form"].errors["discount"] == ["At most two decimals (fen)."]
    field = response.text.split('id="field-discount"')[1].split('id="field-')[0]
    assert "At most two decimals (fen)." in field
    assert not CouponTemplate.objects.exists()


def test_the_services_field_errors_show_on_the_right_fields(as_owner, store):
    data = new_template_data(store, discount="100", min_spend="100", weekdays=None)
    response = as_owner.post(url("merchant_template_new"), data, **EN)
    assert response.status_code == 400
    discount = response.context["form"].errors["discount"]
    assert discount == ["The discount must be less than the minimum spend."]
    assert response.context["form"].errors["weekdays"] == ["Choose at least one weekday."]
    assert "The discount must be less than the minimum spend." in response.text
    assert not CouponTemplate.objects.exists()


def test_owner_edits_a_draft(as_owner, owner):
    template = draft_template(owner=owner)
    data = form_data_of(template)
    data.update(title="满100减25", discount="25")
    response = as_owner.post(url("merchant_template_edit", template.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    template.refresh_from_db()
    assert (template.title, template.discount_fen, template.min_spend_fen) == (
        "满100减25",
        2500,
        10000,
    )


def test_after_approval_only_the_wording_changes(as_owner, owner, officer):
    template = approved_template(owner=owner, reviewer=officer)
    page = as_owner.get(url("merchant_template_edit", template.pk))
    assert 'id="reviewed-notice"' in page.text

    data = form_data_of(template)
    data["title"] = "满100减20 (weekdays)"
    response = as_owner.post(url("merchant_template_edit", template.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    template.refresh_from_db()
    assert template.title == "满100减20 (weekdays)" and template.status == "approved"

    data = form_data_of(template)
    data["total_stock"] = "500"
    response = as_owner.post(url("merchant_template_edit", template.pk), data, **EN)
    assert response.status_code == 400
    assert str(UnsafeEdit.message) in response.text
    template.refresh_from_db()
    assert template.total_stock == 100


def test_submit_publish_pause_resume_end(as_owner, owner, officer):
    template = draft_template(owner=owner)
    detail = url("merchant_template", template.pk)
    response = as_owner.post(url("merchant_template_action", template.pk, "submit"))
    assert response.status_code == 302 and response.url == detail
    template.refresh_from_db()
    assert template.status == "submitted"
    services.template_approve(actor=officer, template_id=template.pk)
    for action, status in [("publish", "live"), ("pause", "paused"), ("resume", "live")]:
        as_owner.post(url("merchant_template_action", template.pk, action))
        template.refresh_from_db()
        assert template.status == status
    as_owner.post(url("merchant_template_action", template.pk, "end"), {"reason": "sold out"})
    template.refresh_from_db()
    assert template.status == "ended"
    page = as_owner.get(detail)
    history = page.text[page.text.index('id="template-history"') :]
    assert history.count("<tr>") == 1 + 7  # head + created, submitted, approved, 4 moves
    assert "sold out" in history


def test_an_action_the_state_refuses_shows_the_message(as_owner, owner):
    template = draft_template(owner=owner)
    response = as_owner.post(url("merchant_template_action", template.pk, "publish"), follow=True)
    assert response.status_code == 200
    assert "invalid_transition" not in response.text
    assert any(m.level_tag == "error" for m in response.context["messages"])
    template.refresh_from_db()
    assert template.status == "draft"


def test_rejection_reason_shows_on_the_file(as_owner, owner, officer):
    template = draft_template(owner=owner)
    services.template_submit(actor=owner, template_id=template.pk)
    services.template_reject(actor=officer, template_id=template.pk, reason="图片不清晰")
    page = as_owner.get(url("merchant_template", template.pk))
    assert 'id="rejection-reason"' in page.text and "图片不清晰" in page.text
    assert "action-submit" in page.text  # edited and submitted again


def test_owner_adds_stock(as_owner, owner, officer):
    template = live_template(owner=owner, reviewer=officer)
    as_owner.post(url("merchant_template_stock", template.pk), {"more": "25"})
    template.refresh_from_db()
    assert (template.total_stock, template.stock_left) == (125, 125)


def test_list_shows_the_numbers(as_owner, owner, officer, customers):
    template = live_template(owner=owner, reviewer=officer, per_customer_limit=1)
    coupons = [claim(template, c) for c in customers]
    services.coupon_verify(actor=owner, code=typed(coupons[0]), idempotency_key=uuid.uuid4().hex)
    response = as_owner.get(url("merchant_templates"))
    row = re.search(rf'id="template-{template.pk}".*?</tr>', response.text, re.S).group(0)
    assert '<td class="claimed">3</td>' in row and '<td class="verified">1</td>' in row
    assert '<td class="conversion">33%</td>' in row


# --- Verify at the counter ---------------------------------------------------------------------


def claim(template, customer, **kwargs) -> Coupon:
    return services.coupon_claim(
        customer=customer, template_id=template.pk, claim_key=uuid.uuid4().hex, **kwargs
    )


@pytest.fixture
def coupon(owner, officer, customers):
    return claim(live_template(owner=owner, reviewer=officer), customers[0])


def inspect(client, **data):
    return client.post(url("merchant_verify_inspect"), data, **EN)


def confirm_data(response) -> dict:
    """The hidden fields of the confirm form, as the browser would post them."""
    form = re.search(r'<form[^>]*id="confirm-form".*?</form>', response.text, re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', form))


def test_verify_by_typed_code_then_confirm_twice_verifies_once(as_cashier, coupon):
    digits = typed(coupon)
    response = inspect(as_cashier, code=f"{digits[:6]} {digits[6:12]}-{digits[12:]}")
    assert response.status_code == 200
    assert 'data-usable="true"' in response.text and "满100减20" in response.text
    assert "¥20.00 off when spending at least ¥100.00" in response.text
    assert (
        coupon.customer.phone[-4:] in response.text and coupon.customer.phone not in response.text
    )
    data = confirm_data(response)
    assert re.fullmatch(r"[0-9a-f]{32}", data["idempotency_key"])
    # the confirm form carries a short-lived token, not the permanent code
    assert coupon.code not in data["code"] and services.code_from_token(data["code"]) == coupon.code
    assert f'value="{data["idempotency_key"]}"' in response.text

    first = as_cashier.post(url("merchant_verify_confirm"), data)
    second = as_cashier.post(url("merchant_verify_confirm"), data)
    for answer in (first, second):
        assert answer.status_code == 200 and 'id="verify-success"' in answer.text
    assert Verification.objects.filter(coupon=coupon).count() == 1
    coupon.refresh_from_db()
    assert coupon.status == "verified"
    assert f'id="verification-{Verification.objects.get().pk}"' in second.text

    again = inspect(as_cashier, code=typed(coupon))
    assert 'data-usable="false"' in again.text and 'data-reason="used"' in again.text


def test_verify_by_scanned_token_with_htmx_swaps_the_partials(as_owner, coupon):
    token = services.token_for(coupon.code)
    response = as_owner.post(url("merchant_verify_inspect"), {"token": token}, **HTMX, **EN)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="verify-result"' in response.text and 'data-usable="true"' in response.text
    assert 'id="recent-verifications" hx-swap-oob="true"' in response.text
    data = confirm_data(response)
    answer = as_owner.post(url("merchant_verify_confirm"), data, **HTMX)
    assert 'id="verify-success"' in answer.text
    assert Verification.objects.filter(coupon=coupon).count() == 1


def test_another_merchants_coupon_is_refused_plainly(client, other_owner, coupon):
    client.force_login(other_owner)
    response = inspect(client, code=typed(coupon))
    assert response.status_code == 403
    assert 'data-code="coupon_other_merchant"' in response.text
    assert str(CouponOtherMerchant.message) in response.text
    response = client.post(
        url("merchant_verify_confirm"), {"code": typed(coupon), "idempotency_key": uuid.uuid4().hex}
    )
    assert 'data-code="coupon_other_merchant"' in response.text
    coupon.refresh_from_db()
    assert coupon.status == "issued"


def test_an_expired_token_is_refused(as_cashier, coupon, monkeypatch, settings):
    # The token as the wallet issued it two minutes ago (the counter accepts 90 seconds).
    token = services.token_for(coupon.code, now=time.time() - settings.COUPON_TOKEN_MAX_AGE - 30)
    response = inspect(as_cashier, token=token)
    assert 'data-code="coupon_token_expired"' in response.text
    assert str(TokenExpired.message) in response.text
    fresh = inspect(as_cashier, token=services.token_for(coupon.code))
    assert 'data-usable="true"' in fresh.text


def test_nothing_typed_is_asked_again(as_cashier):
    response = inspect(as_cashier, code="")
    assert response.status_code == 400
    assert "Scan the QR code or type the digits under it." in response.text


def test_an_unusable_coupon_says_why(as_owner, owner, officer, customers):
    today = timezone.localtime(timezone.now(), SHANGHAI).weekday()
    template = live_template(owner=owner, reviewer=officer, weekdays=127 & ~(1 << today))
    coupon = claim(template, customers[0])
    response = inspect(as_owner, code=typed(coupon))
    assert 'data-reason="not_today"' in response.text
    assert "This coupon cannot be used on this day of the week." in response.text
    assert 'id="confirm-form"' not in response.text


def verified(owner, coupon) -> Verification:
    return services.coupon_verify(actor=owner, code=typed(coupon), idempotency_key=uuid.uuid4().hex)


def test_owner_undoes_within_the_window(as_owner, owner, coupon):
    verification = verified(owner, coupon)
    page = as_owner.get(url("merchant_verify"))
    assert url("merchant_verification_undo", verification.pk) in page.text
    response = as_owner.post(
        url("merchant_verification_undo", verification.pk), {"reason": "误操作"}
    )
    assert response.status_code == 302
    verification.refresh_from_db()
    coupon.refresh_from_db()
    assert verification.undone_at is not None and verification.undo_reason == "误操作"
    assert coupon.status == "issued"


def test_undo_needs_a_reason(as_owner, owner, coupon):
    verification = verified(owner, coupon)
    as_owner.post(url("merchant_verification_undo", verification.pk), {"reason": ""})
    verification.refresh_from_db()
    assert verification.undone_at is None


def test_cashier_cannot_undo(client, owner, cashier, coupon):
    verification = verified(owner, coupon)
    client.force_login(cashier)
    assert (
        url("merchant_verification_undo", verification.pk)
        not in client.get(url("merchant_verify")).text
    )
    response = client.post(url("merchant_verification_undo", verification.pk), {"reason": "x"})
    assert response.status_code == 403
    verification.refresh_from_db()
    assert verification.undone_at is None


def test_undo_after_the_window_is_refused(as_owner, owner, coupon):
    verification = verified(owner, coupon)
    # Eleven minutes later (the row's own timestamp moved back; the service reads the clock).
    Verification.objects.filter(pk=verification.pk).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )
    page = as_owner.get(url("merchant_verify"))
    assert url("merchant_verification_undo", verification.pk) not in page.text
    response = as_owner.post(
        url("merchant_verification_undo", verification.pk), {"reason": "late"}, follow=True, **EN
    )
    assert str(UndoWindowPassed.message) in response.text
    verification.refresh_from_db()
    assert verification.undone_at is None


def test_recent_list_is_this_merchants_today(client, owner, other_owner, coupon):
    verification = verified(owner, coupon)
    client.force_login(other_owner)
    assert f'id="verification-{verification.pk}"' not in client.get(url("merchant_verify")).text
    client.force_login(owner)
    assert f'id="verification-{verification.pk}"' in client.get(url("merchant_verify")).text


def test_owner_voids_an_inspected_coupon_with_a_reason(as_owner, owner, coupon):
    from coupons.models import CouponEvent

    page = inspect(as_owner, code=typed(coupon))
    assert url("merchant_coupon_void", coupon.pk) in page.text
    response = as_owner.post(
        url("merchant_coupon_void", coupon.pk), {"reason": "顾客误领"}, follow=True, **EN
    )
    assert "Coupon voided: it can no longer be used." in response.text
    coupon.refresh_from_db()
    assert coupon.status == "voided" and coupon.closed_at is not None
    event = CouponEvent.objects.get(coupon=coupon, to_status="voided")
    assert (event.actor, event.reason) == (owner, "顾客误领")
    # Voided once: a second void is refused and says so.
    again = as_owner.post(url("merchant_coupon_void", coupon.pk), {"reason": "x"}, follow=True, **EN)
    assert "This is not possible in the current state." in again.text
    assert 'id="void-coupon"' not in inspect(as_owner, code=typed(coupon)).text


def test_voiding_needs_a_reason(as_owner, coupon):
    response = as_owner.post(url("merchant_coupon_void", coupon.pk), {"reason": " "}, follow=True, **EN)
    assert "Say why the coupon is voided." in response.text
    coupon.refresh_from_db()
    assert coupon.status == "issued"


def test_a_used_coupon_cannot_be_voided(as_owner, owner, coupon):
    verified(owner, coupon)
    assert 'id="void-coupon"' not in inspect(as_owner, code=typed(coupon)).text
    response = as_owner.post(url("merchant_coupon_void", coupon.pk), {"reason": "x"}, follow=True, **EN)
    assert "This is not possible in the current state." in response.text
    coupon.refresh_from_db()
    assert coupon.status == "verified"


def test_cashier_cannot_void(as_cashier, coupon):
    assert url("merchant_coupon_void", coupon.pk) not in inspect(as_cashier, code=typed(coupon)).text
    response = as_cashier.post(url("merchant_coupon_void", coupon.pk), {"reason": "x"})
    assert response.status_code == 403
    coupon.refresh_from_db()
    assert coupon.status == "issued"


def test_another_merchants_owner_cannot_void(client, other_owner, coupon):
    client.force_login(other_owner)
    response = client.post(url("merchant_coupon_void", coupon.pk), {"reason": "x"})
    assert response.status_code == 404
    coupon.refresh_from_db()
    assert coupon.status == "issued"
