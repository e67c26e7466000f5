"""The merchant's coupon pages: templates (券批次) and verifying at the counter (核销).

Owners and cashiers sign in at ``accounts:merchant_login``; the membership is resolved once per
request. Cashiers read the templates and verify; every write is the owner's, and the services
refuse a cashier with 403 (the pages do not offer them the buttons). Every form works as a
normal POST; with htmx the verify steps swap their named partials in place.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import roles
from accounts.access import role_required
from alliance.errors import ApplicationError, Forbidden, NotFound
from merchants.models import MerchantStaff
from merchants.selectors import membership_for

from .. import services
from ..merchant_forms import (
    WEEKDAYS,
    AddStockForm,
    ConfirmForm,
    InspectForm,
    ReasonForm,
    TemplateForm,
    new_idempotency_key,
)
from ..models import CouponTemplate
from ..selectors import merchant as selectors

merchant_pages = role_required(roles.is_merchant, login_url="accounts:merchant_login")
Status = CouponTemplate.Status

# Which buttons a template's file offers in each state (the service decides for real).
ACTIONS = {
    "submit": (
        services.template_submit,
        (Status.DRAFT, Status.REJECTED),
        gettext_lazy("Submitted for review."),
    ),
    "publish": (services.template_publish, (Status.APPROVED,), gettext_lazy("Published.")),
    "pause": (services.template_pause, (Status.LIVE,), gettext_lazy("Paused.")),
    "resume": (services.template_resume, (Status.PAUSED,), gettext_lazy("Live again.")),
    "end": (
        services.template_end,
        (Status.APPROVED, Status.LIVE, Status.PAUSED),
        gettext_lazy("Ended."),
    ),
}
ACTION_LABELS = {
    "submit": gettext_lazy("Submit for review"),
    "publish": gettext_lazy("Publish"),
    "pause": gettext_lazy("Pause"),
    "resume": gettext_lazy("Resume"),
    "end": gettext_lazy("End"),
}


def _membership(request) -> MerchantStaff:
    membership = membership_for(request.user)
    if membership is None:
        raise Http404
    return membership


def _is_owner(membership: MerchantStaff) -> bool:
    return membership.role == MerchantStaff.Role.OWNER


def _owner(request) -> MerchantStaff:
    """The owner's membership; a cashier is refused (403) before any form is shown."""
    membership = _membership(request)
    if not _is_owner(membership):
        raise PermissionDenied
    return membership


def _redirect(request, url: str):
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _call(service, **kwargs):
    """Run a service; its 404 and 403 become Django's (other refusals go to the page)."""
    try:
        return service(**kwargs)
    except NotFound as exc:
        raise Http404 from exc
    except Forbidden as exc:
        raise PermissionDenied(str(exc.message)) from exc


def _template(membership, template_id: int) -> CouponTemplate:
    try:
        return selectors.template_get(membership, template_id)
    except NotFound as exc:
        raise Http404 from exc


# --- Templates ---------------------------------------------------------------------------------


@never_cache
@merchant_pages
@require_http_methods(["GET"])
def template_list(request):
    """The merchant's templates with status and claimed / used / expired / conversion."""
    membership = _membership(request)
    context = {
        "membership": membership,
        "merchant": membership.merchant,
        "is_owner": _is_owner(membership),
        "rows": selectors.template_rows(membership),
    }
    return render(request, "coupons/merchant/template_list.html", context)


def _form_page(request, membership, form, template=None, status=200):
    context = {
        "membership": membership,
        "merchant": membership.merchant,
        "is_owner": True,
        "form": form,
        "template": template,
        "reviewed": template is not None and template.status not in (Status.DRAFT, Status.REJECTED),
    }
    return render(request, "coupons/merchant/template_form.html", context, status=status)


@merchant_pages
@require_http_methods(["GET", "POST"])
def template_new(request):
    """The owner writes a new template (a draft)."""
    membership = _owner(request)
    merchant = membership.merchant
    if request.method == "GET":
        stores = list(merchant.stores.values_list("pk", flat=True))
        return _form_page(
            request,
            membership,
            TemplateForm(
                merchant=merchant,
                initial={
                    "stores": stores if len(stores) == 1 else [],
                },
            ),
        )
    form = TemplateForm(request.POST, request.FILES, merchant=merchant)
    if form.is_valid():
        try:
            template = _call(
                services.template_create,
                actor=request.user,
                data=form.to_fields(),
                image=form.cleaned_data.get("image"),
            )
        except ApplicationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Draft saved. Submit it for review when it is ready."))
            return _redirect(request, reverse("coupons:merchant_template", args=[template.pk]))
    return _form_page(request, membership, form, status=400)


