"""Points pages: the customer's points (balance, expiring, tier, history) and the head-office
adjustment console.

Views parse input, call a selector or a service and render. The history pages through
``?page=N``: a normal link without JavaScript, and with htmx the "more" link swaps itself for
the next rows (the ``history-page`` partial of ``points/home.html``, which the console uses too).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts import roles
from accounts.access import head_office_only, role_required, staff_console
from alliance.errors import ApplicationError

from . import forms, selectors, services
from .errors import IdempotencyKeyReused
from .models import JournalEntry

HISTORY_PAGE_SIZE = 20
HISTORY_PARTIAL = "points/home.html#history-page"


def adjust_once(*, actor, customer_id: int, points: int, reason: str, client_key: str):
    """Call ``points_adjust`` with the client's key (scoped to the actor) and return
    ``(adjustment, created)``. A key already used for a *different* adjustment is refused
    ``idempotency_key_reused`` rather than silently answered with the other entry."""
    key = f"adjust:{actor.pk}:{client_key}"
    existed = JournalEntry.objects.filter(idempotency_key=key).exists()
    entry = services.points_adjust(
        actor=actor, customer_id=customer_id, points=points, reason=reason, idempotency_key=key
    )
    adjustment = selectors.adjustment_get(entry_id=entry.pk)
    if existed and (
        adjustment.customer_id != customer_id
        or adjustment.points != points
        or entry.reason != reason.strip()
    ):
        raise IdempotencyKeyReused(extra={"idempotency_key": client_key})
    return adjustment, not existed


def _history_page(request: HttpRequest, customer_id: int):
    history = selectors.customer_history(customer_id=customer_id)
    page = Paginator(history, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return page, selectors.history_rows(page.object_list)


def _history_context(page, rows, query: str) -> dict:
    """``query``: the query string the paging links keep ("" or "customer=5&")."""
    return {
        "page": page,
        "rows": rows,
        "page_query": query,
        "points_tz": settings.ALLIANCE_POINTS_TIME_ZONE,
    }


@role_required(roles.is_customer, login_url="accounts:login")
@require_GET
def points_home(request):
    page, rows = _history_page(request, request.user.pk)
    context = _history_context(page, rows, "")
    if request.htmx and "page" in request.GET:
        response = render(request, HISTORY_PARTIAL, context)
    else:
        context["summary"] = selectors.points_summary(customer_id=request.user.pk)
        response = render(request, "points/home.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@head_office_only
@require_http_methods(["GET", "POST"])
def console_adjust(request):
    search = forms.CustomerSearchForm(request.GET if "phone" in request.GET else None)
    customer, form = None, None
    try:
        if request.method == "POST":
            form = forms.AdjustmentForm(request.POST)
            if form.is_valid():
                customer = selectors.customer_find(customer_id=form.cleaned_data["customer"])
                adjustment, created = adjust_once(
                    actor=request.user,
                    customer_id=customer.pk,
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    client_key=form.cleaned_data["idempotency_key"],
                )
                messages.success(
                    request,
                    (
                        _("Adjustment recorded: %(points)+d points for %(customer)s.")
                        if created
                        else _(
                            "This adjustment was already recorded (%(points)+d points for "
                            "%(customer)s); it was not posted again."
                        )
                    )
                    % {"points": adjustment.points, "customer": customer.masked_phone},
                )
                url = f"{reverse('points:console_adjust')}?customer={customer.pk}"
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
            if form.cleaned_data.get("customer"):
                customer = selectors.customer_find(customer_id=form.cleaned_data["customer"])
        elif search.is_bound:
            if search.is_valid():
                customer = selectors.customer_find(phone=search.cleaned_data["phone"])
        elif request.GET.get("customer", "").isdigit():
            customer = selectors.customer_find(customer_id=int(request.GET["customer"]))
    except ApplicationError as exc:
        (form if form is not None and form.is_bound else search).add_error(None, exc.message)

    context = {"search": search, "customer": customer}
    if customer is not None:
        page, rows = _history_page(request, customer.pk)
        context.update(_history_context(page, rows, f"customer={customer.pk}&"))
        if request.htmx and "page" in request.GET:
            return render(request, HISTORY_PARTIAL, context)
        context["summary"] = selectors.points_summary(customer_id=customer.pk)
        context["form"] = (
            form if form is not None else forms.AdjustmentForm.for_customer(customer.pk)
        )
    elif form is not None:
        context["form_errors"] = form.errors
    template = "points/console_adjust.html"
    if request.htmx and not request.htmx.boosted:
        template += "#customer-panel"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@staff_console
@require_GET
def console_customer(request):
    """Bank staff look a customer up by mobile number: head office sees everything; branch
    staff only a customer who dealt with their grid's merchants, and only those dealings."""
    search = forms.CustomerSearchForm(request.GET if "phone" in request.GET else None)
    customer = None
    try:
        if search.is_bound and search.is_valid():
            customer = selectors.customer_for_staff(
                request.user, phone=search.cleaned_data["phone"]
            )
        elif request.GET.get("customer", "").isdigit():
            customer = selectors.customer_for_staff(
                request.user, customer_id=int(request.GET["customer"])
            )
    except ApplicationError as exc:
        error = exc.message
    else:
        error = ""
    context = {"search": search, "customer": customer, "error": error}
    if customer is not None:
        history = selectors.customer_history_for_staff(request.user, customer_id=customer.pk)
        page = Paginator(history, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
        rows = selectors.history_rows(page.object_list)
        context.update(_history_context(page, rows, f"customer={customer.pk}&"))
        if request.htmx and "page" in request.GET:
            return render(request, HISTORY_PARTIAL, context)
        context["coupons"] = selectors.customer_coupons_for_staff(
            request.user, customer_id=customer.pk
        )
        if roles.is_head_office(request.user):
            context["summary"] = selectors.points_summary(customer_id=customer.pk)
    response = render(request, "points/console_customer.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response
