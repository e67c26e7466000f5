"""Sign-in forms. They check the shape of the input; the services decide the rest."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from alliance.errors import ApplicationError

_PHONE_ATTRS = {"autocomplete": "tel", "inputmode": "tel", "placeholder": "138 1234 5678"}


def add_application_error(form: forms.Form, field: str | None, exc: ApplicationError) -> None:
    """Show a service's refusal as a form error that keeps its stable code."""
    form.add_error(field, ValidationError(exc.message, code=exc.code))


class CustomerSignInForm(forms.Form):
    """One form, two buttons: "send code" (``action=send``) and "sign in" (``action=sign_in``).

    Pressing Enter submits without an action: that signs in when a code was typed and sends
    a code otherwise, which is what the person at that step means.
    """

    SEND = "send"
    SIGN_IN = "sign_in"

    phone = forms.CharField(
        label=_("Mobile number"), max_length=32, widget=forms.TextInput(attrs=_PHONE_ATTRS)
    )
    code = forms.CharField(
        label=_("Code from the SMS"),
        max_length=6,
        required=False,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9]*",
                "placeholder": "123456",
            }
        ),
    )
    action = forms.ChoiceField(choices=[(SEND, SEND), (SIGN_IN, SIGN_IN)], required=False)

    def clean_action(self) -> str:
        if action := self.cleaned_data.get("action"):
            return action
        return self.SIGN_IN if self.cleaned_data.get("code") else self.SEND

    def clean(self):
        data = super().clean()
        if data.get("action") == self.SIGN_IN and not data.get("code"):
            self.add_error(
                "code",
                ValidationError(_("Enter the 6-digit code from the SMS."), code="required"),
            )
        return data


class MerchantSignInForm(forms.Form):
    phone = forms.CharField(
        label=_("Mobile number"), max_length=32, widget=forms.TextInput(attrs=_PHONE_ATTRS)
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class StaffSignInForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    otp_token = forms.CharField(
        label=_("Authenticator code"),
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]*"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read per form, not at import: the setting differs between environments and tests.
        required = settings.ALLIANCE_STAFF_OTP_REQUIRED
        field = self.fields["otp_token"]
        field.required = required
        field.help_text = (
            _("The 6-digit code your authenticator app shows now.")
            if required
            else _("Optional here; required on the bank's production system.")
        )


class MerchantPasswordForm(forms.Form):
    """Merchant owners and cashiers set a password with an SMS code: "send code" (``action=send``)
    and "set password" (``action=set``), like the customer's sign-in form."""

    SEND = "send"
    SET = "set"

    phone = forms.CharField(
        label=_("Mobile number"), max_length=32, widget=forms.TextInput(attrs=_PHONE_ATTRS)
    )
    code = forms.CharField(
        label=_("Code from the SMS"),
        max_length=6,
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]*"}
        ),
    )
    new_password1 = forms.CharField(
        label=_("New password"),
        max_length=128,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("New password again"),
        max_length=128,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    action = forms.ChoiceField(choices=[(SEND, SEND), (SET, SET)], required=False)

    def clean_action(self) -> str:
        if action := self.cleaned_data.get("action"):
            return action
        return self.SET if self.cleaned_data.get("code") else self.SEND

    def clean(self):
        data = super().clean()
        if data.get("action") != self.SET:
            return data
        if not data.get("code"):
            self.add_error(
                "code", ValidationError(_("Enter the 6-digit code from the SMS."), code="required")
            )
        first, second = data.get("new_password1"), data.get("new_password2")
        if not first:
            self.add_error(
                "new_password1", ValidationError(_("Choose a new password."), code="required")
            )
        elif first != second:
            self.add_error(
                "new_password2",
                ValidationError(_("The two passwords do not match."), code="password_mismatch"),
            )
        return data
