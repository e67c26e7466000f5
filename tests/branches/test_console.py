"""Branch console pages: who may see what, the list and file, and the preview -> confirm writes."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from branches import services
from branches.models import Branch, BranchChange
from tests.factories import BranchFactory, UserFactory
from tests.gridplaces.models import Place

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def english(client):
    """Assert on the English msgids: the Chinese translations are added later."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def make_place(name: str, lat: float, lng: float) -> Place:
    place = Place(name=name)
    place.set_location(lat=lat, lng=lng)
    place.save()
    return services.place_assign(place=place, actor=None, reason="test")


def login(client, user):
    if user is not None:
        client.force_login(user)
    return client


# --- Who may see what --------------------------------------------------------------------------

READ_PAGES = ["branches:list", "branches:detail", "branches:map", "branches:map_data"]
WRITE_PAGES = ["branches:create", "branches:edit", "branches:close", "branches:reopen"]


def url_for(name: str, branch: Branch) -> str:
    needs_pk = name in {"branches:detail", "branches:edit", "branches:close", "branches:reopen"}
    return reverse(name, args=[branch.pk]) if needs_pk else reverse(name)


@pytest.mark.parametrize("page", READ_PAGES)
@pytest.mark.parametrize(
    ("who", "status"),
    [("head_office", 200), ("officer", 200), ("manager", 200), ("customer", 403),
     ("merchant_owner", 403)],
)
def test_read_pages_by_role(client, request, branch, page, who, status):
    login(client, request.getfixturevalue(who))
    assert client.get(url_for(page, branch)).status_code == status


@pytest.mark.parametrize("page", WRITE_PAGES)
@pytest.mark.parametrize(
    ("who", "status"),
    [("head_office", 200), ("officer", 403), ("manager", 403), ("customer", 403),
     ("merchant_owner", 403)],
)
def test_write_pages_by_role(client, request, branch, page, who, status):
    login(client, request.getfixturevalue(who))
    assert client.get(url_for(page, branch)).status_code == status
    if status == 403:  # a POST is refused the same way, and changes nothing
        client.post(url_for(page, branch), {"reason": "x", "confirm": "1"})
        assert BranchChange.objects.filter(branch=branch).count() == 1  # only "opened"


@pytest.mark.parametrize("page", READ_PAGES + WRITE_PAGES)
def test_anonymous_is_sent_to_sign_in(client, branch, page):
    response = client.get(url_for(page, branch))
    assert response.status_code == 302
    assert "login" in response["Location"] or "accounts" in response["Location"]


def test_officer_cannot_see_another_branch(client, officer, branch, other_branch):
    login(client, officer)
    assert client.get(reverse("branches:detail", args=[branch.pk])).status_code == 200
    assert client.get(reverse("branches:detail", args=[other_branch.pk])).status_code == 404


def test_unknown_branch_is_404_for_head_office(client, head_office):
    login(client, head_office)
    for name in ["branches:detail", "branches:edit", "branches:close", "branches:reopen"]:
        assert client.get(reverse(name, args=[999_999])).status_code == 404


# --- List ----------------------------------------------------------------------------------------


def test_list_head_office_sees_all_and_can_open(client, head_office, branch, other_branch):
    UserFactory(role="branch_officer", username="o1", branch=branch)
    UserFactory(role="branch_manager", username="m1", branch=branch)
    login(client, head_office)
    response = client.get(reverse("branches:list"))
    rows = {b.code: b for b in response.context["page"]}
    assert set(rows) == {"HZ001", "HZ002"}
    assert rows["HZ001"].staff_count == 2
    assert rows["HZ001"].last_change_at is not None
    html = response.content.decode()
    assert reverse("branches:create") in html
    assert "West Lake" in html and "Qianjiang" in html


def test_list_officer_sees_only_own_branch_and_no_open_button(client, officer, other_branch):
    login(client, officer)
    response = client.get(reverse("branches:list"))
    assert [b.code for b in response.context["page"]] == ["HZ001"]
    assert reverse("branches:create") not in response.content.decode()
    assert "Qianjiang" not in response.content.decode()


