"""The review queue: applications waiting for the branch, decided in place."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.access import staff_console
from alliance.errors import ApplicationError, NotFound
from branches import geo
from branches.selectors import grid_radius_m

from ... import console_forms as forms
from ... import selectors, services
from ...credit_code import credit_code_problem, normalize_credit_code
from ...models import ApplicationDocument, MerchantApplication
from ._common import (
    CREDIT_CODE_PROBLEMS,
    QUEUE_PAGE_SIZE,
    _raise_for_access,
)


@dataclass
class Pin:
    """Where the store lies against its branch: distance, and a position in a small SVG of the
    branch's circle (a drawing without JavaScript, tiles or a CDN)."""

    lat: float
    lng: float
    distance_m: float | None = None
    x: float = 50.0
    y: float = 50.0


def _pin(application: MerchantApplication) -> Pin | None:
    if application.lat is None:
        return None
    pin = Pin(lat=application.lat, lng=application.lng)
    branch = application.branch
    if branch is not None:
        pin.distance_m = geo.distance_m(branch.lat, branch.lng, application.lat, application.lng)
        # Local flat projection around the branch; the SVG circle (r=40) is the grid's radius.
        scale = 40 / grid_radius_m()
        east = (
            math.radians(application.lng - branch.lng)
            * geo.EARTH_RADIUS_M
            * math.cos(math.radians(branch.lat))
        )
        north = math.radians(application.lat - branch.lat) * geo.EARTH_RADIUS_M
        pin.x = max(2.0, min(98.0, 50 + east * scale))
        pin.y = max(2.0, min(98.0, 50 - north * scale))
    return pin


@dataclass
class QueueRow:
    application: MerchantApplication
    pin: Pin | None
    credit_code_ok: bool
    credit_code_problem: str
    lookalikes: selectors.Lookalikes
    forms: dict = field(default_factory=dict)
    active: str = ""  # the action whose form holds errors
    decided: object = None  # what the decision made (merchant or application)


def _queue_row(
    user,
    application: MerchantApplication,
    *,
    bound=None,
    fee_plans: list | None = None,
    lookalikes: selectors.Lookalikes | None = None,
) -> QueueRow:
    """One row of the queue. A page passes what it read once for all its rows (the fee plan
    choices, the look-alikes); a single row reads its own."""
    problem = credit_code_problem(normalize_credit_code(application.credit_code))
    row_forms = {
        name: form_class(prefix=f"a{application.pk}")
        for name, form_class in forms.DECISION_FORMS.items()
    }
    active = ""
    if bound is not None:
        active, form = bound
        row_forms[active] = form
    if fee_plans is not None:
        # Rendered from the list read once per page, not one query per row's select.
        row_forms["approve"].fields["fee_plan"].choices = fee_plans
    return QueueRow(
        application=application,
        pin=_pin(application),
        credit_code_ok=problem is None,
        credit_code_problem=CREDIT_CODE_PROBLEMS.get(problem, problem or ""),
        lookalikes=lookalikes or selectors.application_lookalikes(user, application.pk),
        forms=row_forms,
        active=active,
    )


def _queue_page(request, *, bound_row: QueueRow | None = None):
    page = Paginator(selectors.review_queue(request.user), QUEUE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    applications = list(page)
    field = forms.ApproveForm.base_fields["fee_plan"]
    fee_plans = [(plan.pk, field.label_from_instance(plan)) for plan in field.queryset.all()]
    lookalikes = selectors.lookalikes_for(applications)
    rows = [
        bound_row
        if bound_row and bound_row.application.pk == a.pk
        else _queue_row(request.user, a, fee_plans=fee_plans, lookalikes=lookalikes[a.pk])
        for a in applications
    ]
    return render(
        request,
        "merchants/console/review_queue.html",
        {"page": page, "rows": rows, "radius_m": grid_radius_m()},
    )


@staff_console
@require_GET
def review_queue(request):
    return _queue_page(request)


@staff_console
@require_POST
def application_decide(request, pk: int, action: str):
    """Approve (with a fee plan), reject (reason) or return (comments) one application.

    htmx swaps the row in place (the decided row, or the row with the form's errors); without
    JavaScript the queue page is shown again (after a redirect on success)."""
    if action not in forms.DECISION_FORMS:
        raise Http404
    # Any application the user may read; a decided one answers with a form error.
    application = selectors.applications_visible_to(request.user).filter(pk=pk).first()
    if application is None:
        raise Http404
    form = forms.DECISION_FORMS[action](request.POST, prefix=f"a{pk}")
    decided = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            if action == "approve":
                decided = services.application_approve(
                    actor=request.user,
                    application_id=pk,
                    fee_plan_id=data["fee_plan"].pk,
                    reason=data["reason"],
                )
                done = _("Approved: merchant %(code)s joins the alliance.") % {"code": decided.code}
            elif action == "reject":
                decided = services.application_reject(
                    actor=request.user, application_id=pk, reason=data["reason"]
                )
                done = _("Application %(name)s rejected.") % {"name": decided}
            else:
                decided = services.application_return(
                    actor=request.user, application_id=pk, comments=data["comments"]
                )
                done = _("Application %(name)s returned for changes.") % {"name": decided}
        except ApplicationError as exc:
            _raise_for_access(exc)
            form.add_error(None, exc.message)
        else:
            if request.htmx:
                application.refresh_from_db()
                return render(
                    request,
                    "merchants/console/review_queue.html#application-row",
                    {
                        "row": QueueRow(
                            application=application,
                            pin=None,
                            credit_code_ok=True,
                            credit_code_problem="",
                            lookalikes=selectors.Lookalikes([], []),
                            decided=decided,
                        ),
                        "done": done,
                    },
                )
            messages.success(request, done)
            return redirect("merchants:console_review_queue")
    row = _queue_row(request.user, application, bound=(action, form))
    if not request.htmx and application.status != MerchantApplication.Status.SUBMITTED:
        # Decided meanwhile: its row is no longer on the queue page to carry the error.
        for error in form.non_field_errors():
            messages.error(request, error)
    if request.htmx:
        return render(
            request,
            "merchants/console/review_queue.html#application-row",
            {"row": row, "radius_m": grid_radius_m()},
        )
    return _queue_page(request, bound_row=row)


@staff_console
@require_GET
def application_document(request, pk: int):
    """A licence or storefront photo, streamed to staff who may see its application. Uploads are
    not published under MEDIA_URL: a licence is personal data."""
    document = ApplicationDocument.objects.filter(pk=pk).first()
    if document is None:
        raise Http404
    try:
        selectors.application_get(request.user, document.application_id)
    except NotFound as exc:
        raise Http404 from exc
    response = FileResponse(document.image.open("rb"), content_type=document.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    patch_cache_control(response, private=True, max_age=300)
    return response


# --- Merchant list ------------------------------------------------------------------------------
