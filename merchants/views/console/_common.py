"""Helpers shared by the console's merchant pages."""

from __future__ import annotations

from django import forms as django_forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.translation import gettext_lazy

from alliance.errors import ApplicationError, Forbidden, NotFound

QUEUE_PAGE_SIZE = 20
LIST_PAGE_SIZE = 50
MAP_STORES_MAX = 5000


def _htmx_partial(request: HttpRequest, template: str, partial: str) -> str:
    return f"{template}#{partial}" if request.htmx else template


def _raise_for_access(exc: ApplicationError) -> None:
    """The grid and the role are answered as pages (404/403); anything else is the user's to
    fix and is shown on the form."""
    if isinstance(exc, NotFound):
        raise Http404 from exc
    if isinstance(exc, Forbidden):
        raise PermissionDenied(str(exc.message)) from exc


# --- Review queue -------------------------------------------------------------------------------


CREDIT_CODE_PROBLEMS = {
    "length": gettext_lazy("must be 18 characters"),
    "alphabet": gettext_lazy("contains a character that is not allowed"),
    "authority": gettext_lazy("unknown registration authority"),
    "type": gettext_lazy("unknown entity type"),
    "division": gettext_lazy("invalid administrative division"),
    "check": gettext_lazy("check character does not match"),
}


def _form_errors(form: django_forms.Form, exc: ApplicationError) -> None:
    """A service's field errors (``extra.fields``) onto the form's fields, else on top."""
    fields = exc.extra.get("fields") or {}
    placed = False
    for name, errors in fields.items():
        if name in form.fields:
            for error in errors:
                form.add_error(name, error)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


# --- Grid map: stores ---------------------------------------------------------------------------
