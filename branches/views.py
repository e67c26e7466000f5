"""Branch console pages: the branch list and file, head-office writes with a re-grid preview, and
the grid map.

Views parse input, call a selector or a service and render. Every branch is looked up through
``branch_scope``, so a branch outside the user's scope is a 404 (ids cannot be probed), and the
writes are head office only. A write is two steps: the first POST shows what would move
(``services.regrid_plan``), the second (``confirm``) calls the service with the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import condition, require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts import roles
from accounts.access import branch_scope, head_office_only, staff_console
from alliance.errors import ApplicationError

from . import forms, services
from .geo import MAP_HEX_RES
from .models import Branch, BranchChange, GridMove
from .selectors import grid_geojson, grid_radius_m

LIST_PAGE_SIZE = 50
PLAN_ROWS_SHOWN = 200
HISTORY_ROWS_SHOWN = 100


# --- Selectors (pure reads used only by these pages) ----------------------------------------


def _branches_in_scope(user) -> QuerySet:
    return branch_scope(user, Branch.objects.all())


def branch_table(user, *, search: str = "") -> QuerySet:
    """Branches in the user's scope with staff count and time of the last change."""
    qs = _branches_in_scope(user)
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(code__icontains=search))
    return qs.annotate(
        staff_count=Count("staff", distinct=True), last_change_at=Max("changes__created_at")
    ).order_by("code")


@dataclass(frozen=True)
class FieldDiff:
    label: str
    before: object
    after: object


_SNAPSHOT_FIELDS = ("code", "name", "address", "lat", "lng", "is_active")


def _shown(key: str, value):
    if key == "is_active" and value is not None:
        return _("open") if value else _("closed")
    return value


def _diff(change: BranchChange) -> list[FieldDiff]:
    """The fields a change touched, before and after (an opening has no "before")."""
    return [
        FieldDiff(
            label=str(Branch._meta.get_field(key).verbose_name),
            before=_shown(key, change.old.get(key)),
            after=_shown(key, change.new.get(key)),
        )
        for key in _SNAPSHOT_FIELDS
        if change.old.get(key) != change.new.get(key)
    ]


@dataclass(frozen=True)
class PlanRow:
    label: str
    kind: str
    from_label: str
    to_label: str


@dataclass(frozen=True)
class PlanView:
    count: int
    rows: list[PlanRow]

    @property
    def more(self) -> int:
        return self.count - len(self.rows)


def _plan_view(draft: services.BranchDraft, *, new_label: str = "") -> PlanView:
    """``regrid_plan`` made readable: branch names instead of ids, the pool named."""
    moves = services.regrid_plan(draft=draft)
    shown = moves[:PLAN_ROWS_SHOWN]
    ids = {m.from_branch_id for m in shown} | {m.to_branch_id for m in shown}
    names = Branch.objects.in_bulk([i for i in ids if i is not None])
    pool = _("head-office pool")

    def name(branch_id: int | None) -> str:
        if branch_id is None:
            return pool
        branch = names.get(branch_id)
        return str(branch) if branch else f"#{branch_id}"

    rows = [
        PlanRow(
            label=m.label,
            kind=str(apps.get_model(m.model)._meta.verbose_name),
            from_label=name(m.from_branch_id),
            to_label=new_label if m.to_new_branch else name(m.to_branch_id),
        )
        for m in shown
    ]
    return PlanView(count=len(moves), rows=rows)


# --- Pages ------------------------------------------------------------------------------------


def _km() -> str:
    return f"{grid_radius_m() / 1000:g}"


def _htmx_partial(request: HttpRequest, template: str, partial: str) -> str:
    return f"{template}#{partial}" if request.htmx else template