def test_list_search_by_name_or_code(client, head_office, branch, other_branch):
    login(client, head_office)
    by_name = client.get(reverse("branches:list"), {"q": "qianj"})
    assert [b.code for b in by_name.context["page"]] == ["HZ002"]
    by_code = client.get(reverse("branches:list"), {"q": "hz001"})
    assert [b.code for b in by_code.context["page"]] == ["HZ001"]


def test_list_search_with_htmx_returns_the_results_partial(client, head_office, branch):
    login(client, head_office)
    response = client.get(reverse("branches:list"), {"q": "west"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="branch-results"' in html
    assert "West Lake" in html
    assert "HX-Request" in response["Vary"]


def test_search_officer_cannot_find_other_branches(client, officer, other_branch):
    login(client, officer)
    response = client.get(reverse("branches:list"), {"q": "HZ002"})
    assert list(response.context["page"]) == []


# --- Detail --------------------------------------------------------------------------------------


def test_detail_shows_history_in_shanghai_time_and_grid_moves(client, head_office, branch):
    services.branch_update(
        actor=head_office, branch_id=branch.pk, name="Lakeside", address="2 Lake Road",
        lat=branch.lat, lng=branch.lng, reason="renamed by the city",
    )
    make_place("Tea House", 30.2600, 120.1650)  # joins HZ001's grid
    login(client, head_office)
    response = client.get(reverse("branches:detail", args=[branch.pk]))
    html = response.content.decode()
    change = BranchChange.objects.filter(branch=branch, kind="edited").get()
    local = change.created_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert datetime.strftime(local, "%Y-%m-%d %H:%M:%S") in html
    assert "renamed by the city" in html
    assert str(head_office) in html
    assert "West Lake" in html and "Lakeside" in html  # before -> after
    assert "Tea House" in html  # the grid move in
    assert reverse("branches:edit", args=[branch.pk]) in html
    assert reverse("branches:close", args=[branch.pk]) in html


def test_detail_has_no_write_links_for_branch_staff(client, officer, branch):
    login(client, officer)
    html = client.get(reverse("branches:detail", args=[branch.pk])).content.decode()
    assert reverse("branches:edit", args=[branch.pk]) not in html
    assert reverse("branches:close", args=[branch.pk]) not in html


# --- Open a branch: preview, then confirm -------------------------------------------------------

NEW = {
    "code": "hz003",
    "name": "Binjiang",
    "address": "3 River Road",
    "lat": "30.2460",
    "lng": "120.1940",
    "reason": "new district",
}


def test_create_preview_lists_places_that_would_move_and_saves_nothing(
    client, head_office, other_branch
):
    place = make_place("Noodle Bar", 30.2455, 120.1950)  # ~1.4 km from HZ002, 100 m from new
    assert place.branch_id == other_branch.pk
    login(client, head_office)
    response = client.post(reverse("branches:create"), NEW)
    assert response.status_code == 200
    html = response.content.decode()
    plan = response.context["plan"]
    assert plan.count == 1
    row = plan.rows[0]
    assert (row.label, row.from_label, row.to_label) == (
        "Noodle Bar", str(other_branch), "new branch HZ003"
    )
    assert "Noodle Bar" in html and 'name="confirm"' in html
    assert 'type="hidden" name="lat" value="30.2460"' in html
    assert not Branch.objects.filter(code="HZ003").exists()


def test_create_preview_lists_pool_places_joining_the_new_branch(client, head_office):
    make_place("Corner Shop", 30.2465, 120.1945)  # no branch yet: head-office pool
    login(client, head_office)
    rows = client.post(reverse("branches:create"), NEW).context["plan"].rows
    assert [(r.label, r.from_label, r.to_label) for r in rows] == [
        ("Corner Shop", "head-office pool", "new branch HZ003")
    ]


def test_create_confirm_opens_the_branch_and_records_the_change(client, head_office, other_branch):
    login(client, head_office)
    response = client.post(reverse("branches:create"), {**NEW, "confirm": "1"})
    new = Branch.objects.get(code="HZ003")
    assert response.status_code == 302
    assert response["Location"] == reverse("branches:detail", args=[new.pk])
    change = BranchChange.objects.get(branch=new)
    assert (change.kind, change.actor, change.reason) == ("opened", head_office, "new district")
    assert (new.lat, new.lng) == (30.246, 120.194)
    page = client.get(response["Location"])
    assert "Binjiang (HZ003)" in page.content.decode()
    assert [str(m) for m in page.context["messages"]] == ["Branch Binjiang (HZ003) opened."]


def test_create_with_htmx_swaps_the_preview_and_redirects_on_confirm(client, head_office):
    login(client, head_office)
    preview = client.post(reverse("branches:create"), NEW, **HTMX)
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "<html" not in html and 'id="write-panel"' in html and 'name="confirm"' in html
    done = client.post(reverse("branches:create"), {**NEW, "confirm": "1"}, **HTMX)
    new = Branch.objects.get(code="HZ003")
    assert done.status_code == 200
    assert done["HX-Redirect"] == reverse("branches:detail", args=[new.pk])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lat": "200"}, "lat"),
        ({"lng": "east"}, "lng"),
        ({"lng": "nan"}, "lng"),
        ({"reason": "   "}, "reason"),
        ({"code": "HZ 3!"}, "code"),
        ({"code": "hz001"}, "code"),  # taken
        ({"name": ""}, "name"),
    ],
)
@pytest.mark.parametrize("confirm", [False, True])
def test_create_bad_input_is_a_form_error(client, head_office, branch, change, field, confirm):
    login(client, head_office)
    data = {**NEW, **change, **({"confirm": "1"} if confirm else {})}
    response = client.post(reverse("branches:create"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert response.context["plan"] is None
    assert Branch.objects.count() == 1


def test_create_bad_input_with_htmx_returns_the_form_with_errors(client, head_office):
    login(client, head_office)
    response = client.post(reverse("branches:create"), {**NEW, "lat": "200"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="write-panel"' in html and "errorlist" in html
    assert "HX-Redirect" not in response


# --- Move a branch -------------------------------------------------------------------------------


def test_move_preview_then_confirm(client, head_office, branch):
    place = make_place("Tea House", 30.2600, 120.1650)
    assert place.branch_id == branch.pk
    login(client, head_office)
    url = reverse("branches:edit", args=[branch.pk])
    form = client.get(url)
    assert form.context["form"]["lat"].value() == branch.lat
    data = {"name": "West Lake", "address": "9 Far Road", "lat": "30.3000", "lng": "120.1000",
            "reason": "moved to the new district"}

    preview = client.post(url, data)
    rows = preview.context["plan"].rows
    assert [(r.label, r.from_label, r.to_label) for r in rows] == [
        ("Tea House", str(branch), "head-office pool")
    ]
    branch.refresh_from_db()
    assert branch.lat == 30.259  # nothing saved yet

    done = client.post(url, {**data, "confirm": "1"})
    assert done.status_code == 302
    assert done["Location"] == reverse("branches:detail", args=[branch.pk])
    change = BranchChange.objects.filter(branch=branch).first()
    assert change.kind == "moved" and change.actor == head_office
    assert (change.old["lat"], change.new["lat"]) == (30.259, 30.3)
    assert change.new["address"] == "9 Far Road"


def test_edit_without_moving_previews_nothing_and_records_an_edit(client, head_office, branch):
    login(client, head_office)
    url = reverse("branches:edit", args=[branch.pk])
    data = {"name": "West Lake Sub-branch", "address": branch.address, "lat": str(branch.lat),
            "lng": str(branch.lng), "reason": "official name"}
    assert client.post(url, data).context["plan"].count == 0
    client.post(url, {**data, "confirm": "1"})
    assert BranchChange.objects.filter(branch=branch).first().kind == "edited"


def test_edit_bad_numbers_are_form_errors(client, head_office, branch):
    login(client, head_office)
    url = reverse("branches:edit", args=[branch.pk])
    data = {"name": "x", "address": "y", "lat": "91", "lng": "1e999", "reason": "r",
            "confirm": "1"}
    response = client.post(url, data)
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"lat", "lng"}
    assert BranchChange.objects.filter(branch=branch).count() == 1


# --- Close and reopen ---------------------------------------------------------------------------


def test_close_preview_then_confirm(client, head_office, branch):
    make_place("Tea House", 30.2600, 120.1650)
    login(client, head_office)
    url = reverse("branches:close", args=[branch.pk])

    preview = client.post(url, {"reason": "lease ended"})
    assert [(r.label, r.to_label) for r in preview.context["plan"].rows] == [
        ("Tea House", "head-office pool")
    ]
    assert "Tea House" in preview.content.decode()

    done = client.post(url, {"reason": "lease ended", "confirm": "1"}, **HTMX)
    assert done["HX-Redirect"] == reverse("branches:detail", args=[branch.pk])
    branch.refresh_from_db()
    assert not branch.is_active
    change = BranchChange.objects.filter(branch=branch).first()
    assert (change.kind, change.reason, change.actor) == ("closed", "lease ended", head_office)
    history = client.get(reverse("branches:detail", args=[branch.pk])).content.decode()
    assert "lease ended" in history
    assert "<strong>Open</strong>: open → closed" in re.sub(r"\s+", " ", history)


def test_close_requires_a_reason(client, head_office, branch):
    login(client, head_office)
    url = reverse("branches:close", args=[branch.pk])
    response = client.post(url, {"reason": "", "confirm": "1"})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    branch.refresh_from_db()
    assert branch.is_active


def test_service_refusal_is_shown_in_the_page(client, head_office, branch):
    """Two operators: one has closed the branch already; the other's confirm is refused."""
    services.branch_set_active(actor=head_office, branch_id=branch.pk, active=False, reason="x")
    login(client, head_office)
    url = reverse("branches:close", args=[branch.pk])
    response = client.post(url, {"reason": "again", "confirm": "1"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["The branch is already closed."]
    assert "The branch is already closed." in response.content.decode()
    htmx = client.post(url, {"reason": "again", "confirm": "1"}, **HTMX)
    assert htmx.status_code == 200 and "The branch is already closed." in htmx.content.decode()
    assert "HX-Redirect" not in htmx
    assert BranchChange.objects.filter(branch=branch, kind="closed").count() == 1


def test_reopen_preview_then_confirm(client, head_office, branch):
    services.branch_set_active(actor=head_office, branch_id=branch.pk, active=False, reason="x")
    place = make_place("Tea House", 30.2600, 120.1650)
    assert place.branch_id is None  # pool while the branch is closed
    login(client, head_office)
    url = reverse("branches:reopen", args=[branch.pk])
    preview = client.post(url, {"reason": "new lease"})
    assert [(r.from_label, r.to_label) for r in preview.context["plan"].rows] == [
        ("head-office pool", str(branch))
    ]
    client.post(url, {"reason": "new lease", "confirm": "1"})
    branch.refresh_from_db()
    assert branch.is_active
    assert BranchChange.objects.filter(branch=branch).first().kind == "reopened"


def test_detail_offers_reopen_for_a_closed_branch(client, head_office):
    closed = BranchFactory(code="OLD1")
    services.branch_set_active(actor=None, branch_id=closed.pk, active=False, reason="x")
    login(client, head_office)
    html = client.get(reverse("branches:detail", args=[closed.pk])).content.decode()
    assert reverse("branches:reopen", args=[closed.pk]) in html
    assert reverse("branches:close", args=[closed.pk]) not in html


# --- Admin: read-only, writes go through the console ---------------------------------------------


def test_admin_shows_branches_read_only(client, branch):
    admin_user = UserFactory(role="head_office", username="root", is_staff=True, is_superuser=True)
    make_place("Tea House", 30.2600, 120.1650)
    login(client, admin_user)
    for url in ["/admin/branches/branch/", f"/admin/branches/branch/{branch.pk}/change/",
                "/admin/branches/branchchange/", "/admin/branches/gridmove/"]:
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/branches/branch/add/").status_code == 403
    html = client.get("/admin/branches/branch/").content.decode()
    assert reverse("branches:detail", args=[branch.pk]) in html
