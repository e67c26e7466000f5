"""Forms of the branch console. They parse input; the services decide (and re-check) the rules."""

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from .models import Branch


class ReasonForm(forms.Form):
    """Closing or reopening a branch: only the reason, which goes to the audit trail."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        help_text=_("Kept in the branch's change history."),
    )


class BranchEditForm(ReasonForm):
    """Name, address and location of an existing branch (a new location moves it)."""

    name = forms.CharField(label=_("Name"), max_length=64)
    address = forms.CharField(label=_("Address"), max_length=200)
    lat = forms.FloatField(
        label=_("Latitude"),
        min_value=-90,
        max_value=90,
        help_text=_("WGS-84 decimal degrees, e.g. 30.2590"),
    )
    lng = forms.FloatField(
        label=_("Longitude"),
        min_value=-180,
        max_value=180,
        help_text=_("WGS-84 decimal degrees, e.g. 120.1640"),
    )

    field_order = ["name", "address", "lat", "lng", "reason"]

    @classmethod
    def initial_for(cls, branch: Branch) -> dict:
        return {
            "name": branch.name, "address": branch.address, "lat": branch.lat, "lng": branch.lng
        }


class BranchOpenForm(BranchEditForm):
    code = forms.CharField(
        label=_("Branch code"),
        max_length=16,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9-]+$", _("Use letters, digits and hyphens only."), code="invalid"
            )
        ],
    )

    field_order = ["code", *BranchEditForm.field_order]

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip().upper()
        # Early feedback before the preview; branch_open re-checks under its unique constraint.
        if Branch.objects.filter(code=code).exists():
            raise forms.ValidationError(_("Another branch already uses this code."), code="taken")
        return code


class BranchSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=64, required=False)