@merchant_pages
@require_http_methods(["GET", "POST"])
def template_edit(request, template_id: int):
    """The owner edits a template: anything before approval, the wording after (the service
    refuses anything else with ``unsafe_edit``, shown at the top of the form)."""
    membership = _owner(request)
    template = _template(membership, template_id)
    initial = TemplateForm.initial_of(template)
    if request.method == "GET":
        form = TemplateForm(initial=initial, merchant=membership.merchant)
        return _form_page(request, membership, form, template)
    form = TemplateForm(request.POST, request.FILES, initial=initial, merchant=membership.merchant)
    if form.is_valid():
        base = selectors.template_fields_of(template)
        try:
            _call(
                services.template_update,
                actor=request.user,
                template_id=template.pk,
                data=form.to_fields(base),
            )
            if form.cleaned_data.get("image"):
                _call(
                    services.template_set_image,
                    actor=request.user,
                    template_id=template.pk,
                    image=form.cleaned_data["image"],
                )
        except ApplicationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Saved."))
            return _redirect(request, reverse("coupons:merchant_template", args=[template.pk]))
    return _form_page(request, membership, form, template, status=400)


def _weekdays_text(mask: int) -> str:
    if mask == 127:
        return _("Every day")
    return ", ".join(str(label) for day, label in WEEKDAYS if mask & (1 << int(day)))


def _change_row(change) -> dict:
    labels = dict(Status.choices)
    notes = {
        "edited": _("Edited"),
        "stock": _("Stock changed"),
        "image": _("Image changed"),
        "claim window closed": _("Claim window closed"),
    }
    note = str(notes.get(change.reason, change.reason))
    if change.reason == "edited" and change.fields.get("new"):
        note += ": " + ", ".join(sorted(change.fields["new"]))
    elif change.reason == "stock" and change.fields:
        detail = change.fields.get("added")
        if detail is not None:
            note += f": +{detail}"
        elif "total_stock" in change.fields:
            note += f": {change.fields['total_stock']}"
    return {
        "created_at": change.created_at,
        "actor": change.actor,
        "from_status": change.from_status,
        "to_status": change.to_status,
        "from_status_label": labels.get(change.from_status, change.from_status),
        "to_status_label": labels.get(change.to_status, change.to_status),
        "note": note,
    }


@never_cache
@merchant_pages
@require_http_methods(["GET"])
def template_detail(request, template_id: int):
    """A template's file: its rules, status, the reason when rejected, its history and the
    actions its state allows."""
    membership = _membership(request)
    try:
        row = selectors.template_row(membership, template_id)
    except NotFound as exc:
        raise Http404 from exc
    template = row.template
    is_owner = _is_owner(membership)
    actions = [
        (name, ACTION_LABELS[name])
        for name, (_service, states, _done) in ACTIONS.items()
        if is_owner and template.status in states
    ]
    context = {
        "membership": membership,
        "merchant": membership.merchant,
        "is_owner": is_owner,
        "row": row,
        "template": template,
        "history": [_change_row(c) for c in selectors.template_history(template)],
        "weekdays_text": _weekdays_text(template.weekdays),
        "actions": actions,
        "can_edit": is_owner and template.status not in (Status.SUBMITTED, Status.ENDED),
        "stock_form": AddStockForm(),
    }
    return render(request, "coupons/merchant/template_detail.html", context)


@merchant_pages
@require_POST
def template_action(request, template_id: int, action: str):
    """Submit, publish, pause, resume or end (the owner; cashiers 403 from the service)."""
    membership = _membership(request)
    if action not in ACTIONS:
        raise Http404
    service, _states, done = ACTIONS[action]
    kwargs = {"actor": request.user, "template_id": template_id}
    if action in ("pause", "end"):
        kwargs["reason"] = request.POST.get("reason", "")
    _template(membership, template_id)
    try:
        _call(service, **kwargs)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return _redirect(request, reverse("coupons:merchant_template", args=[template_id]))


