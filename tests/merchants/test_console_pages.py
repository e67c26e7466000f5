"""The branch console's merchant pages: the review queue, the merchant list and file, the
photos and the stores on the map; for every role, with and without htmx."""

import pytest
from django.urls import reverse

from merchants import services
from merchants.models import Merchant, MerchantApplication, Visit
from tests.factories import UserFactory
from tests.merchants.factories import (
    approved_merchant,
    credit_code,
    fee_plan,
    near,
    submitted_application,
)

OTHER_B = (30.2450, 120.2100)  # tests/conftest.py's ``other_branch``
POOL = (30.5000, 120.5000)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def in_a(branch):
    return submitted_application(business_name="Lakeside Tea House")


@pytest.fixture
def in_b(other_branch):
    return submitted_application(
        business_name="Riverside Noodles", location=near(OTHER_B, bearing=90, metres=300)
    )


@pytest.fixture
def merchant_a(in_a, officer):
    return services.application_approve(
        actor=officer, application_id=in_a.pk, fee_plan_id=fee_plan().pk
    )


@pytest.fixture
def merchant_b(in_b, other_officer):
    return services.application_approve(
        actor=other_officer, application_id=in_b.pk, fee_plan_id=fee_plan().pk
    )


def queue_url():
    return reverse("merchants:console_review_queue")


def decide_url(application, action):
    return reverse("merchants:console_application_decide", args=[application.pk, action])


def file_url(merchant):
    return reverse("merchants:console_merchant_detail", args=[merchant.pk])


def status_url(merchant, action):
    return reverse("merchants:console_merchant_status", args=[merchant.pk, action])


# --- Who may open the pages ---------------------------------------------------------------------


def pages(merchant, application, document):
    return [
        queue_url(),
        reverse("merchants:console_merchant_list"),
        file_url(merchant),
        reverse("merchants:console_application_document", args=[document.pk]),
        reverse("merchants:console_store_map_data"),
    ]


@pytest.fixture
def everything(merchant_a, in_b):
    return pages(merchant_a, in_b, in_b.documents.first())


def test_anonymous_is_sent_to_staff_sign_in(client, everything):
    for url in everything:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:staff_login")), url


@pytest.mark.parametrize("who", ["customer", "merchant_owner", "cashier"])
def test_customers_and_merchants_are_refused(client, everything, merchant_a, who, request):
    if who == "cashier":
        user = UserFactory(role="merchant_staff")
    else:
        user = request.getfixturevalue(who)
    client.force_login(user)
    for url in everything:
        assert client.get(url).status_code == 403, url
    # ... and cannot decide either.
    assert client.post(decide_url(merchant_a.application, "reject"), {}).status_code == 403


def test_officer_of_a_gets_404_for_branch_bs_rows(client, officer, in_b, merchant_b):
    client.force_login(officer)
    document = in_b.documents.first()
    assert client.get(file_url(merchant_b)).status_code == 404
    assert client.get(
        reverse("merchants:console_application_document", args=[document.pk])
    ).status_code == 404
    for action, data in [("approve", {}), ("reject", {"reason": "x"}), ("return", {})]:
        assert client.post(decide_url(in_b, action), data).status_code == 404
    assert client.post(status_url(merchant_b, "suspend"), {"reason": "x"}).status_code == 404
    assert client.post(
        reverse("merchants:console_visit_create", args=[merchant_b.pk]),
        {"visited_on": "2026-01-05", "kind": "visit", "outcome": "x"},
    ).status_code == 404


def test_officer_of_b_gets_404_for_branch_as_pending_application(client, other_officer, in_a):
    client.force_login(other_officer)
    for action, data in [
        ("approve", {f"a{in_a.pk}-fee_plan": fee_plan().pk}),
        ("reject", {f"a{in_a.pk}-reason": "no"}),
        ("return", {f"a{in_a.pk}-comments": "fix"}),
    ]:
        assert client.post(decide_url(in_a, action), data, **HTMX).status_code == 404
    assert MerchantApplication.objects.get(pk=in_a.pk).status == "submitted"


# --- Review queue -------------------------------------------------------------------------------


