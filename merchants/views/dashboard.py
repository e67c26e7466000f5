"""The merchant dashboard (skeleton): store profile, application history, staff.

Owners and cashiers sign in at ``accounts:merchant_login``. The merchant is resolved once per
request from the signed-in user's membership; owner-only actions are refused to cashiers by the
services (403) and the pages do not offer them.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import roles
from accounts.access import role_required
from alliance.errors import ApplicationError, Forbidden, NotFound

from .. import selectors, services
from ..forms import (
    ChangeRequestForm,
    MerchantProfileForm,
    StaffAddForm,
    StoreForm,
    StorePhotoForm,
    add_service_error,
)
from ..models import Merchant, MerchantApplication, MerchantStaff, ProfileChange
from ..services.profile import open_change_request

merchant_pages = role_required(roles.is_merchant, login_url="accounts:merchant_login")

STATUS_LABELS = {
    **dict(MerchantApplication.Status.choices),
    **dict(Merchant.Status.choices),
}


def _membership(request) -> MerchantStaff:
    membership = selectors.membership_for(request.user)
    if membership is None:
        raise Http404
    return membership


def _redirect(request, url: str):
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _call(service, **kwargs):
    """Run a service; its 404 and 403 become Django's (other refusals go to the form)."""
    try:
        return service(**kwargs)
    except NotFound as exc:
        raise Http404 from exc
    except Forbidden as exc:
        raise PermissionDenied(str(exc.message)) from exc


def _profile_context(request, membership, **forms) -> dict:
    merchant = membership.merchant
    stores = list(merchant.stores.select_related("branch").prefetch_related("photos"))
    is_owner = membership.role == MerchantStaff.Role.OWNER
    context = {
        "membership": membership,
        "merchant": merchant,
        "stores": stores,
        "is_owner": is_owner,
        "pending_change": open_change_request(merchant.pk),
        "profile_form": MerchantProfileForm(
            initial={"description": merchant.description, "contact_phone": merchant.contact_phone}
        ),
        "store_forms": {
            s.pk: StoreForm(
                prefix=f"store-{s.pk}",
                initial={
                    "name": s.name,
                    "opening_hours": s.opening_hours,
                    "description": s.description,
                },
            )
            for s in stores
        },
        "photo_form": StorePhotoForm(),
        "change_form": ChangeRequestForm(),
    }
    context.update(forms)
    context["store_form_list"] = [(s, context["store_forms"][s.pk]) for s in stores]
    return context


@never_cache
@merchant_pages
@require_http_methods(["GET"])
def dashboard(request):
    """The store profile: everybody on the staff reads it (settlement shown masked)."""
    membership = _membership(request)
    return render(
        request, "merchants/dashboard/profile.html", _profile_context(request, membership)
    )


@merchant_pages
@require_POST
def profile_edit(request):
    """The owner edits the free parts of the merchant profile (applied at once)."""
    membership = _membership(request)
    form = MerchantProfileForm(request.POST)
    if form.is_valid():
        try:
            _call(
                services.profile_update,
                actor=request.user,
                merchant_id=membership.merchant_id,
                changes=form.cleaned_data,
            )
        except ApplicationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("Profile saved."))
            return _redirect(request, reverse("merchants:dashboard"))
    context = _profile_context(request, membership, profile_form=form)
    if request.htmx:
        return render(request, "merchants/dashboard/profile.html#merchant-profile", context)
    return render(request, "merchants/dashboard/profile.html", context, status=400)


@merchant_pages
@require_POST
def store_edit(request, store_id: int):
    """The owner edits a store's name, hours and description."""
    membership = _membership(request)
    if not membership.merchant.stores.filter(pk=store_id).exists():
        raise Http404
    form = StoreForm(request.POST, prefix=f"store-{store_id}")
    if form.is_valid():
        try:
            _call(
                services.profile_update,
                actor=request.user,
                merchant_id=membership.merchant_id,
                store_id=store_id,
                changes=form.cleaned_data,
            )
        except ApplicationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("Store saved."))
            return _redirect(request, reverse("merchants:dashboard"))
    context = _profile_context(request, membership)
    context["store_forms"][store_id] = form
    context["store_form_list"] = [(s, context["store_forms"][s.pk]) for s in context["stores"]]
    return render(request, "merchants/dashboard/profile.html", context, status=400)


