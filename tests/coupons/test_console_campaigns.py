"""The branch console's campaigns: the list in scope, opening one with a budget typed in yuan,
changing the budget, closing, the movements of a campaign; and the read-only admin."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from coupons import services
from coupons.console_forms import yuan_to_fen
from coupons.models import (
    Campaign,
    CampaignEntry,
    Coupon,
    CouponTemplate,
    TemplateChange,
    Verification,
)
from tests.coupons.factories import live_template, typed
from tests.factories import UserFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def list_url():
    return reverse("coupons:console_campaign_list")


def create_url():
    return reverse("coupons:console_campaign_create")


def file_url(campaign):
    return reverse("coupons:console_campaign_detail", args=[campaign.pk])


def budget_url(campaign):
    return reverse("coupons:console_campaign_budget", args=[campaign.pk])


def close_url(campaign):
    return reverse("coupons:console_campaign_close", args=[campaign.pk])


@pytest.fixture
def ours(officer):
    return services.campaign_create(actor=officer, name="West Lake tea week", budget_fen=500_000)


@pytest.fixture
def theirs(other_officer):
    return services.campaign_create(actor=other_officer, name="Qianjiang noodles", budget_fen=9_900)


@pytest.fixture
def alliance_wide(head_office):
    return services.campaign_create(actor=head_office, name="Alliance spring", budget_fen=1_000_000)


def funded_claims(*, owner, reviewer, campaign, customers, n=1):
    """A live template funded by ``campaign`` (¥20.00 reserved per claim) and ``n`` claims."""
    template = live_template(
        owner=owner, reviewer=reviewer, obtain="campaign", campaign_id=campaign.pk
    )
    coupons = [
        services.coupon_claim(customer=c, template_id=template.pk, claim_key=f"claim-key-{i:04d}")
        for i, c in enumerate(customers[:n])
    ]
    return template, coupons


# --- Yuan to fen ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, fen",
    [
        ("5000", 500_000),
        ("1200.50", 120_050),
        ("1200.5", 120_050),
        ("0.01", 1),
        (".5", 50),
        ("7.", 700),
        ("¥80", 8_000),
        ("￥80.00", 8_000),
        ("1,000.05", 100_005),
        ("  12.30 ", 1_230),
        ("100000000", 10_000_000_000),
    ],
)
def test_yuan_to_fen(text, fen):
    result = yuan_to_fen(text)
    assert result == fen and isinstance(result, int)


@pytest.mark.parametrize(
    "text, code",
    [
        ("0", "not_positive"),
        ("0.00", "not_positive"),
        ("-5", "invalid"),
        ("+5", "invalid"),
        ("1.234", "decimals"),
        ("1.500", "decimals"),
        ("0.001", "decimals"),
        ("abc", "invalid"),
        ("1e3", "invalid"),
        ("NaN", "invalid"),
        ("Infinity", "invalid"),
        ("12.3.4", "invalid"),
        ("", "invalid"),
        ("1 000", "invalid"),
        ("100000000.01", "too_large"),
    ],
)
def test_yuan_to_fen_refuses(text, code):
    with pytest.raises(ValidationError) as caught:
        yuan_to_fen(text)
    assert caught.value.code == code


# --- Who may open the pages ---------------------------------------------------------------------


def test_anonymous_is_sent_to_staff_sign_in(client, ours):
    for url in (list_url(), file_url(ours)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:staff_login"))
    assert client.post(create_url(), {"name": "x", "budget": "1"}).status_code == 302
    assert Campaign.objects.count() == 1


@pytest.mark.parametrize("who", ["customer", "owner", "cashier"])
def test_customers_and_merchants_are_refused(client, ours, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(list_url()).status_code == 403
    assert client.get(file_url(ours)).status_code == 403
    assert client.post(create_url(), {"name": "x", "budget": "1"}).status_code == 403
    assert client.post(budget_url(ours), {"budget": "1"}).status_code == 403
    assert client.post(close_url(ours)).status_code == 403
    ours.refresh_from_db()
    assert ours.budget_fen == 500_000 and ours.is_active
    assert Campaign.objects.count() == 1


# --- List ----------------------------------------------------------------------------------------


def test_officer_sees_their_branchs_and_head_offices(client, officer, ours, theirs, alliance_wide):
    client.force_login(officer)
    response = client.get(list_url())
    assert response.status_code == 200
    assert {c.pk for c in response.context["page"]} == {ours.pk, alliance_wide.pk}
    html = response.content.decode()
    assert "Qianjiang noodles" not in html
    row = html[html.index(f'id="campaign-{ours.pk}"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="budget">¥5,000.00</td>' in row
    assert '<td class="available">¥5,000.00</td>' in row
    assert "branch" not in response.context["create_form"].fields


def test_head_office_sees_every_campaign(client, head_office, ours, theirs, alliance_wide):
    client.force_login(head_office)
    response = client.get(list_url())
    assert {c.pk for c in response.context["page"]} == {ours.pk, theirs.pk, alliance_wide.pk}
    assert "branch" in response.context["create_form"].fields
    assert "Head office" in response.content.decode()


def test_the_list_shows_money_and_templates_funded(client, officer, owner, ours, customers):
    funded_claims(owner=owner, reviewer=officer, campaign=ours, customers=customers, n=2)
    client.force_login(officer)
    response = client.get(list_url())
    campaign = next(c for c in response.context["page"] if c.pk == ours.pk)
    assert campaign.template_count == 1
    html = response.content.decode()
    row = html[html.index(f'id="campaign-{ours.pk}"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="reserved">¥40.00</td>' in row
    assert '<td class="spent">¥0.00</td>' in row
    assert '<td class="available">¥4,960.00</td>' in row


# --- Create --------------------------------------------------------------------------------------


def test_officer_opens_a_campaign_for_their_branch(client, officer, branch, other_branch):
    client.force_login(officer)
    response = client.post(
        create_url(), {"name": "Lunch week", "budget": "1,200.50", "branch": other_branch.pk}
    )
    campaign = Campaign.objects.get(name="Lunch week")
    assert response.status_code == 302 and response["Location"] == file_url(campaign)
    # The branch is the officer's whatever was posted.
    assert (campaign.branch, campaign.budget_fen, campaign.created_by) == (
        branch,
        120_050,
        officer,
    )


def test_head_office_opens_for_a_branch_or_for_head_office(client, head_office, other_branch):
    client.force_login(head_office)
    client.post(create_url(), {"name": "For B", "budget": "300", "branch": other_branch.pk})
    response = client.post(create_url(), {"name": "Everyone", "budget": "80000"}, **HTMX)
    everyone = Campaign.objects.get(name="Everyone")
    assert response["HX-Redirect"] == file_url(everyone)
    assert everyone.branch is None and everyone.budget_fen == 8_000_000
    assert Campaign.objects.get(name="For B").branch == other_branch


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"name": "x", "budget": "0"}, "budget", "The amount must be more than zero."),
        ({"name": "x", "budget": "-10"}, "budget", "Enter an amount in yuan"),
        ({"name": "x", "budget": "10.005"}, "budget", "Use at most two decimals (fen)."),
        ({"name": "x", "budget": ""}, "budget", "This field is required."),
        ({"name": "", "budget": "10"}, "name", "This field is required."),
    ],
)
def test_create_refusals(client, officer, data, field, message):
    client.force_login(officer)
    response = client.post(create_url(), data)
    assert response.status_code == 200
    form = response.context["create_form"]
    assert field in form.errors and message in " ".join(form.errors[field])
    assert not Campaign.objects.exists()
    htmx = client.post(create_url(), data, **HTMX).content.decode()
    assert htmx.lstrip().startswith('<form id="create-form"') and "<html" not in htmx


# --- Campaign file -------------------------------------------------------------------------------


def test_the_file_lists_movements_paginated(client, officer, owner, ours, customers, monkeypatch):
    template, coupons = funded_claims(
        owner=owner, reviewer=officer, campaign=ours, customers=customers, n=3
    )
    services.coupon_verify(actor=owner, code=typed(coupons[0]), idempotency_key="verify-0001")
    client.force_login(officer)
    response = client.get(file_url(ours))
    assert response.status_code == 200
    kinds = [e.kind for e in response.context["entries"]]
    assert kinds == ["spend", "reserve", "reserve", "reserve"]  # newest first
    html = response.content.decode()
    assert '<td class="spent">¥20.00</td>' in html
    assert '<td class="reserved">¥40.00</td>' in html
    assert '<td class="available">¥4,940.00</td>' in html
    assert f"#{coupons[0].pk}" in html and '<td class="amount">¥20.00</td>' in html
    assert reverse("coupons:console_template_detail", args=[template.pk]) in html

    from coupons.views import console

    monkeypatch.setattr(console, "ENTRY_PAGE_SIZE", 3)
    second = client.get(file_url(ours), {"page": 2}, **HTMX)
    part = second.content.decode()
    assert part.lstrip().startswith('<section id="entries">') and "<html" not in part
    assert part.count('class="entry-row" data-kind="reserve"') == 1
    assert 'data-kind="spend"' not in part and "Page 2 of 2" in part


def test_officer_of_another_grid_gets_404(client, other_officer, ours):
    client.force_login(other_officer)
    assert client.get(file_url(ours)).status_code == 404
    assert client.post(budget_url(ours), {"budget": "1"}).status_code == 404
    assert client.post(close_url(ours)).status_code == 404
    ours.refresh_from_db()
    assert ours.budget_fen == 500_000 and ours.is_active


def test_branch_staff_read_head_office_campaigns_only(client, officer, alliance_wide):
    client.force_login(officer)
    response = client.get(file_url(alliance_wide))
    assert response.status_code == 200
    assert response.context["may_manage"] is False
    html = response.content.decode()
    assert 'id="read-only"' in html and 'id="budget-form"' not in html
    assert client.post(budget_url(alliance_wide), {"budget": "1"}).status_code == 403
    assert client.post(close_url(alliance_wide)).status_code == 403
    alliance_wide.refresh_from_db()
    assert alliance_wide.budget_fen == 1_000_000 and alliance_wide.is_active


# --- Budget and closing ---------------------------------------------------------------------------


def test_change_the_budget(client, manager, ours):
    client.force_login(manager)
    page = client.get(file_url(ours))
    assert page.context["budget_form"]["budget"].value() == "5,000.00"
    response = client.post(budget_url(ours), {"budget": "7500.25"})
    assert response.status_code == 302 and response["Location"] == file_url(ours)
    ours.refresh_from_db()
    assert ours.budget_fen == 750_025
    assert (
        "Budget of West Lake tea week set to ¥7,500.25."
        in client.get(file_url(ours)).content.decode()
    )


def test_the_budget_cannot_go_below_what_is_committed(client, officer, owner, ours, customers):
    funded_claims(owner=owner, reviewer=officer, campaign=ours, customers=customers, n=2)
    client.force_login(officer)
    response = client.post(budget_url(ours), {"budget": "39.99"})
    assert response.status_code == 200
    assert (
        "The budget cannot be lower than what is already reserved and spent."
        in response.content.decode()
    )
    ours.refresh_from_db()
    assert ours.budget_fen == 500_000
    # exactly what is committed is fine
    response = client.post(budget_url(ours), {"budget": "40"}, **HTMX)
    assert response["HX-Redirect"] == file_url(ours)
    ours.refresh_from_db()
    assert ours.budget_fen == 4_000 and ours.available_fen == 0


@pytest.mark.parametrize("budget", ["0", "abc", "1.001"])
def test_an_unreadable_budget_is_a_form_error(client, officer, ours, budget):
    client.force_login(officer)
    response = client.post(budget_url(ours), {"budget": budget}, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="budget-form"')
    assert "errorlist" in html
    ours.refresh_from_db()
    assert ours.budget_fen == 500_000


def test_close_a_campaign(client, officer, owner, ours, customers):
    funded_claims(owner=owner, reviewer=officer, campaign=ours, customers=customers, n=1)
    client.force_login(officer)
    response = client.post(close_url(ours))
    assert response.status_code == 302 and response["Location"] == file_url(ours)
    ours.refresh_from_db()
    assert ours.is_active is False and ours.reserved_fen == 2_000  # claims keep their reserve
    html = client.get(file_url(ours)).content.decode()
    assert "Closed" in html and 'id="close-form"' not in html
    assert client.get(close_url(ours)).status_code == 405


def test_head_office_closes_any_campaign(client, head_office, theirs):
    client.force_login(head_office)
    assert client.post(close_url(theirs), **HTMX)["HX-Redirect"] == file_url(theirs)
    assert Campaign.objects.get(pk=theirs.pk).is_active is False


# --- Admin ---------------------------------------------------------------------------------------


MODELS = ["coupontemplate", "coupon", "campaign", "campaignentry", "templatechange", "verification"]


def admin_url(model, view, *args):
    return reverse(f"admin:coupons_{model}_{view}", args=args)


@pytest.fixture
def history(officer, owner, ours, customers):
    template, coupons = funded_claims(
        owner=owner, reviewer=officer, campaign=ours, customers=customers, n=1
    )
    services.coupon_verify(actor=owner, code=typed(coupons[0]), idempotency_key="verify-0001")
    return {
        "coupontemplate": template.pk,
        "coupon": coupons[0].pk,
        "campaign": ours.pk,
        "campaignentry": CampaignEntry.objects.first().pk,
        "templatechange": TemplateChange.objects.first().pk,
        "verification": Verification.objects.get().pk,
    }


@pytest.fixture
def ho_client(db, client):
    client.force_login(UserFactory(role="head_office", username="ho-coupons", is_staff=True))
    return client


@pytest.mark.parametrize("model", MODELS)
def test_head_office_reads_every_admin_page(ho_client, history, model, customers):
    assert ho_client.get(admin_url(model, "changelist")).status_code == 200
    page = ho_client.get(admin_url(model, "change", history[model]))
    assert page.status_code == 200
    text = page.content.decode()
    assert customers[0].phone not in text
    if model == "coupon":
        assert Coupon.objects.get().code not in text


@pytest.mark.parametrize("model", MODELS)
def test_nothing_is_written_through_the_admin(ho_client, history, model):
    pk = history[model]
    assert ho_client.get(admin_url(model, "add")).status_code == 403
    assert ho_client.post(admin_url(model, "add"), {}).status_code == 403
    assert ho_client.post(admin_url(model, "change", pk), {}).status_code == 403
    assert ho_client.get(admin_url(model, "delete", pk)).status_code == 403
    assert ho_client.post(admin_url(model, "delete", pk), {"post": "yes"}).status_code == 403
    assert CouponTemplate.objects.get(pk=history["coupontemplate"]).status == "live"
    assert TemplateChange.objects.filter(pk=history["templatechange"]).exists()
    assert CampaignEntry.objects.count() == 2


@pytest.mark.parametrize("role", ["branch_officer", "branch_manager"])
def test_branch_staff_do_not_get_into_the_coupons_admin(client, branch, role, history):
    client.force_login(UserFactory(role=role, branch=branch, is_staff=True, is_superuser=True))
    for model in MODELS:
        assert client.get(admin_url(model, "changelist")).status_code == 403
    assert (
        admin_url("coupon", "changelist") not in client.get(reverse("admin:index")).content.decode()
    )
