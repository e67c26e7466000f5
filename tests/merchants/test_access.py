"""Who sees and decides what: grids, head office, the pool, merchants among themselves."""

import pytest

from alliance.errors import ApplicationError
from merchants import selectors, services
from merchants.models import MerchantApplication
from tests.factories import BranchFactory, UserFactory
from tests.merchants.factories import (
    approved_merchant,
    draft_application,
    fee_plan,
    near,
    submitted_application,
)

OTHER_B = (30.2450, 120.2100)  # tests/conftest.py's ``other_branch``
POOL = (30.5000, 120.5000)  # far from both


def code_of(call):
    with pytest.raises(ApplicationError) as exc:
        call()
    return exc.value.code, exc.value.status


@pytest.fixture
def in_b(other_branch):
    return submitted_application(location=near(OTHER_B, bearing=90, metres=300))


@pytest.mark.parametrize("action", ["approve", "reject", "return"])
def test_officer_of_a_cannot_decide_branch_bs_application(officer, branch, in_b, action):
    calls = {
        "approve": lambda: services.application_approve(
            actor=officer, application_id=in_b.pk, fee_plan_id=fee_plan().pk
        ),
        "reject": lambda: services.application_reject(
            actor=officer, application_id=in_b.pk, reason="r"
        ),
        "return": lambda: services.application_return(
            actor=officer, application_id=in_b.pk, comments="c"
        ),
    }
    assert code_of(calls[action]) == ("not_in_your_grid", 404)
    assert MerchantApplication.objects.get(pk=in_b.pk).status == "submitted"


def test_officer_of_a_does_not_see_branch_bs_application(officer, other_officer, branch, in_b):
    assert not selectors.applications_visible_to(officer).filter(pk=in_b.pk).exists()
    assert code_of(lambda: selectors.application_get(officer, in_b.pk)) == ("not_in_your_grid", 404)
    assert list(selectors.review_queue(other_officer)) == [in_b]
    assert list(selectors.review_queue(officer)) == []


def test_branch_b_officer_approves_its_own(other_officer, in_b, other_branch):
    merchant = services.application_approve(
        actor=other_officer, application_id=in_b.pk, fee_plan_id=fee_plan().pk
    )
    assert merchant.stores.get().branch == other_branch


def test_the_pool_is_head_offices(officer, head_office, branch):
    app = submitted_application(location=POOL)
    assert app.branch_id is None
    assert code_of(
        lambda: services.application_reject(actor=officer, application_id=app.pk, reason="r")
    ) == ("not_in_your_grid", 404)
    assert list(selectors.review_queue(head_office)) == [app]
    merchant = services.application_approve(
        actor=head_office, application_id=app.pk, fee_plan_id=fee_plan().pk
    )
    assert merchant.stores.get().branch_id is None


def test_head_office_reviews_any_grid(head_office, in_b):
    services.application_return(actor=head_office, application_id=in_b.pk, comments="photo")


@pytest.mark.parametrize("role", ["customer", "merchant_owner"])
def test_non_staff_cannot_decide(role, branch):
    app = submitted_application()
    user = UserFactory(role=role)
    assert code_of(
        lambda: services.application_reject(actor=user, application_id=app.pk, reason="r")
    ) == ("not_in_your_grid", 404)


def test_the_review_follows_the_grid_at_decision_time(officer, head_office, branch):
    """Submitted in A's grid; a nearer branch opens: the application is now the new branch's."""
    app = submitted_application(location=near(bearing=0, metres=1500))
    nearer = BranchFactory(lat=near(bearing=0, metres=1400)[0], lng=near(bearing=0, metres=1400)[1])
    assert code_of(
        lambda: services.application_reject(actor=officer, application_id=app.pk, reason="r")
    ) == ("not_in_your_grid", 404)
    new_officer = UserFactory(role="branch_officer", branch=nearer)
    merchant = services.application_approve(
        actor=new_officer, application_id=app.pk, fee_plan_id=fee_plan().pk
    )
    assert merchant.stores.get().branch == nearer


def test_queue_is_oldest_first(head_office, branch):
    first = submitted_application()
    second = submitted_application()
    MerchantApplication.objects.filter(pk=second.pk).update(
        submitted_at=first.submitted_at.replace(year=2020)
    )
    assert list(selectors.review_queue(head_office)) == [second, first]


def test_drafts_are_private(applicant, officer, head_office, branch):
    app = draft_application(applicant=applicant)
    for user in (officer, head_office):
        assert not selectors.applications_visible_to(user).filter(pk=app.pk).exists()
    assert selectors.application_get(applicant, app.pk) == app


def test_applicants_see_only_their_own(applicant, customer, branch):
    app = submitted_application(applicant=applicant)
    assert code_of(lambda: selectors.application_get(customer, app.pk)) == ("not_in_your_grid", 404)
    assert list(selectors.applications_visible_to(customer)) == []


def test_one_merchant_cannot_read_another(head_office, branch):
    mine = approved_merchant(reviewer=head_office)
    theirs = approved_merchant(reviewer=head_office)
    me = mine.staff.get().user
    assert list(selectors.merchants_visible_to(me)) == [mine]
    assert code_of(lambda: selectors.merchant_get(me, theirs.pk)) == ("not_in_your_grid", 404)
    assert code_of(lambda: selectors.merchant_file(me, theirs.pk)) == ("not_in_your_grid", 404)
    assert set(selectors.stores_visible_to(me)) == set(mine.stores.all())
    assert code_of(lambda: selectors.application_get(me, theirs.application_id)) == (
        "not_in_your_grid",
        404,
    )
    # ...nor edit it
    assert (
        code_of(
            lambda: services.profile_update(
                actor=me, merchant_id=theirs.pk, changes={"description": "x"}
            )
        )[0]
        == "not_found"
    )


def test_merchant_scope_by_grid(officer, other_officer, head_office, branch, other_branch):
    in_a = approved_merchant(reviewer=head_office)
    in_b = approved_merchant(reviewer=head_office, location=near(OTHER_B, metres=200))
    assert list(selectors.merchants_visible_to(officer)) == [in_a]
    assert list(selectors.merchants_visible_to(other_officer)) == [in_b]
    assert set(selectors.merchants_visible_to(head_office)) == {in_a, in_b}
    assert code_of(lambda: selectors.merchant_file(officer, in_b.pk)) == ("not_in_your_grid", 404)


def test_customers_see_no_merchants(customer, head_office, branch):
    approved_merchant(reviewer=head_office)
    assert list(selectors.merchants_visible_to(customer)) == []
    assert list(selectors.visits_visible_to(customer)) == []
    assert list(selectors.review_queue(customer)) == []
