"""The applicant's pages (商户入驻): start, the draft form with its photos, submit, status.

Applicants sign in as customers with an SMS code; an approved applicant (now a merchant owner)
still reads their applications here. Each page reads through ``merchants.selectors`` and writes
through ``merchants.services``; another person's application is a 404.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from accounts import roles
from accounts.access import role_required
from alliance.errors import ApplicationError, Forbidden, NotFound

from .. import selectors, services
from ..errors import ApplicationExists
from ..forms import ApplicationForm, DocumentForm, add_service_error
from ..models import ApplicationDocument, MerchantApplication

applicant_pages = role_required(roles.is_customer, roles.is_merchant, login_url="accounts:login")

MISSING_LABELS = {
    "location": gettext_lazy("Location on the map"),
    "documents.licence": ApplicationDocument.Kind.LICENCE.label,
    "documents.storefront": ApplicationDocument.Kind.STOREFRONT.label,
}


EDITABLE = (MerchantApplication.Status.DRAFT, MerchantApplication.Status.RETURNED)
STATUS_LABELS = dict(MerchantApplication.Status.choices)


def _own_application(request, pk: int) -> MerchantApplication:
    """The signed-in applicant's own application; anybody else's (even one a reviewer may
    read) is a 404 on these pages."""
    application = (
        selectors.applications_visible_to(request.user)
        .filter(pk=pk, applicant=request.user)
        .first()
    )
    if application is None:
        raise Http404
    return application


def _redirect(request, url: str):
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _missing(application: MerchantApplication) -> list[str]:
    labels = []
    for name in services.missing_fields(application):
        if name in MISSING_LABELS:
            labels.append(str(MISSING_LABELS[name]))
        else:
            labels.append(str(MerchantApplication._meta.get_field(name).verbose_name))
    return labels


@never_cache
@applicant_pages
@require_http_methods(["GET", "POST"])
def apply_start(request):
    """Start an application, or continue the open one."""
    applications = list(
        selectors.applications_visible_to(request.user).filter(applicant=request.user)
    )
    open_ = next((a for a in applications if a.status in MerchantApplication.OPEN), None)
    error, status = None, 200
    if request.method == "POST":
        try:
            application = services.application_create(applicant=request.user)
        except ApplicationExists as exc:
            pk = exc.extra.get("application_id") or (open_.pk if open_ else None)
            if pk:
                return _redirect(request, reverse("merchants:apply_edit", args=[pk]))
            error, status = exc.message, exc.status
        except ApplicationError as exc:
            error, status = exc.message, exc.status
        else:
            return _redirect(request, reverse("merchants:apply_edit", args=[application.pk]))
    context = {"applications": applications, "open": open_, "error": error}
    return render(request, "merchants/apply/start.html", context, status=status)


def _saved_form(application: MerchantApplication) -> ApplicationForm:
    """The form bound to what is saved, so a refusal can be shown on it."""
    data = {
        name: "" if getattr(application, name) is None else getattr(application, name)
        for name in ApplicationForm.base_fields
        if name != "settlement_account_number"
    }
    form = ApplicationForm(data, application=application)
    form.is_valid()
    return form


def _edit_context(application, form, document_form, **extra) -> dict:
    return {
        "application": application,
        "form": form,
        "document_form": document_form,
        "documents": list(application.documents.all()),
        "missing": _missing(application),
        "editable": application.status in EDITABLE,
        "tile_url": settings.ALLIANCE_MAP_TILE_URL,
        "tile_attribution": settings.ALLIANCE_MAP_TILE_ATTRIBUTION,
        **extra,
    }


@never_cache
@applicant_pages
@require_http_methods(["GET", "POST"])
def apply_edit(request, pk: int):
    """The draft form: save what is typed (incomplete is fine), resume later."""
    application = _own_application(request, pk)
    if request.method == "POST":
        form = ApplicationForm(request.POST, application=application)
        if form.is_valid():
            try:
                application = services.application_update(
                    actor=request.user, application_id=application.pk, data=form.to_fields()
                )
            except ApplicationError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, _("Draft saved."))
                return _redirect(request, reverse("merchants:apply_edit", args=[application.pk]))
        if request.htmx:
            context = _edit_context(application, form, DocumentForm())
            return render(request, "merchants/apply/edit.html#application-form", context)
    else:
        form = ApplicationForm(application=application)
    return render(
        request, "merchants/apply/edit.html", _edit_context(application, form, DocumentForm())
    )


@applicant_pages
@require_POST
def apply_document_add(request, pk: int):
    """Upload a licence or storefront photo. With htmx only the photo section is swapped, so
    what is typed in the form above (not yet saved) stays on the page."""
    application = _own_application(request, pk)
    document_form = DocumentForm(request.POST, request.FILES)
    added = None
    if document_form.is_valid():
        try:
            added = services.application_document_add(
                actor=request.user,
                application_id=application.pk,
                kind=document_form.cleaned_data["kind"],
                upload=document_form.cleaned_data["image"],
            )
        except ApplicationError as exc:
            add_service_error(document_form, exc, field="image")
    if added is not None:
        if not request.htmx:
            messages.success(request, _("Photo uploaded."))
            return redirect("merchants:apply_edit", pk=application.pk)
        document_form = DocumentForm()
    context = _edit_context(application, ApplicationForm(application=application), document_form)
    if request.htmx:
        response = render(request, "merchants/apply/edit.html#documents", context)
        if added is not None:
            trigger_client_event(response, "toast", {"message": _("Photo uploaded.")})
        return response
    return render(request, "merchants/apply/edit.html", context, status=400)


@applicant_pages
@require_POST
def apply_document_remove(request, pk: int, document_id: int):
    application = _own_application(request, pk)
    if not application.documents.filter(pk=document_id).exists():
        raise Http404
    try:
        services.application_document_remove(actor=request.user, document_id=document_id)
    except NotFound as exc:
        raise Http404 from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Photo removed."))
    return _redirect(request, reverse("merchants:apply_edit", args=[application.pk]))


@applicant_pages
@require_POST
def apply_submit(request, pk: int):
    """Send the application to the branch. Refusals (missing items, credit code) are shown on
    the form page."""
    application = _own_application(request, pk)
    try:
        services.application_submit(actor=request.user, application_id=application.pk)
    except (NotFound, Forbidden) as exc:
        raise Http404 from exc
    except ApplicationError as exc:
        form = _saved_form(application)
        add_service_error(form, exc)
        if exc.code == "application_incomplete":
            form.add_error(
                None, _("Still missing: %(items)s.") % {"items": ", ".join(_missing(application))}
            )
        context = _edit_context(application, form, DocumentForm())
        if request.htmx:
            return render(request, "merchants/apply/edit.html#application-form", context)
        return render(request, "merchants/apply/edit.html", context, status=400)
    messages.success(request, _("Application submitted. Your branch will review it."))
    return _redirect(request, reverse("merchants:apply_status", args=[application.pk]))


@never_cache
@applicant_pages
@require_http_methods(["GET"])
def apply_status(request, pk: int):
    """Where the application stands and why, with its history."""
    application = _own_application(request, pk)
    context = {
        "application": application,
        "history": [
            (change, STATUS_LABELS.get(change.to_status, change.to_status))
            for change in selectors.application_history(request.user, application.pk)
        ],
        "editable": application.status in EDITABLE,
    }
    if request.htmx:
        return render(request, "merchants/apply/status.html#status", context)
    return render(request, "merchants/apply/status.html", context)