def test_queue_shows_the_officers_grid_oldest_first_with_everything_to_decide(
    client, officer, branch, other_branch, in_b
):
    first = submitted_application(business_name="Old Tea", location=near(bearing=0, metres=400))
    second = submitted_application(business_name="New Tea", location=near(bearing=180, metres=800))
    client.force_login(officer)
    response = client.get(queue_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Old Tea") < html.index("New Tea")
    assert "Riverside Noodles" not in html  # branch B's
    assert f'id="application-{first.pk}"' in html and f'id="application-{second.pk}"' in html
    assert "check character valid" in html
    assert "400 m from HZ001" in html
    document = first.documents.first()
    assert reverse("merchants:console_application_document", args=[document.pk]) in html
    assert "**** 0123" in html and "6222021234567890123" not in html  # masked account
    # every form works without JavaScript and with htmx
    assert f'action="{decide_url(first, "approve")}"' in html
    assert f'hx-post="{decide_url(first, "approve")}"' in html


def test_queue_for_head_office_holds_every_grid_and_the_pool(client, head_office, in_a, in_b):
    pooled = submitted_application(business_name="Far Away Farm", location=POOL)
    client.force_login(head_office)
    html = client.get(queue_url()).content.decode()
    for application in (in_a, in_b, pooled):
        assert f'id="application-{application.pk}"' in html
    assert "head-office pool" in html


def test_queue_shows_lookalikes(client, officer, branch, merchant_a):
    twin = submitted_application(
        business_name="Lakeside Tea House", location=near(bearing=0, metres=700)
    )
    client.force_login(officer)
    html = client.get(queue_url()).content.decode()
    row = html[html.index(f'id="application-{twin.pk}"'):]
    assert "same name nearby" in row and merchant_a.code in row


def test_staff_see_the_photo_streamed_with_its_type(client, officer, in_a):
    client.force_login(officer)
    document = in_a.documents.first()
    response = client.get(reverse("merchants:console_application_document", args=[document.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"


def test_approve_without_javascript_redirects_back_to_the_queue(
    client, officer, in_a, sms_outbox
):
    plan = fee_plan("Cafe", 38)
    client.force_login(officer)
    response = client.post(
        decide_url(in_a, "approve"), {f"a{in_a.pk}-fee_plan": plan.pk, f"a{in_a.pk}-reason": ""}
    )
    assert response.status_code == 302 and response["Location"] == queue_url()
    merchant = Merchant.objects.get(application=in_a)
    assert merchant.fee_plan == plan and merchant.status == "active"
    follow = client.get(queue_url()).content.decode()
    assert merchant.code in follow  # the message
    assert f'id="application-{in_a.pk}"' not in follow


def test_approve_with_htmx_swaps_the_row(client, officer, in_a):
    plan = fee_plan()
    client.force_login(officer)
    response = client.post(decide_url(in_a, "approve"), {f"a{in_a.pk}-fee_plan": plan.pk}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<article class="queue-row card" id="application-{in_a.pk}"')
    assert 'data-status="approved"' in html
    merchant = Merchant.objects.get(application=in_a)
    assert file_url(merchant) in html
    assert "<html" not in html


@pytest.mark.parametrize("htmx", [False, True])
def test_reject_needs_a_reason(client, officer, in_a, htmx):
    client.force_login(officer)
    extra = HTMX if htmx else {}
    response = client.post(decide_url(in_a, "reject"), {f"a{in_a.pk}-reason": " "}, **extra)
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html
    assert ("<html" in html) is not htmx
    assert MerchantApplication.objects.get(pk=in_a.pk).status == "submitted"


@pytest.mark.parametrize("htmx", [False, True])
def test_reject_with_a_reason(client, officer, in_a, htmx, sms_outbox):
    client.force_login(officer)
    extra = HTMX if htmx else {}
    response = client.post(
        decide_url(in_a, "reject"), {f"a{in_a.pk}-reason": "Licence expired"}, **extra
    )
    assert response.status_code == (200 if htmx else 302)
    application = MerchantApplication.objects.get(pk=in_a.pk)
    assert application.status == "rejected" and application.decision_reason == "Licence expired"
    assert application.reviewer == officer
    if htmx:
        assert 'data-status="rejected"' in response.content.decode()


@pytest.mark.parametrize("htmx", [False, True])
def test_return_with_comments(client, officer, in_a, htmx):
    client.force_login(officer)
    extra = HTMX if htmx else {}
    response = client.post(
        decide_url(in_a, "return"), {f"a{in_a.pk}-comments": "Photo is blurred"}, **extra
    )
    assert response.status_code == (200 if htmx else 302)
    application = MerchantApplication.objects.get(pk=in_a.pk)
    assert application.status == "returned" and application.decision_reason == "Photo is blurred"


@pytest.mark.parametrize("htmx", [False, True])
def test_deciding_twice_is_a_form_error_not_a_500(client, officer, merchant_a, htmx):
    client.force_login(officer)
    application = merchant_a.application
    response = client.post(
        decide_url(application, "reject"), {f"a{application.pk}-reason": "late"},
        **(HTMX if htmx else {}),
    )
    assert response.status_code == 200
    assert "Only a submitted application can be decided." in response.content.decode()


def test_head_office_decides_the_pool(client, head_office):
    pooled = submitted_application(location=POOL)
    client.force_login(head_office)
    response = client.post(decide_url(pooled, "approve"), {f"a{pooled.pk}-fee_plan": fee_plan().pk})
    assert response.status_code == 302
    assert Merchant.objects.get(application=pooled).stores.get().branch is None


def test_unknown_action_is_404(client, officer, in_a):
    client.force_login(officer)
    assert client.post(decide_url(in_a, "delete"), {}).status_code == 404


# --- Merchant list ------------------------------------------------------------------------------


def test_merchant_list_is_scoped_searchable_and_filtered(
    client, officer, manager, merchant_a, merchant_b
):
    other = approved_merchant(
        reviewer=officer, business_name="Golden Noodle Bar", location=near(bearing=90, metres=900)
    )
    services.merchant_suspend(actor=manager, merchant_id=other.pk, reason="complaints")
    client.force_login(officer)
    url = reverse("merchants:console_merchant_list")
    html = client.get(url).content.decode()
    assert merchant_a.code in html and other.code in html and merchant_b.code not in html
    html = client.get(url, {"q": "golden"}).content.decode()
    assert other.code in html and merchant_a.code not in html
    html = client.get(url, {"q": merchant_a.code.lower()}).content.decode()
    assert merchant_a.code in html and other.code not in html
    html = client.get(url, {"status": "suspended"}).content.decode()
    assert other.code in html and merchant_a.code not in html
    partial = client.get(url, {"q": "golden"}, **HTMX).content.decode()
    assert partial.lstrip().startswith('<div id="merchant-results">') and "<html" not in partial


def test_head_office_lists_every_merchant(client, head_office, merchant_a, merchant_b):
    client.force_login(head_office)
    html = client.get(reverse("merchants:console_merchant_list")).content.decode()
    assert merchant_a.code in html and merchant_b.code in html


def test_console_nav_links_to_the_queue_and_the_list(client, officer):
    client.force_login(officer)
    html = client.get(reverse("branches:map")).content.decode()
    assert queue_url() in html and reverse("merchants:console_merchant_list") in html


# --- Merchant file ------------------------------------------------------------------------------


def test_file_shows_details_masked_stores_history(client, officer, merchant_a):
    client.force_login(officer)
    html = client.get(file_url(merchant_a)).content.decode()
    assert merchant_a.code in html and "Lakeside Tea House (Beishan Road)" in html
    assert "**** 0123" in html and "6222021234567890123" not in html
    assert html.count('class="status-row"') >= 3  # draft, submitted, approved, active
    assert 'class="move-row"' in html  # the store entering the grid
    assert 'id="visit-form"' in html
    assert 'id="status-form"' not in html  # an officer cannot suspend
    assert 'id="move-form"' not in html


def test_officer_records_a_visit(client, officer, merchant_a):
    client.force_login(officer)
    url = reverse("merchants:console_visit_create", args=[merchant_a.pk])
    data = {"visited_on": "2026-01-05", "kind": "visit", "outcome": "Talked about coupons",
            "follow_up_on": "2026-02-01"}
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"] == file_url(merchant_a) + "#visits"
    visit = Visit.objects.get(merchant=merchant_a)
    assert visit.author == officer and visit.kind == "visit" and str(visit.follow_up_on) == "2026-02-01"
    html = client.get(file_url(merchant_a)).content.decode()
    assert "Talked about coupons" in html


def test_visit_with_htmx_redirects_on_success_and_swaps_the_form_on_error(
    client, officer, merchant_a
):
    client.force_login(officer)
    url = reverse("merchants:console_visit_create", args=[merchant_a.pk])
    bad = client.post(
        url, {"visited_on": "2026-01-05", "kind": "phone", "outcome": "Called",
              "follow_up_on": "2026-01-01"}, **HTMX
    )
    html = bad.content.decode()
    assert bad.status_code == 200 and html.lstrip().startswith('<form id="visit-form"')
    assert "The follow-up cannot be before the visit." in html
    good = client.post(url, {"visited_on": "2026-01-05", "kind": "phone", "outcome": "Called"},
                       **HTMX)
    assert good.status_code == 200 and good["HX-Redirect"] == file_url(merchant_a) + "#visits"
    assert Visit.objects.filter(merchant=merchant_a).count() == 1


def test_manager_suspends_and_reinstates(client, manager, merchant_a):
    client.force_login(manager)
    html = client.get(file_url(merchant_a)).content.decode()
    assert 'id="status-form"' in html
    response = client.post(status_url(merchant_a, "suspend"), {"reason": "Complaints"})
    assert response.status_code == 302
    merchant_a.refresh_from_db()
    assert merchant_a.status == "suspended"
    response = client.post(status_url(merchant_a, "reinstate"), {"reason": "Resolved"}, **HTMX)
    assert response["HX-Redirect"] == file_url(merchant_a) + "#status"
    merchant_a.refresh_from_db()
    assert merchant_a.status == "active"
    reasons = list(merchant_a.status_changes.values_list("reason", flat=True))
    assert reasons[-2:] == ["Complaints", "Resolved"]


def test_suspend_needs_a_reason(client, manager, merchant_a):
    client.force_login(manager)
    response = client.post(status_url(merchant_a, "suspend"), {"reason": ""}, **HTMX)
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    merchant_a.refresh_from_db()
    assert merchant_a.status == "active"


def test_officer_is_refused_suspend(client, officer, merchant_a):
    client.force_login(officer)
    response = client.post(status_url(merchant_a, "suspend"), {"reason": "Complaints"})
    assert response.status_code == 403
    merchant_a.refresh_from_db()
    assert merchant_a.status == "active"


def test_manager_of_another_grid_gets_404(client, other_manager, merchant_a):
    client.force_login(other_manager)
    assert client.get(file_url(merchant_a)).status_code == 404
    assert client.post(status_url(merchant_a, "suspend"), {"reason": "x"}).status_code == 404


def test_head_office_moves_a_store_recorded(client, head_office, merchant_a, other_branch):
    client.force_login(head_office)
    html = client.get(file_url(merchant_a)).content.decode()
    assert 'id="move-form"' in html and 'id="visit-form"' not in html
    store = merchant_a.stores.get()
    response = client.post(
        reverse("merchants:console_store_move", args=[merchant_a.pk]),
        {"store": store.pk, "to_branch": other_branch.pk, "reason": "Customer request"},
    )
    assert response.status_code == 302
    store.refresh_from_db()
    assert store.branch == other_branch
    html = client.get(file_url(merchant_a)).content.decode()
    assert "Customer request" in html


def test_branch_staff_cannot_move_stores(client, manager, merchant_a, other_branch):
    client.force_login(manager)
    response = client.post(
        reverse("merchants:console_store_move", args=[merchant_a.pk]),
        {"store": merchant_a.stores.get().pk, "to_branch": other_branch.pk, "reason": "x"},
    )
    assert response.status_code == 403


# --- Stores on the grid map ---------------------------------------------------------------------


def test_store_map_data_is_scoped_with_counts_per_hexagon(
    client, officer, head_office, manager, merchant_a, merchant_b
):
    second = approved_merchant(reviewer=officer, location=near(bearing=0, metres=520),
                               code=credit_code())
    services.merchant_suspend(actor=manager, merchant_id=second.pk, reason="x")
    client.force_login(officer)
    data = client.get(reverse("merchants:console_store_map_data")).json()
    stores = [f["properties"] for f in data["features"] if f["properties"]["kind"] == "store"]
    assert {s["code"]: s["status"] for s in stores} == {
        merchant_a.code: "active", second.code: "suspended"
    }
    cells = [f for f in data["features"] if f["properties"]["kind"] == "store-cell"]
    assert sum(c["properties"]["stores"] for c in cells) == 2 == data["stores"]
    assert data["truncated"] is False
    client.force_login(head_office)
    data = client.get(reverse("merchants:console_store_map_data")).json()
    assert data["stores"] == 3


def test_map_page_points_at_the_stores_layer(client, officer):
    client.force_login(officer)
    html = client.get(reverse("branches:map")).content.decode()
    assert f'data-stores-src="{reverse("merchants:console_store_map_data")}"' in html


def test_the_review_queue_reads_at_most_one_query_per_row(client, officer, branch):
    """The fee plans and the credit-code look-alikes are read once per page; only the
    same-name search around each row's pin is its own query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.merchants.factories import near, submitted_application

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("merchants:console_review_queue")).status_code == 200
        return len(queries)

    client.force_login(officer)
    for i in range(2):
        submitted_application(location=near(metres=300 + 50 * i))
    few = count()
    for i in range(6):
        submitted_application(location=near(metres=700 + 50 * i))
    assert count() - few <= 6
