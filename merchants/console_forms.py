"""Forms of the branch console's merchant pages. They parse input; the services decide (and
re-check) every rule: state, grid, role."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from branches.models import Branch

from .models import FeePlan, Merchant, Visit


class ApproveForm(forms.Form):
    fee_plan = forms.ModelChoiceField(
        label=_("Fee plan"),
        queryset=FeePlan.objects.filter(is_active=True).order_by("rate_bp", "name"),
        empty_label=None,
    )
    reason = forms.CharField(
        label=_("Note (optional)"), max_length=500, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for rejecting"),
        max_length=500,
        help_text=_("Shown to the applicant."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReturnForm(forms.Form):
    comments = forms.CharField(
        label=_("What the applicant should change"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


DECISION_FORMS = {"approve": ApproveForm, "reject": RejectForm, "return": ReturnForm}


class VisitForm(forms.Form):
    visited_on = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    kind = forms.ChoiceField(label=_("Type"), choices=Visit.Kind.choices)
    outcome = forms.CharField(
        label=_("Outcome"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    follow_up_on = forms.DateField(
        label=_("Follow up on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["visited_on"].initial = timezone.localdate


class MerchantReasonForm(forms.Form):
    """Suspending or reinstating: the reason goes to the merchant's status history."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        help_text=_("Kept in the merchant's status history."),
    )


class MerchantCloseForm(MerchantReasonForm):
    """Closing is final, so the form asks for a tick as well as a reason (works without JS)."""

    confirm = forms.BooleanField(label=_("I understand that closing is final."))


class ChangeRejectForm(forms.Form):
    """Rejecting an owner's profile change request: the reason is kept on the decision row."""

    reason = forms.CharField(
        label=_("Reason for rejecting"),
        max_length=500,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class StoreMoveForm(forms.Form):
    """Head office puts one of the merchant's stores into another grid (or the pool)."""

    store = forms.ModelChoiceField(label=_("Store"), queryset=None, empty_label=None)
    to_branch = forms.ModelChoiceField(
        label=_("Move to"),
        queryset=Branch.objects.filter(is_active=True).order_by("code"),
        required=False,
        empty_label=_("head-office pool"),
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, *args, merchant: Merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = merchant.stores.order_by("pk")


class MerchantSearchForm(forms.Form):
    q = forms.CharField(label=_("Search by name or merchant code"), max_length=64, required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status")), *Merchant.Status.choices],
    )
