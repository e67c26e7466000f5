"""Forms of the branch console's coupon and campaign pages. They parse input; the services
decide (and re-check) every rule: state, grid, role, reasons, budgets."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from branches.models import Branch

# A campaign bigger than ¥100,000,000 is a typing mistake, not a plan.
MAX_BUDGET_FEN = 100_000_000 * 100
_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]*)?$|^\.[0-9]+$")


def yuan_to_fen(text: str) -> int:
    """An amount typed in yuan ("1,200.5", "¥80") as an integer number of fen.

    The one place the console turns yuan into fen: Decimal, never a float. Refuses (with a
    ``ValidationError`` the form shows) anything that is not a plain positive number, more than
    two decimals (there is no half fen) and zero.
    """
    cleaned = (text or "").strip().replace(",", "").replace("，", "")
    cleaned = cleaned.removeprefix("¥").removeprefix("￥").strip()
    if not _AMOUNT.match(cleaned):
        raise ValidationError(_("Enter an amount in yuan, such as 5000 or 1200.50."), "invalid")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as exc:  # the pattern lets only plain numbers through; belt and braces
        raise ValidationError(_("Enter an amount in yuan."), "invalid") from exc
    if amount.as_tuple().exponent < -2:
        raise ValidationError(_("Use at most two decimals (fen)."), "decimals")
    fen = int(amount * 100)
    if fen <= 0:
        raise ValidationError(_("The amount must be more than zero."), "not_positive")
    if fen > MAX_BUDGET_FEN:
        raise ValidationError(_("The amount must be at most ¥100,000,000."), "too_large")
    return fen


class YuanField(forms.CharField):
    """Typed in yuan, cleaned to integer fen."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "decimal", "autocomplete": "off"})
        return attrs

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return None
        return yuan_to_fen(value)


# --- Template decisions ------------------------------------------------------------------------


class ApproveForm(forms.Form):
    reason = forms.CharField(
        label=_("Comment (optional)"),
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class ReasonForm(forms.Form):
    """Rejecting, pausing or ending: the reason is kept in the template's history (the service
    refuses an empty one with ``reason_required``, shown on the form)."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        required=False,
        help_text=_("Shown to the merchant and kept in the coupon's history."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


DECISION_FORMS = {
    "approve": ApproveForm,
    "reject": ReasonForm,
    "pause": ReasonForm,
    "end": ReasonForm,
}


# --- Campaigns ---------------------------------------------------------------------------------


class CampaignCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    budget = YuanField(label=_("Budget (yuan)"))
    branch = forms.ModelChoiceField(
        label=_("Branch"),
        queryset=Branch.objects.filter(is_active=True).order_by("code"),
        required=False,
        empty_label=_("Head office (every grid)"),
    )

    def __init__(self, *args, head_office: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not head_office:
            # Branch staff open campaigns for their own branch only (the service sets it).
            del self.fields["branch"]


class CampaignBudgetForm(forms.Form):
    budget = YuanField(label=_("New budget (yuan)"))
