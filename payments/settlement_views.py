"""Settlement and reconciliation pages: the merchant's settlements and statements, and the
console's batches, statements, payout files and reconciliation runs.

Views parse input, call a selector or a service and render. Scope (who sees which rows) is
``payments.settlement_selectors``: a row outside it is a 404. Role refusals are 403: a cashier
asking for statements, branch staff asking for a payout file or reconciliation.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from accounts.access import head_office_only, role_required, staff_console
from alliance.errors import ApplicationError, Forbidden, NotFound
from merchants.selectors import membership_for

from . import settlement_selectors as selectors
from .models import PaymentOrder, ReconciliationRun, SettlementBatch
from .services import reconciliation as reconciliation_services
from .services import settlement as settlement_services

merchant_pages = role_required(roles.is_merchant, login_url="accounts:merchant_login")


def _csv(text: str, filename: str) -> HttpResponse:
    # A BOM so that spreadsheet programs read the UTF-8 (Chinese store names) as UTF-8.
    response = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _settlement(request, settlement_id: int):
    try:
        return selectors.settlement_for_viewer(request.user, settlement_id)
    except NotFound as exc:
        raise Http404 from exc


def _owner_membership(request):
    """The owner's membership; a cashier is refused (403: statements are the owner's)."""
    membership = membership_for(request.user)
    if membership is None:
        raise Http404
    if not roles.is_merchant_owner(request.user):
        raise PermissionDenied(_("Only the merchant's owner sees settlements."))
    return membership


def _statement_context(settlement, **extra) -> dict:
    return {
        "settlement": settlement,
        "batch": settlement.batch,
        "merchant": settlement.merchant,
        "items": selectors.statement_items(settlement),
        **extra,
    }


# --- Merchant ------------------------------------------------------------------------------------
@never_cache
@merchant_pages
@require_GET
def merchant_settlements(request):
    membership = _owner_membership(request)
    context = {
        "membership": membership,
        "merchant": membership.merchant,
        "settlements": selectors.merchant_settlements(request.user),
    }
    return render(request, "payments/settlement/merchant_list.html", context)


@never_cache
@merchant_pages
@require_GET
def merchant_statement(request, settlement_id: int):
    membership = _owner_membership(request)
    settlement = _settlement(request, settlement_id)
    context = _statement_context(
        settlement, membership=membership, console=False,
        csv_url=reverse("settlement:merchant_statement_csv", args=[settlement.pk]),
    )
    return render(request, "payments/settlement/statement.html", context)


@never_cache
@merchant_pages
@require_GET
def merchant_statement_csv(request, settlement_id: int):
    _owner_membership(request)
    settlement = _settlement(request, settlement_id)
    return _csv(selectors.statement_csv(settlement), f"statement-{settlement.reference}.csv")


# --- Console: settlement --------------------------------------------------------------------------
@never_cache
@staff_console
@require_GET
def console_batches(request):
    context = {
        "rows": selectors.batch_rows(request.user),
        "head_office": roles.is_head_office(request.user),
        "yesterday": settlement_services.yesterday(),
    }
    return render(request, "payments/settlement/console_batches.html", context)


@never_cache
@head_office_only
@require_POST
def console_run(request):
    """Head office runs (or re-runs: the same batch comes back) the settlement of a day."""
    try:
        day = date.fromisoformat(request.POST.get("day", ""))
    except ValueError:
        messages.error(request, _("Enter a day as YYYY-MM-DD."))
        return redirect("settlement:console_batches")
    try:
        batch = settlement_services.settlement_run(
            day=day, actor=request.user, source=SettlementBatch.Source.CONSOLE
        )
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
        return redirect("settlement:console_batches")
    messages.success(request, _("Settlement of %(day)s is ready.") % {"day": batch.day.isoformat()})
    return redirect("settlement:console_batch", batch.pk)


@never_cache
@staff_console
@require_GET
def console_batch(request, batch_id: int):
    try:
        batch, settlements = selectors.batch_for_viewer(request.user, batch_id)
    except NotFound as exc:
        raise Http404 from exc
    context = {
        "batch": batch,
        "settlements": settlements,
        "head_office": roles.is_head_office(request.user),
        "totals": {
            name: sum(getattr(s, name) for s in settlements)
            for name in ("gross_fen", "refunds_fen", "payout_fen", "carried_out_fen")
        },
        "net_fee_fen": sum(s.fee_fen - s.fee_back_fen for s in settlements),
        "audit": list(batch.audit.select_related("actor")) if roles.is_head_office(request.user) else [],
    }
    return render(request, "payments/settlement/console_batch.html", context)


@never_cache
@head_office_only
@require_GET
def console_payout_file(request, batch_id: int):
    """The payout instruction file (full account numbers): head office only, audited."""
    try:
        filename, text = settlement_services.payout_file_export(actor=request.user, batch_id=batch_id)
    except NotFound as exc:
        raise Http404 from exc
    except Forbidden as exc:
        raise PermissionDenied(str(exc.message)) from exc
    return _csv(text, filename)


@never_cache
@staff_console
@require_GET
def console_statement(request, settlement_id: int):
    settlement = _settlement(request, settlement_id)
    context = _statement_context(
        settlement, console=True,
        csv_url=reverse("settlement:console_statement_csv", args=[settlement.pk]),
    )
    return render(request, "payments/settlement/statement.html", context)


@never_cache
@staff_console
@require_GET
def console_statement_csv(request, settlement_id: int):
    settlement = _settlement(request, settlement_id)
    return _csv(selectors.statement_csv(settlement), f"statement-{settlement.reference}.csv")


# --- Console: reconciliation ----------------------------------------------------------------------
def _channels() -> list[tuple[str, str]]:
    return [(c, label) for c, label in PaymentOrder.Channel.choices if c != PaymentOrder.Channel.NONE]


@never_cache
@head_office_only
def console_reconciliation(request):
    """The runs, latest first; a POST runs (again) one day and channel."""
    if request.method == "POST":
        channel = request.POST.get("channel", "")
        try:
            day = date.fromisoformat(request.POST.get("day", ""))
        except ValueError:
            messages.error(request, _("Enter a day as YYYY-MM-DD."))
            return redirect("settlement:console_reconciliation")
        if channel not in dict(_channels()):
            messages.error(request, _("Choose a channel."))
            return redirect("settlement:console_reconciliation")
        try:
            run = reconciliation_services.reconciliation_run(
                day=day, channel=channel, actor=request.user, source=ReconciliationRun.Source.CONSOLE
            )
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
            return redirect("settlement:console_reconciliation")
        return redirect("settlement:console_reconciliation_run", run.pk)
    if request.method != "GET":
        return HttpResponse(status=405)
    context = {
        "runs": selectors.reconciliation_runs(request.user),
        "channels": _channels(),
        "yesterday": settlement_services.yesterday(),
    }
    return render(request, "payments/settlement/console_reconciliation.html", context)


@never_cache
@head_office_only
@require_GET
def console_reconciliation_run(request, run_id: int):
    try:
        run = selectors.reconciliation_run_get(request.user, run_id)
    except NotFound as exc:
        raise Http404 from exc
    context = {
        "run": run,
        "differences": list(run.differences.select_related("merchant")),
        "channel_label": dict(PaymentOrder.Channel.choices).get(run.channel, run.channel),
    }
    return render(request, "payments/settlement/console_reconciliation_run.html", context)


@never_cache
@head_office_only
@require_GET
def console_reconciliation_file(request, run_id: int):
    """The channel's statement file as it was downloaded for this run (the evidence)."""
    try:
        run = selectors.reconciliation_run_get(request.user, run_id)
    except NotFound as exc:
        raise Http404 from exc
    response = HttpResponse(run.statement_text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{run.channel}-{run.day:%Y%m%d}-{run.attempt}.csv"'
    )
    return response
