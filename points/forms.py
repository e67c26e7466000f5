"""Forms of the points pages. They parse input; the services decide (and re-check) the rules."""

import uuid

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

MAX_ADJUST_POINTS = 1_000_000_000


class CustomerSearchForm(forms.Form):
    phone = forms.CharField(
        label=_("Customer's mobile number"), max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )


class AdjustmentForm(forms.Form):
    """A head-office adjustment. ``idempotency_key`` is generated into the form when it is
    shown, so submitting the same form twice posts one adjustment."""

    customer = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    points = forms.IntegerField(
        label=_("Points"),
        min_value=-MAX_ADJUST_POINTS, max_value=MAX_ADJUST_POINTS,
        help_text=_("Positive to add points, negative to take them away."),
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=200,
        help_text=_("Kept in the audit trail; the customer sees it in their history."),
    )
    idempotency_key = forms.CharField(
        widget=forms.HiddenInput, max_length=64,
        validators=[RegexValidator(r"^[A-Za-z0-9-]+$")],
    )

    @classmethod
    def for_customer(cls, customer_id: int) -> "AdjustmentForm":
        return cls(initial={"customer": customer_id, "idempotency_key": uuid.uuid4().hex})

    def clean_points(self) -> int:
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Enter a number of points other than zero."))
        return points
