"""Branch console pages for coupons: the template review queue, a template's file with its
decisions, and campaigns with their budgets.

Views parse input, call a selector or a service and render. Every row is looked up through
``coupons.selectors.console``, which scopes it to the user's grid: a row outside it is a 404,
never a 403, so ids cannot be probed. The services re-check grid, role and state; their
refusals come back as form errors (or a 404/403 for the grid and the role).
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms as django_forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import roles
from accounts.access import staff_console
from alliance.errors import ApplicationError, Forbidden, NotFound
from alliance.templatetags.alliance import fen

from .. import console_forms as forms
from .. import services
from ..models import CouponTemplate
from ..selectors import console as selectors
from ..wording import hours_label, obtain_label, value_in_words, weekdays_label

Kind = CouponTemplate.Kind
Status = CouponTemplate.Status
STATUS_LABELS = dict(Status.choices)

QUEUE_PAGE_SIZE = 25
CAMPAIGN_PAGE_SIZE = 50
ENTRY_PAGE_SIZE = 50

TAB_LABELS = {
    "submitted": gettext_lazy("Waiting for review"),
    "live": gettext_lazy("Live"),
    "paused": gettext_lazy("Paused"),
    "ended": gettext_lazy("Ended"),
    "rejected": gettext_lazy("Rejected"),
    "all": gettext_lazy("All"),
}
def _partial(request: HttpRequest, template: str, partial: str) -> str:
    return f"{template}#{partial}" if request.htmx else template


def _raise_for_access(exc: ApplicationError) -> None:
    """The grid and the role are answered as pages (404/403); anything else is the user's to
    fix and is shown on the form."""
    if isinstance(exc, NotFound):
        raise Http404 from exc
    if isinstance(exc, Forbidden):
        raise PermissionDenied(str(exc.message)) from exc


def _form_errors(form: django_forms.Form, exc: ApplicationError, names: dict) -> None:
    """A service's field errors (``extra.fields``) onto the form's fields (``names`` maps the
    service's names to the form's), else on top."""
    placed = False
    for name, errors in (exc.extra.get("fields") or {}).items():
        target = names.get(name, name)
        if target in form.fields:
            for error in errors:
                form.add_error(target, error)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def _done(request: HttpRequest, message: str, url: str) -> HttpResponse:
    messages.success(request, message)
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# --- Words for a template ----------------------------------------------------------------------


@dataclass
class TemplateRow:
    template: CouponTemplate
    value: str
    obtain: str
    weekdays: str
    hours: str


def _row(template: CouponTemplate) -> TemplateRow:
    return TemplateRow(
        template=template,
        value=value_in_words(template),
        obtain=obtain_label(template),
        weekdays=weekdays_label(template.weekdays),
        hours=hours_label(template.time_slots),
    )


# --- Review queue ------------------------------------------------------------------------------


@staff_console
@require_GET
def template_queue(request):
    """Templates in the user's grid by status tab; the submitted ones oldest first."""
    tab = request.GET.get("status") or "submitted"
    if tab not in selectors.QUEUE_TABS:
        tab = "submitted"
    page = Paginator(selectors.template_queue(request.user, tab=tab), QUEUE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    counts = selectors.template_counts(request.user)
    tabs = [(name, TAB_LABELS[name], counts[name]) for name in selectors.QUEUE_TABS]
    response = render(
        request,
        _partial(request, "coupons/console/template_queue.html", "results"),
        {"tab": tab, "tabs": tabs, "page": page, "rows": [_row(t) for t in page]},
    )
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- Template file -----------------------------------------------------------------------------


@dataclass
class Decision:
    action: str
    label: str
    form: django_forms.Form
    primary: bool = False


DECISION_LABELS = {
    "approve": gettext_lazy("Approve"),
    "reject": gettext_lazy("Reject"),
    "pause": gettext_lazy("Pause claims"),
    "end": gettext_lazy("End for good"),
}
# Which decisions each state offers the branch (the services re-check).
DECISIONS_BY_STATUS = {
    Status.SUBMITTED: ("approve", "reject"),
    Status.LIVE: ("pause", "end"),
    Status.APPROVED: ("end",),
    Status.PAUSED: ("end",),
}


def _file_context(request, pk: int, *, bound: dict | None = None) -> dict:
    try:
        record = selectors.template_file(request.user, pk)  # 404 outside the grid
    except NotFound as exc:
        raise Http404 from exc
    bound = bound or {}
    template = record.template
    actions = DECISIONS_BY_STATUS.get(template.status, ())
    if bound and not set(bound) & set(actions):
        # Decided meanwhile: the bound form's errors have no row left to sit on.
        for form in bound.values():
            for error in form.non_field_errors():
                messages.error(request, error)
    decisions = [
        Decision(
            action=action,
            label=str(DECISION_LABELS[action]),
            form=bound.get(action) or forms.DECISION_FORMS[action](prefix=action),
            primary=action == "approve",
        )
        for action in actions
    ]
    return {
        "file": record,
        "template": template,
        "row": _row(template),
        "numbers": record.numbers,
        "decisions": decisions,
        "history": [
            (
                c,
                STATUS_LABELS.get(c.from_status, c.from_status),
                STATUS_LABELS.get(c.to_status, c.to_status),
            )
            for c in record.changes
        ],
    }


@staff_console
@require_GET
def template_detail(request, pk: int):
    return render(request, "coupons/console/template_file.html", _file_context(request, pk))


DECISION_SERVICES = {
    "approve": (services.template_approve, gettext_lazy("%(title)s approved.")),
    "reject": (services.template_reject, gettext_lazy("%(title)s rejected.")),
    "pause": (services.template_pause, gettext_lazy("%(title)s paused.")),
    "end": (services.template_end, gettext_lazy("%(title)s ended.")),
}


def _still_offered(user, pk: int, action: str) -> bool:
    status = selectors.templates_visible_to(user).filter(pk=pk).values_list("status", flat=True)
    return action in DECISIONS_BY_STATUS.get(status.first(), ())


@staff_console
@require_POST
def template_decide(request, pk: int, action: str):
    """Approve (optional comment), reject (reason), pause or end (reason) one template.

    Success redirects to the template's file (htmx: a client redirect); a refusal shows the
    file again with the service's message on the form (htmx: only the decisions region)."""
    if action not in DECISION_SERVICES:
        raise Http404
    try:
        template = selectors.template_get(request.user, pk)
    except NotFound as exc:
        raise Http404 from exc
    service, done = DECISION_SERVICES[action]
    url = reverse("coupons:console_template_detail", args=[pk])
    form = forms.DECISION_FORMS[action](request.POST, prefix=action)
    if form.is_valid():
        try:
            service(actor=request.user, template_id=pk, reason=form.cleaned_data["reason"])
        except ApplicationError as exc:
            _raise_for_access(exc)
            if request.htmx and not _still_offered(request.user, pk, action):
                # Decided meanwhile: the form is gone from the page; reload it with the news.
                messages.error(request, exc.message)
                return HttpResponseClientRedirect(url)
            form.add_error(None, exc.message)
        else:
            return _done(request, done % {"title": template.title}, url)
    return render(
        request,
        _partial(request, "coupons/console/template_file.html", "decisions"),
        _file_context(request, pk, bound={action: form}),
    )


# --- Campaigns ---------------------------------------------------------------------------------


def _campaign_list_page(request, *, create_form=None) -> HttpResponse:
    head_office = roles.is_head_office(request.user)
    page = Paginator(selectors.campaign_list(request.user), CAMPAIGN_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        _partial(request, "coupons/console/campaign_list.html", "create-form")
        if create_form is not None
        else "coupons/console/campaign_list.html",
        {
            "page": page,
            "create_form": create_form or forms.CampaignCreateForm(head_office=head_office),
            "head_office": head_office,
        },
    )


@staff_console
@require_GET
def campaign_list(request):
    return _campaign_list_page(request)


@staff_console
@require_POST
def campaign_create(request):
    """Head office opens a campaign for any branch or for head office; branch staff for their
    own branch. The budget is typed in yuan."""
    head_office = roles.is_head_office(request.user)
    form = forms.CampaignCreateForm(request.POST, head_office=head_office)
    if form.is_valid():
        data = form.cleaned_data
        branch = data.get("branch")
        try:
            campaign = services.campaign_create(
                actor=request.user,
                name=data["name"],
                budget_fen=data["budget"],
                branch_id=branch.pk if branch else None,
            )
        except ApplicationError as exc:
            _raise_for_access(exc)
            _form_errors(form, exc, {"budget_fen": "budget"})
        else:
            url = reverse("coupons:console_campaign_detail", args=[campaign.pk])
            return _done(request, _("Campaign %(name)s opened.") % {"name": campaign.name}, url)
    return _campaign_list_page(request, create_form=form)


def _campaign_or_404(request, pk: int):
    try:
        return selectors.campaign_get(request.user, pk)
    except NotFound as exc:
        raise Http404 from exc


def _campaign_context(request, pk: int, *, budget_form=None, close_errors=()) -> dict:
    campaign = _campaign_or_404(request, pk)
    entries = Paginator(selectors.campaign_entries(campaign.pk), ENTRY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return {
        "campaign": campaign,
        "entries": entries,
        "templates": selectors.campaign_templates(request.user, campaign.pk),
        "may_manage": selectors.campaign_manageable(request.user, campaign),
        "budget_form": budget_form
        or forms.CampaignBudgetForm(initial={"budget": fen(campaign.budget_fen)[1:]}),
        "close_errors": list(close_errors),
    }


@staff_console
@require_GET
def campaign_detail(request, pk: int):
    response = render(
        request,
        _partial(request, "coupons/console/campaign_file.html", "entries"),
        _campaign_context(request, pk),
    )
    patch_vary_headers(response, ("HX-Request",))
    return response


@staff_console
@require_POST
def campaign_budget(request, pk: int):
    """Raise or lower the budget; never below what is reserved and spent (the service's
    ``budget_below_committed`` is shown on the form)."""
    _campaign_or_404(request, pk)
    form = forms.CampaignBudgetForm(request.POST)
    if form.is_valid():
        try:
            campaign = services.campaign_set_budget(
                actor=request.user, campaign_id=pk, budget_fen=form.cleaned_data["budget"]
            )
        except ApplicationError as exc:
            _raise_for_access(exc)
            _form_errors(form, exc, {"budget_fen": "budget"})
        else:
            url = reverse("coupons:console_campaign_detail", args=[pk])
            message = _("Budget of %(name)s set to %(budget)s.") % {
                "name": campaign.name,
                "budget": fen(campaign.budget_fen),
            }
            return _done(request, message, url)
    return render(
        request,
        _partial(request, "coupons/console/campaign_file.html", "budget-form"),
        _campaign_context(request, pk, budget_form=form),
    )


@staff_console
@require_POST
def campaign_close(request, pk: int):
    """Close the campaign: no new claims are funded; coupons held keep their reservation."""
    _campaign_or_404(request, pk)
    try:
        campaign = services.campaign_close(actor=request.user, campaign_id=pk)
    except ApplicationError as exc:
        _raise_for_access(exc)
        return render(
            request,
            "coupons/console/campaign_file.html",
            _campaign_context(request, pk, close_errors=[exc.message]),
        )
    url = reverse("coupons:console_campaign_detail", args=[pk])
    return _done(request, _("Campaign %(name)s closed.") % {"name": campaign.name}, url)
