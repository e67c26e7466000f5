"""The merchant list, the merchant's file (信息建档) and the stores layer of the grid map."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms as django_forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect
from h3.api import basic_int as h3

from accounts import roles
from accounts.access import staff_console
from alliance.errors import ApplicationError, NotFound
from branches import geo

from ... import console_forms as forms
from ... import selectors, services
from ...models import Merchant, ProfileChange
from ._common import LIST_PAGE_SIZE, MAP_STORES_MAX, _form_errors, _htmx_partial, _raise_for_access


@staff_console
@require_GET
def merchant_list(request):
    form = forms.MerchantSearchForm(request.GET)
    search, status = "", ""
    if form.is_valid():
        search = form.cleaned_data["q"].strip()
        status = form.cleaned_data["status"]
    qs = selectors.merchants_visible_to(request.user)
    if search:
        qs = qs.filter(Q(business_name__icontains=search) | Q(code__icontains=search.upper()))
    if status:
        qs = qs.filter(status=status)
    qs = qs.annotate(store_count=Count("stores", distinct=True)).order_by("code")
    page = Paginator(qs, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    response = render(
        request,
        _htmx_partial(request, "merchants/console/merchant_list.html", "results"),
        {
            "form": form,
            "page": page,
            "search": search,
            "status": status,
            "query": query.urlencode(),
        },
    )
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- Merchant file (信息建档) --------------------------------------------------------------------


@dataclass
class ChangeRow:
    """A pending profile change request: the masked before/after the service stored (never the
    encrypted proposal) and the form to reject it."""

    change: ProfileChange
    fields: list[tuple[str, str, str]]
    reject_form: django_forms.Form


def _change_rows(
    record: selectors.MerchantFile, bound: django_forms.Form | None
) -> tuple[list, list]:
    """The requests still waiting for a decision, and the errors of a bound form that has no
    place in a row (an approval, or a request decided meanwhile), to show above the list."""
    pending = selectors.profile_changes_pending(record.merchant.pk)
    rows = []
    for change in pending:
        prefix = f"c{change.pk}"  # a bound form is matched to its request by its prefix
        form = bound if bound is not None and bound.prefix == prefix else None
        rows.append(
            ChangeRow(
                change=change,
                fields=[
                    (
                        capfirst(Merchant._meta.get_field(name).verbose_name),
                        change.old.get(name, ""),
                        change.new.get(name, ""),
                    )
                    for name in change.fields
                ],
                reject_form=(
                    form
                    if isinstance(form, forms.ChangeRejectForm)
                    else forms.ChangeRejectForm(prefix=prefix)
                ),
            )
        )
    errors = []
    if bound is not None and not any(row.reject_form is bound for row in rows):
        errors = list(bound.non_field_errors())
    return rows, errors


def _file_context(request, pk: int, **bound) -> dict:
    record = selectors.merchant_file(request.user, pk)  # 404 outside the grid
    user = request.user
    merchant = record.merchant
    change_rows, change_errors = _change_rows(record, bound.get("change_form"))
    return {
        "file": record,
        "merchant": merchant,
        "may_record_visit": roles.is_branch_staff(user),
        "may_change_status": _may_change_status(user),
        "may_move": roles.is_head_office(user),
        # Any bank staff who can open the file is a reviewer of its grid (the service re-checks).
        "may_decide_changes": roles.is_bank_staff(user),
        "change_rows": change_rows,
        "change_errors": change_errors,
        "visit_form": bound.get("visit_form") or forms.VisitForm(),
        "status_form": bound.get("status_form") or forms.MerchantReasonForm(),
        "close_form": bound.get("close_form") or forms.MerchantCloseForm(),
        "move_form": bound.get("move_form") or forms.StoreMoveForm(merchant=merchant),
        "before_label": capfirst(ProfileChange._meta.get_field("old").verbose_name),
        "after_label": capfirst(ProfileChange._meta.get_field("new").verbose_name),
    }


def _may_change_status(user) -> bool:
    return roles.is_head_office(user) or roles.is_branch_manager(user)


@staff_console
@require_GET
def merchant_detail(request, pk: int):
    try:
        context = _file_context(request, pk)
    except NotFound as exc:
        raise Http404 from exc
    return render(request, "merchants/console/merchant_file.html", context)


def _after_write(request, pk: int, message: str, anchor: str) -> HttpResponse:
    messages.success(request, message)
    url = reverse("merchants:console_merchant_detail", args=[pk]) + anchor
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _form_again(request, pk: int, partial: str, **bound) -> HttpResponse:
    try:
        context = _file_context(request, pk, **bound)
    except NotFound as exc:
        raise Http404 from exc
    return render(
        request, _htmx_partial(request, "merchants/console/merchant_file.html", partial), context
    )


def _merchant_or_404(request, pk: int):
    try:
        return selectors.merchant_get(request.user, pk)
    except NotFound as exc:
        raise Http404 from exc


@staff_console
@require_POST
def visit_create(request, pk: int):
    _merchant_or_404(request, pk)
    form = forms.VisitForm(request.POST)
    if form.is_valid():
        try:
            services.visit_record(actor=request.user, merchant_id=pk, **form.cleaned_data)
        except ApplicationError as exc:
            _raise_for_access(exc)
            _form_errors(form, exc)
        else:
            return _after_write(request, pk, _("Visit recorded."), "#visits")
    return _form_again(request, pk, "visit-form", visit_form=form)


def _merchant_write(
    request,
    pk: int,
    form: django_forms.Form,
    call,
    *,
    done: str,
    anchor: str,
    partial: str,
    form_key: str,
) -> HttpResponse:
    """The shared shape of a write on the merchant file: a valid form calls the service
    (``call(cleaned_data)``); success redirects to the file at ``anchor`` (htmx: a client
    redirect), anything else re-renders the form (htmx: only its partial). The grid and the role
    are answered as 404/403, the rest as form errors."""
    if form.is_valid():
        try:
            call(form.cleaned_data)
        except ApplicationError as exc:
            _raise_for_access(exc)
            form.add_error(None, exc.message)
        else:
            return _after_write(request, pk, done, anchor)
    return _form_again(request, pk, partial, **{form_key: form})


@staff_console
@require_POST
def merchant_status(request, pk: int, action: str):
    """Suspend or reinstate (branch manager of the grid, or head office), with a reason."""
    service = {"suspend": services.merchant_suspend, "reinstate": services.merchant_reinstate}.get(
        action
    )
    if service is None:
        raise Http404
    merchant = _merchant_or_404(request, pk)
    done = _("%(merchant)s suspended.") if action == "suspend" else _("%(merchant)s reinstated.")
    return _merchant_write(
        request,
        pk,
        forms.MerchantReasonForm(request.POST),
        lambda data: service(actor=request.user, merchant_id=pk, reason=data["reason"]),
        done=done % {"merchant": merchant},
        anchor="#status",
        partial="status-form",
        form_key="status_form",
    )


@staff_console
@require_POST
def merchant_close(request, pk: int):
    """Close the merchant for good (branch manager of the grid, or head office): a reason and a
    ticked confirmation. The role is checked before the form so an officer always gets 403."""
    merchant = _merchant_or_404(request, pk)
    if not _may_change_status(request.user):
        raise PermissionDenied
    return _merchant_write(
        request,
        pk,
        forms.MerchantCloseForm(request.POST),
        lambda data: services.merchant_close(
            actor=request.user, merchant_id=pk, reason=data["reason"]
        ),
        done=_("%(merchant)s closed.") % {"merchant": merchant},
        anchor="#status",
        partial="close-form",
        form_key="close_form",
    )


@staff_console
@require_POST
def profile_change_decide(request, pk: int, change_pk: int, action: str):
    """Approve or reject (with a reason) an owner's pending legal/settlement change request.
    The service decides who may (a reviewer of the grid, or head office)."""
    if action not in {"approve", "reject"}:
        raise Http404
    _merchant_or_404(request, pk)
    # The request must belong to this merchant; one decided meanwhile is a form error.
    if not ProfileChange.objects.filter(
        pk=change_pk, merchant_id=pk, status=ProfileChange.Status.PENDING
    ).exists():
        raise Http404
    approve = action == "approve"
    form = (
        django_forms.Form(request.POST, prefix=f"c{change_pk}")
        if approve
        else forms.ChangeRejectForm(request.POST, prefix=f"c{change_pk}")
    )
    status = ProfileChange.Status.APPROVED if approve else ProfileChange.Status.REJECTED
    return _merchant_write(
        request,
        pk,
        form,
        lambda data: services.profile_change_decide(
            actor=request.user,
            change_id=change_pk,
            approve=approve,
            reason=data.get("reason", ""),
        ),
        done=str(status.label),
        anchor="#changes",
        partial="change-requests",
        form_key="change_form",
    )


@staff_console
@require_POST
def store_move(request, pk: int):
    """Head office moves one of the merchant's stores to another branch's grid, recorded."""
    merchant = _merchant_or_404(request, pk)
    if not roles.is_head_office(request.user):
        raise PermissionDenied
    form = forms.StoreMoveForm(request.POST, merchant=merchant)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.merchant_move_branch(
                actor=request.user,
                store_id=data["store"].pk,
                to_branch_id=data["to_branch"].pk if data["to_branch"] else None,
                reason=data["reason"],
            )
        except ApplicationError as exc:
            _raise_for_access(exc)
            form.add_error(None, exc.message)
        else:
            return _after_write(request, pk, _("Store moved."), "#moves")
    return _form_again(request, pk, "move-form", move_form=form)


@staff_console
@require_GET
def store_map_data(request) -> HttpResponse:
    """The merchant stores in the user's grid as GeoJSON points (coloured by the merchant's
    state on the map) and the store count per map hexagon. Markers are capped; the counts are
    not."""
    rows = (
        selectors.stores_visible_to(request.user)
        .order_by("pk")
        .values_list(
            "pk",
            "lat",
            "lng",
            "h3_cell",
            "name",
            "merchant_id",
            "merchant__business_name",
            "merchant__code",
            "merchant__status",
            "branch__code",
        )
    )
    counts: dict[int, int] = {}
    features = []
    total = 0
    for pk, lat, lng, cell, name, merchant_id, business, code, status, branch in rows.iterator(
        chunk_size=2000
    ):
        total += 1
        hexagon = h3.cell_to_parent(cell, geo.MAP_HEX_RES)
        counts[hexagon] = counts.get(hexagon, 0) + 1
        if len(features) < MAP_STORES_MAX:
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [round(lng, 6), round(lat, 6)]},
                    "properties": {
                        "kind": "store",
                        "id": pk,
                        "name": name,
                        "merchant": business,
                        "code": code,
                        "status": status,
                        "branch": branch or "",
                        "url": reverse("merchants:console_merchant_detail", args=[merchant_id]),
                    },
                }
            )
    features.extend(
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [geo.cell_ring_lnglat(cell)]},
            "properties": {"kind": "store-cell", "cell": h3.int_to_str(cell), "stores": n},
        }
        for cell, n in sorted(counts.items())
    )
    data = {
        "type": "FeatureCollection",
        "stores": total,
        "truncated": total > MAP_STORES_MAX,
        "max_per_cell": max(counts.values(), default=0),
        "features": features,
    }
    response = JsonResponse(
        data, json_dumps_params={"separators": (",", ":"), "ensure_ascii": False}
    )
    patch_cache_control(response, private=True, no_cache=True)
    return response
