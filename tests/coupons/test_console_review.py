"""The branch console's coupon review: the queue by status, a template's file and the
decisions on it (approve, reject, pause, end), for every role, with and without htmx."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import translation

from coupons import services
from coupons.models import Campaign, CouponTemplate, TemplateChange
from coupons.views.console import value_in_words
from tests.coupons.factories import draft_template, live_template, template_fields, typed

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def submitted(owner, **overrides) -> CouponTemplate:
    template = draft_template(owner=owner, **overrides)
    return services.template_submit(actor=owner, template_id=template.pk)


def queue_url(status=None):
    url = reverse("coupons:console_template_queue")
    return f"{url}?status={status}" if status else url


def file_url(template):
    return reverse("coupons:console_template_detail", args=[template.pk])


def decide_url(template, action):
    return reverse("coupons:console_template_decide", args=[template.pk, action])


@pytest.fixture
def mine(owner):
    return submitted(owner, title="Lakeside 满100减20")


@pytest.fixture
def theirs(other_owner):
    return submitted(other_owner, title="Riverside 8.5折")


# --- Who may open the pages ---------------------------------------------------------------------


def test_anonymous_is_sent_to_staff_sign_in(client, mine):
    for url in (queue_url(), file_url(mine)):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:staff_login")), url
    response = client.post(decide_url(mine, "approve"), {})
    assert response.status_code == 302
    assert CouponTemplate.objects.get(pk=mine.pk).status == "submitted"


@pytest.mark.parametrize("who", ["customer", "owner", "cashier"])
def test_customers_and_merchants_are_refused(client, mine, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(queue_url()).status_code == 403
    assert client.get(file_url(mine)).status_code == 403
    assert client.post(decide_url(mine, "approve"), {}).status_code == 403
    assert CouponTemplate.objects.get(pk=mine.pk).status == "submitted"


@override_settings(ALLIANCE_STAFF_OTP_REQUIRED=True)
def test_staff_without_their_second_factor_sign_in_again(client, officer, mine):
    client.force_login(officer)
    response = client.get(queue_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:staff_login"))


def test_officer_of_another_grid_gets_404_and_an_empty_queue(client, other_officer, mine):
    client.force_login(other_officer)
    assert client.get(file_url(mine)).status_code == 404
    for action in ("approve", "reject", "pause", "end"):
        response = client.post(decide_url(mine, action), {f"{action}-reason": "x"})
        assert response.status_code == 404, action
        assert client.post(decide_url(mine, action), {}, **HTMX).status_code == 404
    html = client.get(queue_url()).content.decode()
    assert f'id="template-{mine.pk}"' not in html
    assert "Lakeside" not in html
    assert CouponTemplate.objects.get(pk=mine.pk).status == "submitted"
    assert not TemplateChange.objects.filter(template=mine, actor=other_officer).exists()


def test_a_draft_is_the_merchants_alone(client, head_office, owner):
    draft = draft_template(owner=owner)
    client.force_login(head_office)
    assert client.get(file_url(draft)).status_code == 404
    assert client.post(decide_url(draft, "approve"), {}).status_code == 404
    assert f'id="template-{draft.pk}"' not in client.get(queue_url("all")).content.decode()


def test_an_unknown_action_is_404(client, officer, mine):
    client.force_login(officer)
    assert client.post(decide_url(mine, "publish"), {}).status_code == 404
    assert client.get(decide_url(mine, "approve")).status_code == 405


# --- Review queue -------------------------------------------------------------------------------


def test_the_queue_shows_the_officers_grid_with_everything_to_decide(
    client, officer, store, mine, theirs
):
    client.force_login(officer)
    response = client.get(queue_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="template-{mine.pk}"' in html
    assert f'id="template-{theirs.pk}"' not in html and "Riverside" not in html
    row = html[html.index(f'id="template-{mine.pk}"') :]
    row = row[: row.index("</tr>")]
    assert mine.merchant.business_name in row
    assert reverse("merchants:console_merchant_detail", args=[mine.merchant_id]) in row
    assert "¥20.00 off when spending at least ¥100.00" in row
    assert "100 / 100" in row
    assert f'{store.name} <span class="muted">HZ001</span>' in row
    assert "7 days after claim" in row
    assert "Merchant" in row  # funded by the merchant
    assert file_url(mine) in row
    assert [r.pk for r in response.context["page"]] == [mine.pk]


def test_head_office_sees_every_grid(client, head_office, mine, theirs):
    client.force_login(head_office)
    html = client.get(queue_url()).content.decode()
    assert f'id="template-{mine.pk}"' in html and f'id="template-{theirs.pk}"' in html
    assert "HZ002" in html


def test_manager_of_the_grid_sees_it_too(client, manager, mine, theirs):
    client.force_login(manager)
    page = client.get(queue_url()).context["page"]
    assert [t.pk for t in page] == [mine.pk]


def test_submitted_wait_oldest_first(client, officer, owner):
    later = draft_template(owner=owner, title="Submitted later")
    earlier = draft_template(owner=owner, title="Submitted earlier")
    services.template_submit(actor=owner, template_id=earlier.pk)
    services.template_submit(actor=owner, template_id=later.pk)
    # Adding stock meanwhile does not send a template to the back of the queue.
    services.template_add_stock(actor=owner, template_id=earlier.pk, more=5)
    client.force_login(officer)
    page = client.get(queue_url()).context["page"]
    assert [t.pk for t in page] == [earlier.pk, later.pk]


def test_tabs_filter_by_status(client, officer, owner, mine):
    live = live_template(owner=owner, reviewer=officer, title="Live one")
    rejected = submitted(owner, title="Rejected one")
    services.template_reject(actor=officer, template_id=rejected.pk, reason="Too vague")
    client.force_login(officer)

    def shown(status):
        return {t.pk for t in client.get(queue_url(status)).context["page"]}

    assert shown("submitted") == {mine.pk}
    assert shown("live") == {live.pk}
    assert shown("rejected") == {rejected.pk}
    assert shown("paused") == set() and shown("ended") == set()
    assert shown("all") == {mine.pk, live.pk, rejected.pk}
    assert shown("nonsense") == {mine.pk}  # an unknown tab is the review tab
    response = client.get(queue_url("live"))
    assert response.context["tab"] == "live"
    counts = {name: count for name, _label, count in response.context["tabs"]}
    assert counts == {"submitted": 1, "live": 1, "paused": 0, "ended": 0, "rejected": 1, "all": 3}
    assert 'href="?status=live"' in response.content.decode()
    assert 'hx-get="?status=live"' in response.content.decode()


def test_htmx_tab_gets_only_the_results(client, officer, mine):
    client.force_login(officer)
    response = client.get(queue_url("submitted"), **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="template-results">')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_a_campaign_funded_template_shows_the_campaign_and_its_budget(
    client, officer, owner, branch
):
    campaign = services.campaign_create(actor=officer, name="Spring tea", budget_fen=500_000)
    funded = submitted(owner, obtain="campaign", campaign_id=campaign.pk, title="Free tea")
    client.force_login(officer)
    html = client.get(queue_url()).content.decode()
    row = html[html.index(f'id="template-{funded.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Spring tea" in row and "¥5,000.00 available" in row
    assert reverse("coupons:console_campaign_detail", args=[campaign.pk]) in row


def test_the_queue_costs_the_same_queries_for_2_or_15_templates(client, officer, owner, branch):
    campaign = services.campaign_create(actor=officer, name="Spring tea", budget_fen=500_000)

    def count():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(queue_url("all"))
        assert response.status_code == 200
        return len(queries), len(response.context["rows"])

    for i in range(2):
        submitted(owner, title=f"T{i}", obtain="campaign", campaign_id=campaign.pk)
    client.force_login(officer)
    few, rows = count()
    assert rows == 2
    for i in range(13):
        submitted(owner, title=f"U{i}", obtain="campaign", campaign_id=campaign.pk)
    many, rows = count()
    assert rows == 15
    assert many == few


# --- Value in plain words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, words",
    [
        ({}, "¥20.00 off when spending at least ¥100.00"),
        ({"min_spend_fen": 0}, "¥20.00 off"),
        (
            {
                "kind": "percent_off",
                "pay_percent": 85,
                "cap_fen": 3000,
                "discount_fen": 0,
                "min_spend_fen": 0,
            },
            "Pay 85% of the bill (8.5折), at most ¥30.00 off",
        ),
        (
            {
                "kind": "percent_off",
                "pay_percent": 80,
                "cap_fen": 3000,
                "discount_fen": 0,
                "min_spend_fen": 5000,
            },
            "Pay 80% of the bill (8折), at most ¥30.00 off, when spending at least ¥50.00",
        ),
        (
            {
                "kind": "paid_voucher",
                "obtain": "purchase",
                "price_fen": 8000,
                "discount_fen": 10000,
                "min_spend_fen": 0,
            },
            "Pay ¥80.00, worth ¥100.00",
        ),
        (
            {"kind": "gift", "gift_item": "iced tea", "discount_fen": 1200, "min_spend_fen": 0},
            "Free iced tea (worth ¥12.00)",
        ),
    ],
)
def test_value_in_words(store, fields, words):
    data = template_fields(store_ids=[store.pk], **fields)
    template = CouponTemplate(**{k: v for k, v in vars(data).items() if k != "store_ids"})
    with translation.override("en"):
        assert value_in_words(template) == words


# --- Template file ------------------------------------------------------------------------------


def test_the_file_shows_everything_and_the_history(client, officer, owner, customers):
    template = live_template(owner=owner, reviewer=officer, title="Lakeside 满100减20")
    coupons = [
        services.coupon_claim(customer=c, template_id=template.pk, claim_key=f"claim-key-{i:04d}")
        for i, c in enumerate(customers[:2])
    ]
    services.coupon_verify(actor=owner, code=typed(coupons[0]), idempotency_key="verify-0001")
    client.force_login(officer)
    response = client.get(file_url(template))
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        f'href="{reverse("merchants:console_merchant_detail", args=[template.merchant_id])}"'
        in html
    )
    numbers = response.context["numbers"]
    assert (numbers.claimed, numbers.verified, numbers.active, numbers.expired) == (2, 1, 1, 0)
    assert numbers.conversion_percent == "50.0%"
    assert 'data-number="conversion">50.0%' in html
    assert "98 left of 100" in html
    changes = [c.to_status for c, _f, _t in response.context["history"]]
    assert changes == ["draft", "submitted", "approved", "live"]
    assert html.count('class="change-row"') == 4
    assert str(officer) in html
    # A live template offers pause and end, nothing else.
    assert [d.action for d in response.context["decisions"]] == ["pause", "end"]
    assert f'action="{decide_url(template, "pause")}"' in html
    assert f'hx-post="{decide_url(template, "pause")}"' in html


def test_a_submitted_template_offers_approve_and_reject(client, officer, mine):
    client.force_login(officer)
    response = client.get(file_url(mine))
    assert [d.action for d in response.context["decisions"]] == ["approve", "reject"]
    assert response.context["numbers"].conversion_percent == "—"


# --- Decisions ----------------------------------------------------------------------------------


def test_approve_without_javascript(client, officer, mine):
    client.force_login(officer)
    response = client.post(decide_url(mine, "approve"), {"approve-reason": "Looks fine"})
    assert response.status_code == 302 and response["Location"] == file_url(mine)
    mine.refresh_from_db()
    assert mine.status == "approved" and mine.reviewer == officer
    change = TemplateChange.objects.filter(template=mine).latest("pk")
    assert (change.from_status, change.to_status, change.actor, change.reason) == (
        "submitted",
        "approved",
        officer,
        "Looks fine",
    )
    follow = client.get(response["Location"]).content.decode()
    assert "approved." in follow


def test_approve_with_htmx_redirects_the_client(client, manager, mine):
    client.force_login(manager)
    response = client.post(decide_url(mine, "approve"), {}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == file_url(mine)
    assert CouponTemplate.objects.get(pk=mine.pk).status == "approved"
    assert TemplateChange.objects.filter(
        template=mine, to_status="approved", actor=manager, reason=""
    ).exists()


def test_reject_needs_a_reason(client, officer, mine):
    client.force_login(officer)
    response = client.post(decide_url(mine, "reject"), {"reject-reason": "   "})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Say why: the reason is kept in the merchant&#x27;s history." in html
    assert CouponTemplate.objects.get(pk=mine.pk).status == "submitted"
    assert not TemplateChange.objects.filter(template=mine, to_status="rejected").exists()
    # with htmx: only the decisions region, with the same message
    response = client.post(decide_url(mine, "reject"), {}, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="decisions"')
    assert "Say why" in html and "<html" not in html


def test_reject_with_a_reason(client, officer, mine):
    client.force_login(officer)
    response = client.post(decide_url(mine, "reject"), {"reject-reason": "Stock too high"})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.status == "rejected" and mine.decision_reason == "Stock too high"
    change = TemplateChange.objects.filter(template=mine).latest("pk")
    assert (change.to_status, change.actor, change.reason) == (
        "rejected",
        officer,
        "Stock too high",
    )


def test_a_decided_template_cannot_be_decided_again(client, officer, head_office, mine):
    services.template_approve(actor=head_office, template_id=mine.pk)
    client.force_login(officer)
    response = client.post(decide_url(mine, "reject"), {"reject-reason": "late"})
    assert response.status_code == 200
    assert "This is not possible in the current state." in response.content.decode()
    assert CouponTemplate.objects.get(pk=mine.pk).status == "approved"
    # with htmx the form has gone: the page is reloaded with the message
    response = client.post(decide_url(mine, "approve"), {}, **HTMX)
    assert response["HX-Redirect"] == file_url(mine)
    follow = client.get(file_url(mine)).content.decode()
    assert "This is not possible in the current state." in follow


def test_pause_and_end_a_live_template_with_a_reason(client, officer, owner):
    template = live_template(owner=owner, reviewer=officer)
    assert template.offers.exists()
    client.force_login(officer)
    refused = client.post(decide_url(template, "pause"), {"pause-reason": ""})
    assert refused.status_code == 200 and "Say why" in refused.content.decode()
    assert CouponTemplate.objects.get(pk=template.pk).status == "live"

    response = client.post(decide_url(template, "pause"), {"pause-reason": "Complaints"})
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.status == "paused" and not template.offers.exists()
    change = TemplateChange.objects.filter(template=template).latest("pk")
    assert (change.from_status, change.to_status, change.actor, change.reason) == (
        "live",
        "paused",
        officer,
        "Complaints",
    )
    # A paused template can only be ended from the console.
    page = client.get(file_url(template))
    assert [d.action for d in page.context["decisions"]] == ["end"]

    response = client.post(decide_url(template, "end"), {"end-reason": "Merchant closed"}, **HTMX)
    assert response["HX-Redirect"] == file_url(template)
    template.refresh_from_db()
    assert template.status == "ended"
    change = TemplateChange.objects.filter(template=template).latest("pk")
    assert (change.from_status, change.to_status, change.reason) == (
        "paused",
        "ended",
        "Merchant closed",
    )


def test_head_office_decides_in_any_grid(client, head_office, theirs):
    client.force_login(head_office)
    response = client.post(decide_url(theirs, "approve"), {"approve-reason": "ok"})
    assert response.status_code == 302
    assert CouponTemplate.objects.get(pk=theirs.pk).status == "approved"


def test_a_campaign_funded_templates_file_shows_the_budget(client, head_office, owner, branch):
    campaign = services.campaign_create(
        actor=head_office, name="City week", budget_fen=100_000, branch_id=None
    )
    template = submitted(owner, obtain="campaign", campaign_id=campaign.pk)
    client.force_login(head_office)
    html = client.get(file_url(template)).content.decode()
    assert "City week" in html and "¥1,000.00 available of ¥1,000.00" in html
    assert "Each claim reserves ¥20.00." in html
    assert Campaign.objects.get().branch is None