@merchant_pages
@require_POST
def template_stock(request, template_id: int):
    """The owner adds stock."""
    membership = _membership(request)
    _template(membership, template_id)
    form = AddStockForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    else:
        try:
            _call(
                services.template_add_stock,
                actor=request.user,
                template_id=template_id,
                more=form.cleaned_data["more"],
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Stock added."))
    return _redirect(request, reverse("coupons:merchant_template", args=[template_id]))


# --- Verify at the counter ---------------------------------------------------------------------


def _verify_context(request, membership, **extra) -> dict:
    now = timezone.now()
    recent = list(selectors.verifications_today(membership, now=now)[:50])
    context = {
        "membership": membership,
        "merchant": membership.merchant,
        "is_owner": _is_owner(membership),
        "inspect_form": InspectForm(merchant=membership.merchant),
        "recent": [(v, _is_owner(membership) and selectors.undoable(v, now=now)) for v in recent],
        "undo_form": ReasonForm(),
        "result": None,
    }
    context.update(extra)
    return context


def _verify_render(request, context: dict, *, status: int = 200):
    if request.htmx:
        context["oob"] = True
        # htmx swaps only 2xx answers: the refusal is in the panel, the status says nothing more.
        return render(request, "coupons/merchant/verify.html#htmx-answer", context)
    return render(request, "coupons/merchant/verify.html", context, status=status)


@never_cache
@merchant_pages
@require_http_methods(["GET"])
def verify(request):
    """The counter: scan the customer's QR (camera) or type the code; today's verifications."""
    membership = _membership(request)
    return render(request, "coupons/merchant/verify.html", _verify_context(request, membership))


@merchant_pages
@require_POST
def verify_inspect(request):
    """Step 1: what the coupon is and whether it can be used here and now (changes nothing).
    The confirm form carries a fresh idempotency key made now."""
    membership = _membership(request)
    form = InspectForm(request.POST, merchant=membership.merchant)
    if not form.is_valid():
        message = next(iter(form.errors.values()))[0]
        result = {"kind": "error", "code": "invalid", "message": message}
        context = _verify_context(request, membership, inspect_form=form, result=result)
        return _verify_render(request, context, status=400)
    store = form.cleaned_data.get("store")
    try:
        inspection = _call(
            services.coupon_inspect,
            actor=request.user,
            code=form.cleaned_data.get("code") or None,
            token=form.cleaned_data.get("token") or None,
            store_id=store.pk if store else None,
        )
    except ApplicationError as exc:
        result = {"kind": "error", "code": exc.code, "message": exc.message}
        context = _verify_context(request, membership, inspect_form=form, result=result)
        return _verify_render(request, context, status=exc.status)
    coupon = inspection.coupon
    confirm = ConfirmForm(
        initial={
            # The counter takes no bare code: a token made now, or the offline code itself,
            # which must be what is used (once).
            "code": inspection.offline_code or services.token_for(coupon.code),
            "idempotency_key": new_idempotency_key(),
            "store": store.pk if store else None,
        }
    )
    result = {
        "kind": "inspection",
        "inspection": inspection,
        "coupon": coupon,
        "value_text": selectors.value_text(coupon.template),
        "confirm_form": confirm,
    }
    context = _verify_context(request, membership, inspect_form=form, result=result)
    return _verify_render(request, context)


@merchant_pages
@require_POST
def verify_confirm(request):
    """Step 2: use the coupon. The key made at step 1 makes a double click or a resubmitted
    form verify once; the repeat shows the same success."""
    membership = _membership(request)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        result = {"kind": "error", "code": "invalid", "message": _("Inspect the coupon again.")}
        context = _verify_context(request, membership, result=result)
        return _verify_render(request, context, status=400)
    try:
        verification = _call(
            services.coupon_verify,
            actor=request.user,
            code=form.cleaned_data["code"],
            idempotency_key=form.cleaned_data["idempotency_key"],
            store_id=form.cleaned_data.get("store"),
        )
    except ApplicationError as exc:
        result = {"kind": "error", "code": exc.code, "message": exc.message}
        context = _verify_context(request, membership, result=result)
        return _verify_render(request, context, status=exc.status)
    coupon = verification.coupon
    result = {
        "kind": "success",
        "verification": verification,
        "coupon": coupon,
        "value_text": selectors.value_text(coupon.template),
    }
    return _verify_render(request, _verify_context(request, membership, result=result))


@merchant_pages
@require_POST
def verification_undo(request, verification_id: int):
    """The owner undoes a verification within the window, with a reason (cashiers: 403)."""
    return _owner_with_reason(
        request,
        services.verification_undo,
        missing=_("Say why the verification is undone."),
        done=_("Verification undone: the coupon can be used again."),
        verification_id=verification_id,
    )


@merchant_pages
@require_POST
def coupon_void(request, coupon_id: int):
    """The owner voids an unused coupon of theirs that the counter has just shown, with a
    reason (cashiers: 403; another merchant's coupon: 404); a campaign's reservation is
    released."""
    return _owner_with_reason(
        request,
        services.coupon_void,
        missing=_("Say why the coupon is voided."),
        done=_("Coupon voided: it can no longer be used."),
        coupon_id=coupon_id,
    )


def _owner_with_reason(request, service, *, missing: str, done: str, **target):
    """Run an owner's action of the counter that needs a reason and come back to the counter
    with the outcome as a message."""
    _membership(request)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, missing)
    else:
        try:
            _call(service, actor=request.user, reason=form.cleaned_data["reason"], **target)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, done)
    return _redirect(request, reverse("coupons:merchant_verify"))
