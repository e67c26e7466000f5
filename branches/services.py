"""Writes for branches and the grid: open, edit, move, close, reopen; plan and apply re-gridding.

Every change of a branch writes a ``BranchChange`` row in the same transaction and, once it has
committed, queues ``branches.tasks.regrid_after_change``, which moves the places the change
affects and records each move as a ``GridMove``. ``regrid_plan`` is the preview: it answers
"who would move" for a change that has not been saved, with the same rules the task applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import status

from accounts import roles
from alliance.errors import ApplicationError, Forbidden

from . import geo
from .models import Branch, BranchChange, GriddedPlace, GridMove
from .selectors import active_branches, grid_radius_m, within


class BranchCodeTaken(ApplicationError):
    code = "branch_code_taken"
    message = _("Another branch already uses this code.")


class InvalidLocation(ApplicationError):
    code = "invalid_location"
    message = _("Latitude must be between -90 and 90 and longitude between -180 and 180.")


class ReasonRequired(ApplicationError):
    code = "reason_required"
    message = _("Say why: the reason is kept in the audit trail.")


class InvalidTransition(ApplicationError):
    code = "invalid_transition"
    message = _("This branch is not in a state that allows this change.")
    status = status.HTTP_409_CONFLICT  # as for merchants: the request clashes with the state


def _require_head_office(actor) -> None:
    # actor None is the system itself (management commands, data migrations).
    if actor is not None and not roles.is_head_office(actor):
        raise Forbidden(_("Only head office can open, move or close branches."))


def _check_location(lat: float, lng: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidLocation()


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    return reason


def _snapshot(branch: Branch) -> dict:
    return {
        "code": branch.code,
        "name": branch.name,
        "address": branch.address,
        "lat": branch.lat,
        "lng": branch.lng,
        "is_active": branch.is_active,
    }


def _record(*, branch: Branch, kind: str, actor, reason: str, old: dict) -> BranchChange:
    change = BranchChange.objects.create(
        branch=branch, kind=kind, actor=actor, reason=reason, old=old, new=_snapshot(branch)
    )
    if kind != BranchChange.Kind.EDITED:
        from .tasks import regrid_after_change

        transaction.on_commit(partial(regrid_after_change.delay, change_id=change.pk))
    return change


@transaction.atomic(durable=True)
def branch_open(
    *, actor, code: str, name: str, address: str, lat: float, lng: float, reason: str
) -> Branch:
    """Open a branch and queue the re-gridding of what now falls in its circle.

    Atomic; the code is unique (a second call with the same code is refused, not duplicated).
    """
    _require_head_office(actor)
    _check_location(lat, lng)
    reason = _check_reason(reason)
    code = code.strip().upper()
    if Branch.objects.filter(code=code).exists():
        raise BranchCodeTaken()
    branch = Branch(code=code, name=name.strip(), address=address.strip())
    branch.set_location(lat=lat, lng=lng)
    try:
        with transaction.atomic():
            branch.save()
    except IntegrityError as exc:  # a concurrent open with the same code won the race
        raise BranchCodeTaken() from exc
    _record(branch=branch, kind=BranchChange.Kind.OPENED, actor=actor, reason=reason, old={})
    return branch


@transaction.atomic(durable=True)
def branch_update(
    *, actor, branch_id: int, name: str, address: str, lat: float, lng: float, reason: str
) -> Branch:
    """Edit a branch's name and address and/or move it. A move queues re-gridding.

    Locks the branch row; the audit row holds the values before and after.
    """
    _require_head_office(actor)
    _check_location(lat, lng)
    reason = _check_reason(reason)
    branch = Branch.objects.select_for_update().get(pk=branch_id)
    old = _snapshot(branch)
    moved = (branch.lat, branch.lng) != (lat, lng)
    branch.name, branch.address = name.strip(), address.strip()
    branch.set_location(lat=lat, lng=lng)
    branch.save()
    kind = BranchChange.Kind.MOVED if moved else BranchChange.Kind.EDITED
    _record(branch=branch, kind=kind, actor=actor, reason=reason, old=old)
    return branch


@transaction.atomic(durable=True)
def branch_set_active(*, actor, branch_id: int, active: bool, reason: str) -> Branch:
    """Close (``active=False``) or reopen a branch; queues re-gridding. Locks the branch row."""
    _require_head_office(actor)
    reason = _check_reason(reason)
    branch = Branch.objects.select_for_update().get(pk=branch_id)
    if branch.is_active == active:
        raise InvalidTransition(
            _("The branch is already open.") if active else _("The branch is already closed.")
        )
    old = _snapshot(branch)
    branch.is_active = active
    branch.save(update_fields=["is_active", "updated_at"])
    kind = BranchChange.Kind.REOPENED if active else BranchChange.Kind.CLOSED
    _record(branch=branch, kind=kind, actor=actor, reason=reason, old=old)
    return branch


# --- Re-gridding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedMove:
    model: str  # "app_label.ModelName"
    pk: int
    label: str
    from_branch_id: int | None  # None: the head-office pool
    to_branch_id: int | None  # None: the pool, or the branch being opened if ``to_new_branch``
    to_new_branch: bool = False


@dataclass(frozen=True)
class BranchDraft:
    """A branch as it would be after a change (``pk`` None: not opened yet)."""

    pk: int | None
    lat: float
    lng: float
    is_active: bool


def gridded_models() -> list[type[GriddedPlace]]:
    """Every concrete model that belongs to a grid (merchant stores, ...)."""
    return [m for m in apps.get_models() if issubclass(m, GriddedPlace)]


def regrid_plan(*, draft: BranchDraft) -> list[PlannedMove]:
    """Who would move if the branch looked like ``draft``, with the rules the task applies.

    Affected are the places within the radius of the draft's location and the places the
    branch owns now. Each goes to the nearest active branch whose circle contains it (ties to the
    lower id; a branch not opened yet counts as the highest id), else to the pool.
    """
    radius = grid_radius_m()
    current = Branch.objects.filter(pk=draft.pk).first() if draft.pk else None
    # Any owner of an affected place lies within 2 radii of the old or the new location.
    others: dict[int, Branch] = {}
    for lat, lng in {(draft.lat, draft.lng), *(((current.lat, current.lng),) if current else ())}:
        for b in within(active_branches(), lat=lat, lng=lng, radius_m=2 * radius):
            if b.pk != draft.pk:
                others[b.pk] = b

    def owner(plat: float, plng: float) -> tuple[int | None, bool]:
        """(branch id or None for the pool, whether it is the draft branch)."""
        best: tuple[float, float] | None = None
        found: tuple[int | None, bool] = (None, False)
        for b in others.values():
            d = geo.distance_m(plat, plng, b.lat, b.lng)
            if d <= radius and (best is None or (d, b.pk) < best):
                best, found = (d, b.pk), (b.pk, False)
        if draft.is_active:
            d = geo.distance_m(plat, plng, draft.lat, draft.lng)
            rank = draft.pk if draft.pk is not None else math.inf
            if d <= radius and (best is None or (d, rank) < best):
                best, found = (d, rank), (draft.pk, True)
        return found

    moves: list[PlannedMove] = []
    for model in gridded_models():
        places = {p.pk: p for p in within(model.objects.all(), lat=draft.lat, lng=draft.lng)}
        if draft.pk:
            places.update((p.pk, p) for p in model.objects.filter(branch_id=draft.pk))
        for place in sorted(places.values(), key=lambda p: p.pk):
            target, is_draft = owner(place.lat, place.lng)
            if target != place.branch_id or (is_draft and draft.pk is None):
                moves.append(
                    PlannedMove(
                        model=model._meta.label,
                        pk=place.pk,
                        label=str(place),
                        from_branch_id=place.branch_id,
                        to_branch_id=target,
                        to_new_branch=is_draft and draft.pk is None,
                    )
                )
    return moves


def _apply_move(move: PlannedMove, *, change: BranchChange | None, actor, reason: str) -> bool:
    model = apps.get_model(move.model)
    updated = model.objects.filter(pk=move.pk, branch_id=move.from_branch_id).update(
        branch_id=move.to_branch_id
    )
    if not updated:  # moved meanwhile by someone else: their move stands
        return False
    GridMove.objects.create(
        subject_type=ContentType.objects.get_for_model(model),
        subject_id=move.pk,
        from_branch_id=move.from_branch_id,
        to_branch_id=move.to_branch_id,
        change=change,
        actor=actor,
        reason=reason,
    )
    return True


def regrid_apply(*, change_id: int, batch_size: int = 500) -> list[PlannedMove]:
    """Move what a saved branch change affects; returns the moves made.

    Idempotent: it plans from the current state, so a re-run (or a duplicate task) finds
    nothing left to move. Each move is a conditional update plus its ``GridMove`` row, committed
    in batches so a large re-grid does not hold one long transaction.
    """
    change = BranchChange.objects.select_related("branch").get(pk=change_id)
    branch = change.branch
    plan = regrid_plan(
        draft=BranchDraft(pk=branch.pk, lat=branch.lat, lng=branch.lng, is_active=branch.is_active)
    )
    made: list[PlannedMove] = []
    reason = f"{change.get_kind_display()} {branch.code}: {change.reason}"[:200]
    for start in range(0, len(plan), batch_size):
        with transaction.atomic(durable=True):
            for move in plan[start : start + batch_size]:
                if _apply_move(move, change=change, actor=change.actor, reason=reason):
                    made.append(move)
    return made


@transaction.atomic(durable=True)
def place_assign(*, place: GriddedPlace, actor, reason: str) -> GriddedPlace:
    """Put a place into the grid that owns its location now (used when a place is created or
    moves). Records the move when its branch changes. Locks the place row."""
    from .selectors import branch_owning

    reason = _check_reason(reason)
    model = type(place)
    locked = model.objects.select_for_update().get(pk=place.pk)
    target = branch_owning(lat=locked.lat, lng=locked.lng).branch
    target_id = target.pk if target else None
    if target_id != locked.branch_id:
        _apply_move(
            PlannedMove(model._meta.label, locked.pk, str(locked), locked.branch_id, target_id),
            change=None,
            actor=actor,
            reason=reason,
        )
        locked.branch_id = target_id
    return locked
