"""More stores per merchant, each in its own grid; lookalikes for the reviewer."""

import pytest

from alliance.errors import ApplicationError
from branches.models import GridMove
from merchants import selectors, services
from tests.merchants.factories import (
    approved_merchant,
    draft_application,
    near,
    submitted_application,
)

OTHER_B = (30.2450, 120.2100)


def code_of(call):
    with pytest.raises(ApplicationError) as exc:
        call()
    return exc.value.code


@pytest.fixture
def merchant(head_office, branch):
    return approved_merchant(reviewer=head_office)


def test_a_second_store_in_another_grid(
    merchant, other_branch, officer, other_officer, other_manager
):
    owner = merchant.staff.get().user
    lat, lng = near(OTHER_B, metres=150)
    store = services.store_add(
        actor=owner,
        merchant_id=merchant.pk,
        name="Tea House East",
        address="8 Qianjiang Rd",
        lat=lat,
        lng=lng,
    )
    assert store.branch == other_branch
    assert GridMove.objects.filter(subject_id=store.pk, to_branch=other_branch).exists()
    # Both grids see the merchant; each branch's manager may act on it.
    assert list(selectors.merchants_visible_to(officer)) == [merchant]
    assert list(selectors.merchants_visible_to(other_officer)) == [merchant]
    assert list(selectors.stores_visible_to(other_officer)) == [store]
    services.merchant_suspend(
        actor=other_manager, merchant_id=merchant.pk, reason="complaints east"
    )


def test_only_the_owner_of_an_active_merchant_adds_stores(merchant, head_office):
    owner = merchant.staff.get().user
    cashier = services.staff_add(actor=owner, phone="13900005555").user
    lat, lng = near()
    args = {"merchant_id": merchant.pk, "name": "x", "address": "y", "lat": lat, "lng": lng}
    assert code_of(lambda: services.store_add(actor=cashier, **args)) == "permission_denied"
    assert (
        code_of(lambda: services.store_add(actor=owner, **{**args, "lat": 95.0}))
        == "invalid_location"
    )
    assert code_of(lambda: services.store_add(actor=owner, **{**args, "name": " "})) == "invalid"
    services.merchant_suspend(actor=head_office, merchant_id=merchant.pk, reason="r")
    assert code_of(lambda: services.store_add(actor=owner, **args)) == "invalid_transition"


def test_lookalikes_show_same_code_and_same_name_nearby(merchant, head_office, officer):
    same_code = draft_application(code=merchant.credit_code)
    services.merchant_close(actor=head_office, merchant_id=merchant.pk, reason="sold")
    services.application_submit(actor=same_code.applicant, application_id=same_code.pk)
    found = selectors.application_lookalikes(officer, same_code.pk)
    assert found.same_credit_code == [merchant]
    assert [s.merchant_id for s in found.same_name_nearby] == [merchant.pk]  # same name, 0 m


def test_lookalikes_ignore_other_names_and_far_stores(merchant, officer):
    elsewhere = submitted_application(business_name="Noodle Bar", store_name="Noodle Bar")
    assert selectors.application_lookalikes(officer, elsewhere.pk).same_name_nearby == []
    far = submitted_application(location=near(metres=2500))
    assert selectors.application_lookalikes(officer, far.pk).same_name_nearby == []


def test_lookalikes_are_scoped(merchant, other_officer):
    app = submitted_application()
    assert (
        code_of(lambda: selectors.application_lookalikes(other_officer, app.pk))
        == "not_in_your_grid"
    )
