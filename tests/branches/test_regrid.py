"""Opening, moving and closing branches; the re-grid preview and what the task then does."""

import threading
import time

import pytest
from django.db import connection

from alliance.errors import Forbidden
from branches import geo
from branches.models import Branch, BranchChange, GridMove
from branches.services import (
    BranchCodeTaken,
    BranchDraft,
    InvalidLocation,
    InvalidTransition,
    ReasonRequired,
    branch_open,
    branch_set_active,
    branch_update,
    place_assign,
    regrid_apply,
    regrid_plan,
)
from tests.factories import BranchFactory
from tests.gridplaces.models import Place

WEST = (30.2590, 120.1640)


def place_at(name, lat, lng):
    p = Place(name=name)
    p.set_location(lat=lat, lng=lng)
    p.save()
    return place_assign(place=p, actor=None, reason="created")


def moves_of(plan):
    return sorted((m.pk, m.from_branch_id, m.to_branch_id) for m in plan)


def latest_change(branch):
    return BranchChange.objects.filter(branch=branch).order_by("-pk").first()


def test_place_assign_puts_a_place_in_its_grid_and_records_the_move(db):
    branch = BranchFactory(lat=WEST[0], lng=WEST[1])
    p = place_at("tea house", *geo.destination(*WEST, 10, 1000))
    assert p.branch_id == branch.pk
    move = GridMove.objects.get(subject_id=p.pk)
    assert (move.from_branch_id, move.to_branch_id, move.reason) == (None, branch.pk, "created")


def test_opening_a_branch_pulls_places_from_the_pool(db, head_office):
    near = place_at("near", *geo.destination(*WEST, 90, 1500))
    far = place_at("far", *geo.destination(*WEST, 90, 4000))
    assert near.branch_id is None and far.branch_id is None

    plan = regrid_plan(draft=BranchDraft(pk=None, lat=WEST[0], lng=WEST[1], is_active=True))
    assert moves_of(plan) == [(near.pk, None, None)]
    assert plan[0].to_new_branch  # to the branch that does not exist yet, not to the pool

    branch = branch_open(
        actor=head_office, code="hz100", name="West Lake", address="Hubin Rd",
        lat=WEST[0], lng=WEST[1], reason="new branch",
    )
    assert branch.code == "HZ100"
    made = regrid_apply(change_id=latest_change(branch).pk)
    assert moves_of(made) == [(near.pk, None, branch.pk)]
    near.refresh_from_db()
    far.refresh_from_db()
    assert near.branch_id == branch.pk and far.branch_id is None
    move = GridMove.objects.get(subject_id=near.pk, to_branch=branch)
    assert move.actor == head_office and "new branch" in move.reason
    # A duplicate task run changes nothing.
    assert regrid_apply(change_id=latest_change(branch).pk) == []
    assert GridMove.objects.filter(to_branch=branch).count() == 1


def test_move_preview_equals_what_the_regrid_does(db, head_office):
    west = BranchFactory(lat=WEST[0], lng=WEST[1])
    east = BranchFactory(lat=WEST[0], lng=geo.destination(*WEST, 90, 4000)[1])
    places = [place_at(f"p{i}", *geo.destination(*WEST, (i * 47) % 360, 200 + i * 170)) for i in range(30)]
    before = {p.pk: p.branch_id for p in places}
    assert {west.pk, east.pk, None} >= set(before.values())

    new_lat, new_lng = geo.destination(*WEST, 270, 1800)
    preview = regrid_plan(draft=BranchDraft(pk=west.pk, lat=new_lat, lng=new_lng, is_active=True))
    assert preview, "moving 1.8 km must move somebody"

    branch_update(
        actor=head_office, branch_id=west.pk, name=west.name, address=west.address,
        lat=new_lat, lng=new_lng, reason="relocated",
    )
    change = latest_change(west)
    assert change.kind == BranchChange.Kind.MOVED
    assert change.old["lat"] == WEST[0] and change.new["lat"] == new_lat

    made = regrid_apply(change_id=change.pk)
    assert moves_of(made) == moves_of(preview)
    for p in places:
        p.refresh_from_db()
        nearest = sorted(
            (geo.distance_m(p.lat, p.lng, b.lat, b.lng), b.pk)
            for b in Branch.objects.filter(is_active=True)
        )
        expected = next((pk for d, pk in nearest if d <= 3000), None)
        assert p.branch_id == expected


