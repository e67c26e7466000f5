"""The merchant dashboard: profile, change requests, history and staff, for owner and cashier."""

import pytest
from django.urls import reverse
from django.utils import translation

from merchants import services
from merchants.errors import StaffUnavailable
from merchants.images import UploadWrongType
from merchants.models import MerchantStaff, ProfileChange
from tests.factories import UserFactory
from tests.merchants.factories import approved_merchant, image_upload

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ACCOUNT = "6222021234567890123"
NEW_ACCOUNT = "6228480012345678901"


@pytest.fixture
def merchant(officer):
    return approved_merchant(reviewer=officer)


@pytest.fixture
def owner(merchant):
    return merchant.staff.get(role="owner").user


@pytest.fixture
def cashier(merchant, owner):
    return services.staff_add(actor=owner, phone="13700001234", name="Li Na").user


@pytest.fixture
def as_owner(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def as_cashier(client, cashier):
    client.force_login(cashier)
    return client


def url(name, *args):
    return reverse(f"merchants:{name}", args=args)


PAGES = ["dashboard", "dashboard_history", "dashboard_staff"]


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_users_go_to_the_merchant_sign_in(client, name):
    response = client.get(url(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:merchant_login") + "?next=")


@pytest.mark.parametrize("name", PAGES)
def test_customers_and_bank_staff_are_refused(client, customer, officer, name):
    for user in (customer, officer):
        client.force_login(user)
        assert client.get(url(name)).status_code == 403


@pytest.mark.parametrize("name", PAGES)
def test_a_merchant_role_without_a_merchant_is_404(client, name):
    client.force_login(UserFactory(role="merchant_owner"))
    assert client.get(url(name)).status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_owner_and_cashier_see_every_page(client, owner, cashier, merchant, name):
    for user in (owner, cashier):
        client.force_login(user)
        response = client.get(url(name))
        assert response.status_code == 200
        assert merchant.code in response.content.decode()


def test_the_profile_shows_settlement_masked_only(as_owner, merchant):
    body = as_owner.get(url("dashboard")).content.decode()
    assert merchant.masked_account_number in body and ACCOUNT not in body


def test_the_cashier_sees_settlement_but_no_edit_forms(as_cashier, merchant):
    body = as_cashier.get(url("dashboard")).content.decode()
    assert merchant.masked_account_number in body and ACCOUNT not in body
    assert url("dashboard_change_request") not in body
    assert url("dashboard_profile") not in body


def test_the_cashier_cannot_change_the_settlement_account(as_cashier, merchant):
    response = as_cashier.post(
        url("dashboard_change_request"), {"settlement_account_number": NEW_ACCOUNT}
    )
    assert response.status_code == 403
    assert not ProfileChange.objects.filter(status="pending").exists()
    merchant.refresh_from_db()
    assert merchant.settlement_account_number == ACCOUNT


def test_the_cashier_cannot_edit_the_profile_stores_or_staff(as_cashier, merchant):
    store = merchant.stores.get()
    assert (
        as_cashier.post(
            url("dashboard_profile"), {"description": "x", "contact_phone": "13800000000"}
        ).status_code
        == 403
    )
    assert (
        as_cashier.post(
            url("dashboard_store", store.pk), {f"store-{store.pk}-name": "x"}
        ).status_code
        == 403
    )
    assert (
        as_cashier.post(
            url("dashboard_store_photo", store.pk), {"image": image_upload()}
        ).status_code
        == 403
    )
    assert as_cashier.post(url("dashboard_staff"), {"phone": "13700005555"}).status_code == 403
    assert merchant.staff.count() == 2


def test_the_owner_edits_the_free_profile_at_once(as_owner, merchant):
    response = as_owner.post(
        url("dashboard_profile"),
        {"description": "Now with mooncakes.", "contact_phone": "138 0571 0002"},
    )
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.description == "Now with mooncakes."
    assert merchant.contact_phone == "+8613805710002"


def test_the_owner_edits_store_hours(as_owner, merchant):
    store = merchant.stores.get()
    prefix = f"store-{store.pk}-"
    response = as_owner.post(
        url("dashboard_store", store.pk),
        {
            prefix + "name": store.name,
            prefix + "opening_hours": "Daily 10:00-21:00",
            prefix + "description": "",
        },
    )
    assert response.status_code == 302
    store.refresh_from_db()
    assert store.opening_hours == "Daily 10:00-21:00"


def test_a_bad_phone_is_a_form_error(as_owner, merchant):
    response = as_owner.post(
        url("dashboard_profile"), {"description": "", "contact_phone": "12"}, **EN
    )
    assert response.status_code == 400
    assert [e.code for e in response.context["profile_form"].errors.as_data()["contact_phone"]] == [
        "invalid_phone"
    ]


def test_htmx_profile_errors_swap_only_the_form(as_owner):
    response = as_owner.post(url("dashboard_profile"), {"contact_phone": "12"}, **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith("<form") and "<html" not in body
    ok = as_owner.post(url("dashboard_profile"), {"contact_phone": "13805710003"}, **HTMX)
    assert ok["HX-Redirect"] == url("dashboard")


def test_store_photo_upload_and_its_errors(as_owner, merchant):
    store = merchant.stores.get()
    before = store.photos.count()
    assert (
        as_owner.post(url("dashboard_store_photo", store.pk), {"image": image_upload()}).status_code
        == 302
    )
    assert store.photos.count() == before + 1
    bad = as_owner.post(
        url("dashboard_store_photo", store.pk), {"image": image_upload(fmt="GIF")}, **EN
    )
    assert bad.status_code == 400
    with translation.override("en"):
        assert str(UploadWrongType.message) in bad.content.decode()
    assert store.photos.count() == before + 1


def test_legal_and_settlement_changes_are_sent_for_review(as_owner, merchant):
    response = as_owner.post(
        url("dashboard_change_request"),
        {"settlement_account_number": NEW_ACCOUNT, "legal_representative": "Zhao Lei"},
        follow=True,
        **EN,
    )
    body = response.content.decode()
    assert "Sent for review" in body
    assert NEW_ACCOUNT not in body and ACCOUNT not in body
    merchant.refresh_from_db()
    assert merchant.settlement_account_number == ACCOUNT  # nothing changes before review
    pending = ProfileChange.objects.get(status="pending")
    assert pending.fields == ["legal_representative", "settlement_account_number"]
    assert 'id="pending-change"' in body

    again = as_owner.post(url("dashboard_change_request"), {"legal_representative": "Qian"})
    assert [e.code for e in again.context["change_form"].errors.as_data()["__all__"]] == [
        "change_pending"
    ]


def test_an_empty_change_request_is_a_form_error(as_owner):
    response = as_owner.post(url("dashboard_change_request"), {})
    assert response.status_code == 400
    assert ProfileChange.objects.filter(status="pending").count() == 0


def test_a_bad_account_number_in_a_change_request(as_owner):
    response = as_owner.post(
        url("dashboard_change_request"), {"settlement_account_number": "12ab"}, **HTMX
    )
    assert response.status_code == 200 and "<html" not in response.content.decode()
    assert "12ab" not in response.content.decode()
    assert not ProfileChange.objects.filter(status="pending").exists()


def test_history_lists_the_application_and_changes(as_owner, merchant):
    as_owner.post(url("dashboard_profile"), {"description": "New", "contact_phone": "13805710003"})
    body = as_owner.get(url("dashboard_history"), **EN).content.decode()
    assert merchant.application.business_name in body
    assert "Approved" in body and "Active" in body and "description" in body


def test_the_owner_adds_a_cashier_by_phone(as_owner, merchant):
    response = as_owner.post(url("dashboard_staff"), {"phone": "137 0000 4321", "name": "Zhou"})
    assert response.status_code == 302
    member = merchant.staff.get(user__phone="+8613700004321")
    assert member.role == MerchantStaff.Role.CASHIER
    page = as_owner.get(url("dashboard_staff")).content.decode()
    assert "137****4321" in page and "+8613700004321" not in page


def test_adding_staff_refusals_are_form_errors(as_owner, officer):
    other = approved_merchant(reviewer=officer, applicant=UserFactory(role="customer"))
    taken = other.staff.get().user
    response = as_owner.post(url("dashboard_staff"), {"phone": taken.phone}, **EN)
    assert response.status_code == 400
    with translation.override("en"):
        assert str(StaffUnavailable.message) in response.content.decode()
    htmx = as_owner.post(url("dashboard_staff"), {"phone": "12"}, **HTMX)
    body = htmx.content.decode()
    assert body.lstrip().startswith('<form id="staff-form"') or body.lstrip().startswith("<form")
    assert "<html" not in body


def test_the_htmx_add_cashier_redirects_on_the_client(as_owner):
    response = as_owner.post(url("dashboard_staff"), {"phone": "13700008888"}, **HTMX)
    assert response["HX-Redirect"] == url("dashboard_staff")


def test_another_merchants_store_is_404(as_owner, officer):
    other = approved_merchant(reviewer=officer, applicant=UserFactory(role="customer"))
    store = other.stores.get()
    assert as_owner.post(url("dashboard_store", store.pk), {}).status_code == 404
    assert (
        as_owner.post(url("dashboard_store_photo", store.pk), {"image": image_upload()}).status_code
        == 404
    )
