"""Keeping a merchant: suspend, reinstate, close, move, visits, staff and profile changes."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import User
from alliance.errors import ApplicationError
from branches.models import GridMove
from merchants import selectors, services
from merchants.models import Merchant, MerchantStaff, ProfileChange
from tests.factories import UserFactory
from tests.merchants.factories import approved_merchant, image_upload

OTHER_B = (30.2450, 120.2100)


def code_of(call):
    with pytest.raises(ApplicationError) as exc:
        call()
    return exc.value.code


@pytest.fixture
def merchant(head_office, branch):
    return approved_merchant(reviewer=head_office)


@pytest.fixture
def owner(merchant):
    return merchant.staff.get(role="owner").user


@pytest.fixture
def cashier(merchant, owner):
    return services.staff_add(actor=owner, phone="139 0000 7777", name="Li").user


def merchant_in(state, head_office):
    m = approved_merchant(reviewer=head_office)
    if state in {"suspended", "closed"}:
        services.merchant_suspend(actor=head_office, merchant_id=m.pk, reason="r")
    if state == "closed":
        services.merchant_close(actor=head_office, merchant_id=m.pk, reason="r")
    return Merchant.objects.get(pk=m.pk)


TRANSITIONS = {
    "suspend": (services.merchant_suspend, {"active": "suspended"}),
    "reinstate": (services.merchant_reinstate, {"suspended": "active"}),
    "close": (services.merchant_close, {"active": "closed", "suspended": "closed"}),
}


@pytest.mark.parametrize("state", ["active", "suspended", "closed"])
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_every_merchant_transition(state, action, manager, head_office, branch):
    m = merchant_in(state, head_office)
    call, allowed = TRANSITIONS[action]
    before = m.status_changes.count()
    if state in allowed:
        result = call(actor=manager, merchant_id=m.pk, reason="checked on site")
        assert result.status == allowed[state]
        last = m.status_changes.order_by("pk").last()
        assert (last.actor, last.from_status, last.to_status, last.reason) == (
            manager,
            state,
            allowed[state],
            "checked on site",
        )
    else:
        assert (
            code_of(lambda: call(actor=manager, merchant_id=m.pk, reason="r"))
            == "invalid_transition"
        )
        assert m.status_changes.count() == before
    assert Merchant.objects.get(pk=m.pk).status == allowed.get(state, state)


@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_who_may_change_a_merchants_status(
    action, merchant, officer, other_manager, owner, customer, head_office
):
    call, _ = TRANSITIONS[action]
    if action == "reinstate":
        services.merchant_suspend(actor=head_office, merchant_id=merchant.pk, reason="r")
    assert (
        code_of(lambda: call(actor=officer, merchant_id=merchant.pk, reason="r"))
        == "permission_denied"
    )
    assert (
        code_of(lambda: call(actor=other_manager, merchant_id=merchant.pk, reason="r"))
        == "not_in_your_grid"
    )
    assert (
        code_of(lambda: call(actor=owner, merchant_id=merchant.pk, reason="r"))
        == "permission_denied"
    )
    assert (
        code_of(lambda: call(actor=customer, merchant_id=merchant.pk, reason="r"))
        == "not_in_your_grid"
    )


def test_a_reason_is_required(merchant, manager):
    assert (
        code_of(
            lambda: services.merchant_suspend(actor=manager, merchant_id=merchant.pk, reason=" ")
        )
        == "reason_required"
    )


# --- Moving between branches --------------------------------------------------------------------


def test_head_office_moves_a_store_and_it_is_recorded(
    merchant, head_office, branch, other_branch, officer, other_officer
):
    store = merchant.stores.get()
    services.merchant_move_branch(
        actor=head_office, store_id=store.pk, to_branch_id=other_branch.pk, reason="owner asked"
    )
    store.refresh_from_db()
    assert store.branch == other_branch
    move = GridMove.objects.filter(subject_id=store.pk).order_by("pk").last()
    assert (move.from_branch, move.to_branch, move.actor, move.reason) == (
        branch,
        other_branch,
        head_office,
        "owner asked",
    )
    assert list(selectors.merchants_visible_to(other_officer)) == [merchant]
    assert list(selectors.merchants_visible_to(officer)) == []
    assert move in selectors.merchant_file(head_office, merchant.pk).grid_moves


def test_only_head_office_moves(merchant, manager, other_branch):
    store = merchant.stores.get()
    assert (
        code_of(
            lambda: services.merchant_move_branch(
                actor=manager, store_id=store.pk, to_branch_id=other_branch.pk, reason="r"
            )
        )
        == "permission_denied"
    )


def test_moving_to_the_same_grid_is_refused(merchant, head_office, branch):
    store = merchant.stores.get()
    assert (
        code_of(
            lambda: services.merchant_move_branch(
                actor=head_office, store_id=store.pk, to_branch_id=branch.pk, reason="r"
            )
        )
        == "invalid_transition"
    )


# --- Visits ---------------------------------------------------------------------------------------


def test_branch_staff_record_visits_in_their_file(merchant, officer, head_office):
    today = timezone.localdate()
    visit = services.visit_record(
        actor=officer,
        merchant_id=merchant.pk,
        visited_on=today,
        kind="visit",
        outcome="Wants a coupon campaign",
        follow_up_on=today + datetime.timedelta(days=7),
    )
    assert visit.branch_id == officer.branch_id and visit.author == officer
    assert selectors.merchant_file(head_office, merchant.pk).visits == [visit]
    assert list(selectors.visits_visible_to(officer)) == [visit]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"kind": "lunch"}, "invalid"),
        ({"outcome": " "}, "invalid"),
        ({"visited_on": timezone.localdate() + datetime.timedelta(days=2)}, "invalid"),
        ({"follow_up_on": timezone.localdate() - datetime.timedelta(days=1)}, "invalid"),
    ],
)
def test_bad_visits_are_refused(merchant, officer, kwargs, code):
    values = {"visited_on": timezone.localdate(), "kind": "phone", "outcome": "ok", **kwargs}
    assert (
        code_of(lambda: services.visit_record(actor=officer, merchant_id=merchant.pk, **values))
        == code
    )


def test_visits_only_in_your_grid(merchant, other_officer, head_office, owner):
    args = {
        "merchant_id": merchant.pk,
        "visited_on": timezone.localdate(),
        "kind": "phone",
        "outcome": "x",
    }
    assert code_of(lambda: services.visit_record(actor=other_officer, **args)) == "not_in_your_grid"
    assert code_of(lambda: services.visit_record(actor=head_office, **args)) == "permission_denied"
    assert code_of(lambda: services.visit_record(actor=owner, **args)) == "not_in_your_grid"
    assert selectors.merchant_file(owner, merchant.pk).visits == []  # bank-internal


# --- Staff ----------------------------------------------------------------------------------------


def test_owner_adds_a_cashier_by_phone(merchant, owner, cashier):
    assert cashier.phone == "+8613900007777" and cashier.role == "merchant_staff"
    assert MerchantStaff.objects.get(user=cashier).role == "cashier"
    assert list(selectors.merchants_visible_to(cashier)) == [merchant]


def test_an_existing_customer_becomes_the_cashier(merchant, owner):
    customer = UserFactory(role="customer", phone="+8613900008888")
    staff = services.staff_add(actor=owner, phone="13900008888")
    assert staff.user == customer
    assert User.objects.get(pk=customer.pk).role == "merchant_staff"


def test_staff_refusals(merchant, owner, cashier, officer, head_office):
    assert (
        code_of(lambda: services.staff_add(actor=cashier, phone="13900009999"))
        == "permission_denied"
    )
    assert (
        code_of(lambda: services.staff_add(actor=owner, phone=cashier.phone)) == "staff_unavailable"
    )
    assert (
        code_of(lambda: services.staff_add(actor=owner, phone=officer.phone)) == "staff_unavailable"
    )
    other = approved_merchant(reviewer=head_office)
    assert (
        code_of(lambda: services.staff_add(actor=owner, phone=other.staff.get().user.phone))
        == "staff_unavailable"
    )
    assert code_of(lambda: services.staff_add(actor=owner, phone="12345")) == "invalid_phone"


# --- Profile ----------------------------------------------------------------------------------


def test_owner_edits_free_fields_at_once(merchant, owner):
    store = merchant.stores.get()
    change = services.profile_update(
        actor=owner,
        merchant_id=merchant.pk,
        store_id=store.pk,
        changes={"opening_hours": "08:00-23:00"},
    )
    store.refresh_from_db()
    assert store.opening_hours == "08:00-23:00"
    assert (change.status, change.fields, change.new) == (
        "applied",
        ["opening_hours"],
        {"opening_hours": "08:00-23:00"},
    )
    photo = services.store_photo_add(actor=owner, store_id=store.pk, upload=image_upload())
    assert photo.store == store and photo.width == 400


def test_cashier_cannot_change_the_settlement_account(merchant, cashier):
    change = {"settlement_account_number": "6222000011112222"}
    for service in (services.profile_update, services.profile_change_request):
        with pytest.raises(ApplicationError) as exc:
            service(actor=cashier, merchant_id=merchant.pk, changes=change)
        assert exc.value.code == "permission_denied"
    assert (
        code_of(
            lambda: services.profile_update(
                actor=cashier, merchant_id=merchant.pk, changes={"description": "x"}
            )
        )
        == "permission_denied"
    )
    assert Merchant.objects.get(pk=merchant.pk).settlement_account_number == "6222021234567890123"


def test_legal_and_settlement_changes_go_to_review(merchant, owner, officer, other_officer):
    new_number = "6222000011112222"
    assert (
        code_of(
            lambda: services.profile_update(
                actor=owner,
                merchant_id=merchant.pk,
                changes={"settlement_account_number": new_number},
            )
        )
        == "needs_review"
    )
    request = services.profile_change_request(
        actor=owner, merchant_id=merchant.pk, changes={"settlement_account_number": new_number}
    )
    assert request.status == "pending"
    assert request.new == {"settlement_account_number": "**** 2222"}  # history masked
    assert Merchant.objects.get(pk=merchant.pk).settlement_account_number == "6222021234567890123"
    assert (
        code_of(
            lambda: services.profile_change_request(
                actor=owner, merchant_id=merchant.pk, changes={"legal_representative": "Li"}
            )
        )
        == "change_pending"
    )
    assert (
        code_of(
            lambda: services.profile_change_decide(
                actor=other_officer, change_id=request.pk, approve=True
            )
        )
        == "not_in_your_grid"
    )
    assert (
        code_of(
            lambda: services.profile_change_decide(actor=owner, change_id=request.pk, approve=True)
        )
        == "permission_denied"
    )
    decision = services.profile_change_decide(actor=officer, change_id=request.pk, approve=True)
    assert decision.status == "approved" and decision.decides == request
    assert Merchant.objects.get(pk=merchant.pk).settlement_account_number == new_number
    assert (
        code_of(
            lambda: services.profile_change_decide(
                actor=officer, change_id=request.pk, approve=True
            )
        )
        == "invalid_transition"
    )


def test_rejecting_a_change_needs_a_reason_and_changes_nothing(merchant, owner, officer):
    request = services.profile_change_request(
        actor=owner, merchant_id=merchant.pk, changes={"legal_representative": "Li Lei"}
    )
    assert (
        code_of(
            lambda: services.profile_change_decide(
                actor=officer, change_id=request.pk, approve=False
            )
        )
        == "reason_required"
    )
    services.profile_change_decide(
        actor=officer, change_id=request.pk, approve=False, reason="No proof"
    )
    assert Merchant.objects.get(pk=merchant.pk).legal_representative == "Wang Fang"
    assert ProfileChange.objects.filter(merchant=merchant, status="rejected").count() == 1


def test_the_merchant_file_holds_the_whole_history(merchant, owner, officer, head_office, manager):
    services.visit_record(
        actor=officer,
        merchant_id=merchant.pk,
        visited_on=timezone.localdate(),
        kind="training",
        outcome="QR poster",
    )
    services.merchant_suspend(actor=manager, merchant_id=merchant.pk, reason="complaints")
    services.profile_update(
        actor=owner, merchant_id=merchant.pk, changes={"description": "New menu"}
    )
    file = selectors.merchant_file(officer, merchant.pk)
    assert [a.pk for a in file.applications] == [merchant.application_id]
    steps = [(c.from_status, c.to_status) for c in file.status_changes]
    assert ("submitted", "approved") in steps and ("active", "suspended") in steps
    assert len(file.visits) == 1 and len(file.grid_moves) == 1 and len(file.profile_changes) == 1
    assert [s.role for s in file.staff] == ["owner"]
