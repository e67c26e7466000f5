"""Stores and applications are gridded places: opening a branch re-grids them, recorded."""

from branches import geo
from branches.models import BranchChange, GridMove
from branches.services import branch_open, regrid_apply
from merchants import selectors
from merchants.models import MerchantApplication, Store
from tests.factories import UserFactory
from tests.merchants.factories import approved_merchant, near, submitted_application


def test_a_new_nearer_branch_takes_the_store_and_the_waiting_application(
    head_office, branch, officer
):
    merchant = approved_merchant(reviewer=head_office, location=near(bearing=0, metres=2000))
    waiting = submitted_application(location=near(bearing=0, metres=2100))
    lat, lng = near(bearing=0, metres=2200)
    nearer = branch_open(
        actor=head_office, code="HZ010", name="North", address="x", lat=lat, lng=lng, reason="new"
    )
    change = BranchChange.objects.get(branch=nearer, kind="opened")
    regrid_apply(change_id=change.pk)  # what the task does after the commit

    store = Store.objects.get(merchant=merchant)
    assert store.branch == nearer
    assert MerchantApplication.objects.get(pk=waiting.pk).branch == nearer
    assert GridMove.objects.filter(subject_id=store.pk, change=change).exists()
    north_officer = UserFactory(role="branch_officer", branch=nearer)
    assert list(selectors.merchants_visible_to(north_officer)) == [merchant]
    assert list(selectors.review_queue(north_officer)) == [waiting]
    assert list(selectors.merchants_visible_to(officer)) == []
    assert geo.distance_m(store.lat, store.lng, nearer.lat, nearer.lng) < 300