@merchant_pages
@require_POST
def store_photo_add(request, store_id: int):
    """The owner adds a photo to a store; the upload's refusals show under the field."""
    membership = _membership(request)
    if not membership.merchant.stores.filter(pk=store_id).exists():
        raise Http404
    form = StorePhotoForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            _call(
                services.store_photo_add,
                actor=request.user,
                store_id=store_id,
                upload=form.cleaned_data["image"],
            )
        except ApplicationError as exc:
            add_service_error(form, exc, field="image")
        else:
            messages.success(request, _("Photo added."))
            return _redirect(request, reverse("merchants:dashboard"))
    context = _profile_context(request, membership, photo_form=form, photo_store_id=store_id)
    return render(request, "merchants/dashboard/profile.html", context, status=400)


@merchant_pages
@require_POST
def change_request(request):
    """The owner asks to change legal or settlement details: nothing changes until the branch
    approves. Cashiers are refused (403)."""
    membership = _membership(request)
    if membership.role != MerchantStaff.Role.OWNER:
        raise PermissionDenied
    form = ChangeRequestForm(request.POST)
    if form.is_valid():
        try:
            _call(
                services.profile_change_request,
                actor=request.user,
                merchant_id=membership.merchant_id,
                changes=form.changes(),
            )
        except ApplicationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(
                request,
                _(
                    "Sent for review. Your branch checks the change; until then the current "
                    "details stay in force."
                ),
            )
            return _redirect(request, reverse("merchants:dashboard"))
    context = _profile_context(request, membership, change_form=form)
    if request.htmx:
        return render(request, "merchants/dashboard/profile.html#change-request", context)
    return render(request, "merchants/dashboard/profile.html", context, status=400)


@never_cache
@merchant_pages
@require_http_methods(["GET"])
def history(request):
    """The merchant's applications, status changes and profile changes."""
    membership = _membership(request)
    file = selectors.merchant_file(request.user, membership.merchant_id)
    context = {
        "membership": membership,
        "merchant": file.merchant,
        "applications": file.applications,
        "status_changes": [
            (c, STATUS_LABELS.get(c.to_status, c.to_status)) for c in file.status_changes
        ],
        "profile_changes": [
            (c, dict(ProfileChange.Status.choices).get(c.status, c.status))
            for c in file.profile_changes
        ],
    }
    return render(request, "merchants/dashboard/history.html", context)


@never_cache
@merchant_pages
@require_http_methods(["GET", "POST"])
def staff(request):
    """The staff list; the owner adds a cashier by mobile number."""
    membership = _membership(request)
    is_owner = membership.role == MerchantStaff.Role.OWNER
    form = StaffAddForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not is_owner:
            raise PermissionDenied
        if form.is_valid():
            try:
                _call(services.staff_add, actor=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                add_service_error(form, exc, field="phone")
            else:
                messages.success(
                    request,
                    _(
                        "Cashier added. They set a password with an SMS code on the merchant "
                        "sign-in page."
                    ),
                )
                return _redirect(request, reverse("merchants:dashboard_staff"))
    context = {
        "membership": membership,
        "merchant": membership.merchant,
        "is_owner": is_owner,
        "staff": list(membership.merchant.staff.select_related("user").order_by("pk")),
        "form": form,
    }
    if request.htmx and request.method == "POST":
        return render(request, "merchants/dashboard/staff.html#staff-form", context)
    return render(
        request, "merchants/dashboard/staff.html", context, status=400 if form.errors else 200
    )