@staff_console
@require_GET
def branch_list(request):
    form = forms.BranchSearchForm(request.GET)
    search = form.cleaned_data["q"].strip() if form.is_valid() else ""
    page = Paginator(branch_table(request.user, search=search), LIST_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    response = render(
        request,
        _htmx_partial(request, "branches/list.html", "results"),
        {"form": form, "page": page, "search": search},
    )
    patch_vary_headers(response, ("HX-Request",))
    return response


@staff_console
@require_GET
def branch_detail(request, pk: int):
    branch = get_object_or_404(_branches_in_scope(request.user), pk=pk)
    changes = list(branch.changes.select_related("actor")[:HISTORY_ROWS_SHOWN])
    moves = (
        GridMove.objects.filter(Q(from_branch=branch) | Q(to_branch=branch))
        .select_related("from_branch", "to_branch", "actor", "subject_type")
        .prefetch_related("subject")[:HISTORY_ROWS_SHOWN]
    )
    return render(
        request,
        "branches/detail.html",
        {
            "branch": branch,
            "staff_count": branch.staff.count(),
            "changes": [(change, _diff(change)) for change in changes],
            "moves": moves,
        },
    )


@dataclass(frozen=True)
class WriteAction:
    """What differs between opening, editing, closing and reopening a branch."""

    title: str
    intro: str
    confirm_label: str
    draft: Callable[[dict], services.BranchDraft]
    commit: Callable[[dict], Branch]
    done: Callable[[Branch], str]
    new_label: str = ""


def _preview_then_commit(request, *, form, branch: Branch | None, action: WriteAction):
    """POST without ``confirm``: show the plan. POST with ``confirm``: call the service."""
    plan = None
    if request.method == "POST" and form.is_valid():
        if "confirm" in request.POST:
            try:
                saved = action.commit(form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, action.done(saved))
                url = reverse("branches:detail", args=[saved.pk])
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        else:
            plan = _plan_view(action.draft(form.cleaned_data), new_label=action.new_label)
    return render(
        request,
        _htmx_partial(request, "branches/write.html", "write-panel"),
        {"form": form, "branch": branch, "action": action, "plan": plan},
    )


@head_office_only
@require_http_methods(["GET", "POST"])
def branch_create(request):
    form = forms.BranchOpenForm(request.POST or None)
    code = form.data.get("code", "").strip().upper()
    action = WriteAction(
        title=_("Open a branch"),
        intro=_("Opening a branch takes into its grid the places within %(km)s km that are "
                "nearer to it than to any other branch.") % {"km": _km()},
        confirm_label=_("Open the branch"),
        draft=lambda d: services.BranchDraft(pk=None, lat=d["lat"], lng=d["lng"], is_active=True),
        commit=lambda d: services.branch_open(actor=request.user, **d),
        done=lambda b: _("Branch %(branch)s opened.") % {"branch": b},
        new_label=_("new branch %(code)s") % {"code": code},
    )
    return _preview_then_commit(request, form=form, branch=None, action=action)


@head_office_only
@require_http_methods(["GET", "POST"])
def branch_edit(request, pk: int):
    branch = get_object_or_404(_branches_in_scope(request.user), pk=pk)
    form = forms.BranchEditForm(
        request.POST or None, initial=forms.BranchEditForm.initial_for(branch)
    )
    action = WriteAction(
        title=_("Edit or move %(branch)s") % {"branch": branch},
        intro=_("A new location re-grids the places around the old and the new location."),
        confirm_label=_("Save the changes"),
        draft=lambda d: services.BranchDraft(
            pk=branch.pk, lat=d["lat"], lng=d["lng"], is_active=branch.is_active
        ),
        commit=lambda d: services.branch_update(actor=request.user, branch_id=branch.pk, **d),
        done=lambda b: _("Branch %(branch)s saved.") % {"branch": b},
    )
    return _preview_then_commit(request, form=form, branch=branch, action=action)


def _set_active(request, pk: int, *, active: bool):
    branch = get_object_or_404(_branches_in_scope(request.user), pk=pk)
    form = forms.ReasonForm(request.POST or None)
    if active:
        texts = {
            "title": _("Reopen %(branch)s") % {"branch": branch},
            "intro": _("A reopened branch takes back the places within %(km)s km that are "
                       "nearer to it than to any other open branch.") % {"km": _km()},
            "confirm_label": _("Reopen the branch"),
        }
        done_message = _("Branch %(branch)s reopened.")
    else:
        texts = {
            "title": _("Close %(branch)s") % {"branch": branch},
            "intro": _("A closed branch owns nothing: its places go to the nearest other open "
                       "branch within %(km)s km, or to the head-office pool.") % {"km": _km()},
            "confirm_label": _("Close the branch"),
        }
        done_message = _("Branch %(branch)s closed.")
    action = WriteAction(
        **texts,
        draft=lambda d: services.BranchDraft(
            pk=branch.pk, lat=branch.lat, lng=branch.lng, is_active=active
        ),
        commit=lambda d: services.branch_set_active(
            actor=request.user, branch_id=branch.pk, active=active, reason=d["reason"]
        ),
        done=lambda b: done_message % {"branch": b},
    )
    return _preview_then_commit(request, form=form, branch=branch, action=action)


@head_office_only
@require_http_methods(["GET", "POST"])
def branch_close(request, pk: int):
    return _set_active(request, pk, active=False)


@head_office_only
@require_http_methods(["GET", "POST"])
def branch_reopen(request, pk: int):
    return _set_active(request, pk, active=True)


# --- Grid map -----------------------------------------------------------------------------------


@staff_console
@require_GET
def grid_map(request):
    return render(
        request,
        "branches/map.html",
        {
            "branches": branch_table(request.user),
            "tile_url": settings.ALLIANCE_MAP_TILE_URL,
            "tile_attribution": settings.ALLIANCE_MAP_TILE_ATTRIBUTION,
            "radius_m": grid_radius_m(),
        },
    )


def _map_data_etag(request) -> str:
    """Changes whenever a branch in scope is opened, edited, moved, closed or reopened."""
    seen = _branches_in_scope(request.user).aggregate(n=Count("pk"), last=Max("updated_at"))
    last = seen["last"].timestamp() if seen["last"] else 0
    scope = "all" if roles.is_head_office(request.user) else f"b{request.user.branch_id}"
    return f"{scope}-{seen['n']}-{last}-{grid_radius_m()}-{MAP_HEX_RES}"


@staff_console
@require_GET
@condition(etag_func=_map_data_etag)
def grid_map_data(request) -> HttpResponse:
    """The map's GeoJSON. A few MB for hundreds of branches, so browsers revalidate by ETag."""
    data = grid_geojson(_branches_in_scope(request.user).order_by("code"))
    response = JsonResponse(data, json_dumps_params={"separators": (",", ":")})
    patch_cache_control(response, private=True, no_cache=True)
    return response