def test_closing_hands_places_to_the_neighbour_or_the_pool(db, head_office):
    west = BranchFactory(lat=WEST[0], lng=WEST[1])
    east_lng = geo.destination(*WEST, 90, 2500)[1]
    east = BranchFactory(lat=WEST[0], lng=east_lng)
    shared = place_at("shared", *geo.destination(*WEST, 90, 1000))  # 1 km W, 1.5 km E
    alone = place_at("alone", *geo.destination(*WEST, 270, 1000))  # 3.5 km from east
    assert shared.branch_id == west.pk and alone.branch_id == west.pk

    branch_set_active(actor=head_office, branch_id=west.pk, active=False, reason="merged")
    made = regrid_apply(change_id=latest_change(west).pk)
    assert moves_of(made) == sorted([(shared.pk, west.pk, east.pk), (alone.pk, west.pk, None)])

    with pytest.raises(InvalidTransition) as refused:
        branch_set_active(actor=head_office, branch_id=west.pk, active=False, reason="again")
    assert (refused.value.code, refused.value.status) == ("invalid_transition", 409)
    branch_set_active(actor=head_office, branch_id=west.pk, active=True, reason="reopened")
    made = regrid_apply(change_id=latest_change(west).pk)
    assert moves_of(made) == sorted([(shared.pk, east.pk, west.pk), (alone.pk, None, west.pk)])


def test_edit_without_move_does_not_regrid(db, head_office):
    west = BranchFactory(lat=WEST[0], lng=WEST[1])
    branch_update(
        actor=head_office, branch_id=west.pk, name="New name", address="New address",
        lat=WEST[0], lng=WEST[1], reason="rename",
    )
    change = latest_change(west)
    assert change.kind == BranchChange.Kind.EDITED
    assert change.old["name"] != change.new["name"] == "New name"


@pytest.mark.parametrize("role", ["branch_officer", "branch_manager", "customer", "merchant_owner"])
def test_only_head_office_changes_branches(db, role, branch):
    from tests.factories import UserFactory

    actor = UserFactory(role=role, branch=branch if role.startswith("branch") else None)
    with pytest.raises(Forbidden):
        branch_open(actor=actor, code="X1", name="x", address="x", lat=30, lng=120, reason="r")
    with pytest.raises(Forbidden):
        branch_set_active(actor=actor, branch_id=branch.pk, active=False, reason="r")
    with pytest.raises(Forbidden):
        branch_update(actor=actor, branch_id=branch.pk, name="x", address="x", lat=30, lng=120, reason="r")
    assert Branch.objects.get(pk=branch.pk).is_active


def test_bad_input_is_refused_with_its_code(db, head_office, branch):
    with pytest.raises(InvalidLocation) as exc:
        branch_open(actor=head_office, code="X2", name="x", address="x", lat=91, lng=120, reason="r")
    assert exc.value.code == "invalid_location"
    with pytest.raises(ReasonRequired):
        branch_open(actor=head_office, code="X2", name="x", address="x", lat=30, lng=120, reason="  ")
    with pytest.raises(BranchCodeTaken):
        branch_open(actor=head_office, code=branch.code.lower(), name="x", address="x", lat=30, lng=120, reason="r")
    assert not Branch.objects.filter(code="X2").exists()


@pytest.mark.postgres
def test_concurrent_opens_with_one_code_make_one_branch(transactional_db):
    results = []
    barrier = threading.Barrier(6)

    def open_one(i):
        try:
            barrier.wait()
            branch_open(actor=None, code="RACE", name=f"b{i}", address="x", lat=30, lng=120, reason="r")
            results.append("ok")
        except BranchCodeTaken:
            results.append("taken")
        finally:
            connection.close()

    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] + ["taken"] * 5
    assert Branch.objects.filter(code="RACE").count() == 1


@pytest.mark.worker
def test_the_worker_applies_exactly_the_preview(transactional_db, celery_worker_process, head_office):
    """End to end: the service commits, on_commit queues the task, a real worker runs it."""
    west = BranchFactory(lat=WEST[0], lng=WEST[1])
    places = [place_at(f"w{i}", *geo.destination(*WEST, (i * 61) % 360, 300 + i * 250)) for i in range(14)]
    assert any(p.branch_id == west.pk for p in places)
    preview = regrid_plan(draft=BranchDraft(pk=west.pk, lat=west.lat, lng=west.lng, is_active=False))
    assert preview

    branch_set_active(actor=head_office, branch_id=west.pk, active=False, reason="closing")
    change = latest_change(west)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if GridMove.objects.filter(change=change).count() >= len(preview):
            break
        time.sleep(0.2)
    done = sorted(
        (m.subject_id, m.from_branch_id, m.to_branch_id) for m in GridMove.objects.filter(change=change)
    )
    assert done == moves_of(preview)
    assert not Place.objects.filter(branch=west).exists()
