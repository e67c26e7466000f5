"""The merchant file's close form and its pending profile change requests (issue 3): who may,
with and without htmx, and that no full account number is ever shown."""

import pytest
from django.urls import reverse

from merchants import services
from merchants.models import Merchant, ProfileChange
from tests.merchants.factories import fee_plan, near, submitted_application

OTHER_B = (30.2450, 120.2100)  # tests/conftest.py's ``other_branch``
HTMX = {"HTTP_HX_REQUEST": "true"}
OLD_NUMBER = "6222021234567890123"
NEW_NUMBER = "6222000011112222"


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def merchant_a(branch, officer):
    application = submitted_application(business_name="Lakeside Tea House")
    return services.application_approve(
        actor=officer, application_id=application.pk, fee_plan_id=fee_plan().pk
    )


@pytest.fixture
def merchant_b(other_branch, other_officer):
    application = submitted_application(
        business_name="Riverside Noodles", location=near(OTHER_B, bearing=90, metres=300)
    )
    return services.application_approve(
        actor=other_officer, application_id=application.pk, fee_plan_id=fee_plan().pk
    )


def owner_of(merchant):
    return merchant.staff.get(role="owner").user


@pytest.fixture
def change_a(merchant_a):
    return services.profile_change_request(
        actor=owner_of(merchant_a),
        merchant_id=merchant_a.pk,
        changes={"settlement_account_number": NEW_NUMBER, "legal_representative": "Li Lei"},
    )


def file_url(merchant):
    return reverse("merchants:console_merchant_detail", args=[merchant.pk])


def close_url(merchant):
    return reverse("merchants:console_merchant_close", args=[merchant.pk])


def decide_url(change, action):
    return reverse(
        "merchants:console_profile_change_decide", args=[change.merchant_id, change.pk, action]
    )


def no_full_number(response):
    html = response.content.decode()
    assert OLD_NUMBER not in html and NEW_NUMBER not in html


def status_of(merchant):
    return Merchant.objects.get(pk=merchant.pk).status


def decision_of(change):
    return ProfileChange.objects.filter(decides=change).first()


# --- Closing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["manager", "head_office"])
def test_manager_and_head_office_close_without_js(client, merchant_a, who, request):
    client.force_login(request.getfixturevalue(who))
    assert 'id="close-form"' in client.get(file_url(merchant_a)).content.decode()
    response = client.post(close_url(merchant_a), {"reason": "Shop gone", "confirm": "on"})
    assert response.status_code == 302 and response["Location"] == file_url(merchant_a) + "#status"
    assert status_of(merchant_a) == "closed"
    assert merchant_a.status_changes.order_by("pk").last().reason == "Shop gone"
    html = client.get(file_url(merchant_a)).content.decode()
    assert 'id="close-form"' not in html and 'id="status-form"' not in html


def test_close_with_htmx_redirects(client, manager, merchant_a):
    client.force_login(manager)
    response = client.post(close_url(merchant_a), {"reason": "Shop gone", "confirm": "on"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == file_url(merchant_a) + "#status"
    assert status_of(merchant_a) == "closed"


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(
    "data", [{"reason": "Shop gone"}, {"reason": " ", "confirm": "on"}], ids=["unconfirmed", "no-reason"]
)
def test_close_needs_a_reason_and_the_confirmation(client, manager, merchant_a, data, htmx):
    client.force_login(manager)
    response = client.post(close_url(merchant_a), data, **(HTMX if htmx else {}))
    html = response.content.decode()
    assert response.status_code == 200 and "This field is required." in html
    assert html.lstrip().startswith('<form id="close-form"') is htmx
    assert status_of(merchant_a) == "active"


def test_closing_a_closed_merchant_is_a_form_error(client, manager, merchant_a):
    services.merchant_close(actor=manager, merchant_id=merchant_a.pk, reason="r")
    client.force_login(manager)
    response = client.post(close_url(merchant_a), {"reason": "again", "confirm": "on"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and 'id="close-form"' in html and "errorlist" in html
    assert merchant_a.status_changes.filter(to_status="closed").count() == 1


def test_officer_is_refused_close(client, officer, merchant_a):
    client.force_login(officer)
    assert 'id="close-form"' not in client.get(file_url(merchant_a)).content.decode()
    for data in [{"reason": "x", "confirm": "on"}, {}]:
        assert client.post(close_url(merchant_a), data).status_code == 403
    assert status_of(merchant_a) == "active"


def test_manager_of_another_grid_gets_404_on_close(client, other_manager, merchant_a):
    client.force_login(other_manager)
    response = client.post(close_url(merchant_a), {"reason": "x", "confirm": "on"})
    assert response.status_code == 404
    assert status_of(merchant_a) == "active"


@pytest.mark.parametrize("who", ["customer", "merchant_owner"])
def test_customers_and_merchants_are_refused_close(client, merchant_a, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.post(close_url(merchant_a), {"reason": "x", "confirm": "on"}).status_code == 403
    assert status_of(merchant_a) == "active"


# --- Change requests ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["officer", "manager", "head_office"])
def test_pending_request_is_listed_masked(client, change_a, who, request):
    client.force_login(request.getfixturevalue(who))
    response = client.get(file_url(change_a.merchant))
    html = response.content.decode()
    assert 'id="change-requests"' in html and "Li Lei" in html
    assert "**** 2222" in html and "**** 0123" in html
    assert decide_url(change_a, "approve") in html and decide_url(change_a, "reject") in html
    no_full_number(response)


def test_no_section_without_pending_request(client, officer, merchant_a):
    client.force_login(officer)
    assert 'id="change-requests"' not in client.get(file_url(merchant_a)).content.decode()


@pytest.mark.parametrize("htmx", [False, True])
def test_officer_approves(client, officer, change_a, htmx):
    client.force_login(officer)
    response = client.post(decide_url(change_a, "approve"), {}, **(HTMX if htmx else {}))
    target = file_url(change_a.merchant) + "#changes"
    if htmx:
        assert response.status_code == 200 and response["HX-Redirect"] == target
    else:
        assert response.status_code == 302 and response["Location"] == target
    assert decision_of(change_a).status == "approved" and decision_of(change_a).actor == officer
    merchant = Merchant.objects.get(pk=change_a.merchant_id)
    assert merchant.settlement_account_number == NEW_NUMBER
    assert merchant.legal_representative == "Li Lei"
    page = client.get(file_url(merchant))
    assert 'id="change-requests"' not in page.content.decode()
    no_full_number(page)


@pytest.mark.parametrize("htmx", [False, True])
def test_head_office_rejects_with_a_reason(client, head_office, change_a, htmx):
    client.force_login(head_office)
    prefix = f"c{change_a.pk}"
    response = client.post(
        decide_url(change_a, "reject"), {f"{prefix}-reason": "Account holder differs"},
        **(HTMX if htmx else {}),
    )
    assert response.status_code == (200 if htmx else 302)
    decision = decision_of(change_a)
    assert decision.status == "rejected" and decision.reason == "Account holder differs"
    assert Merchant.objects.get(pk=change_a.merchant_id).settlement_account_number == OLD_NUMBER


@pytest.mark.parametrize("htmx", [False, True])
def test_reject_needs_a_reason(client, officer, change_a, htmx):
    client.force_login(officer)
    response = client.post(
        decide_url(change_a, "reject"), {f"c{change_a.pk}-reason": ""}, **(HTMX if htmx else {})
    )
    html = response.content.decode()
    assert response.status_code == 200 and "This field is required." in html
    assert html.lstrip().startswith('<section id="change-requests"') is htmx
    assert decision_of(change_a) is None
    no_full_number(response)


def test_deciding_twice_is_an_error_not_a_500(client, officer, change_a):
    services.profile_change_decide(actor=officer, change_id=change_a.pk, approve=True)
    client.force_login(officer)
    response = client.post(decide_url(change_a, "reject"), {f"c{change_a.pk}-reason": "x"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "already been decided" in html
    assert decision_of(change_a).status == "approved"
    no_full_number(response)


def test_other_grid_gets_404_on_decide(client, other_officer, other_manager, change_a):
    for user in (other_officer, other_manager):
        client.force_login(user)
        assert client.post(decide_url(change_a, "approve"), {}).status_code == 404
        assert client.post(
            decide_url(change_a, "reject"), {f"c{change_a.pk}-reason": "x"}
        ).status_code == 404
    assert decision_of(change_a) is None


def test_request_of_another_merchant_is_404(client, officer, change_a, merchant_a, merchant_b):
    """A change id under a merchant it does not belong to (even one in the user's grid)."""
    client.force_login(officer)
    url = reverse(
        "merchants:console_profile_change_decide", args=[merchant_b.pk, change_a.pk, "approve"]
    )
    assert client.post(url, {}).status_code == 404
    bogus = reverse(
        "merchants:console_profile_change_decide", args=[merchant_a.pk, change_a.pk, "apply"]
    )
    assert client.post(bogus, {}).status_code == 404
    assert decision_of(change_a) is None


@pytest.mark.parametrize("who", ["customer", "merchant_owner", "owner"])
def test_customers_and_merchants_are_refused_decide(client, change_a, who, request):
    user = owner_of(change_a.merchant) if who == "owner" else request.getfixturevalue(who)
    client.force_login(user)
    assert client.post(decide_url(change_a, "approve"), {}).status_code == 403
    assert decision_of(change_a) is None
