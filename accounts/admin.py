"""Head office manages accounts here: staff usernames, roles and branches, lock-outs, and (from
each user's page) the enrolment of a TOTP device, whose admin django-otp provides.

The password hash is never shown: the page says whether a password is set and links to the
form that sets a new one.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import roles, selectors, services
from .models import User
from .phones import InvalidPhone, normalize_phone


class _UserFormRules:
    """Checks shared by the add and change forms, with messages instead of constraint names."""

    def clean_phone(self):
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except InvalidPhone as exc:
            raise ValidationError(exc.message, code=exc.code) from exc

    def clean(self):
        data = super().clean()
        role, branch = data.get("role"), data.get("branch")
        if role in roles.BRANCH_ROLES and branch is None:
            self.add_error("branch", _("Branch staff must belong to a branch."))
        if role and role not in roles.BRANCH_ROLES and branch is not None:
            self.add_error("branch", _("Only branch staff belong to a branch."))
        if role in roles.STAFF_ROLES and not data.get("username"):
            self.add_error("username", _("Bank staff sign in with a username: give them one."))
        return data


def _phone_field():
    # Longer than the stored E.164 form: people type spaces, dashes and +86.
    return forms.CharField(label=_("mobile number"), max_length=32)


class UserCreationForm(_UserFormRules, AdminUserCreationForm):
    phone = _phone_field()

    class Meta:
        model = User
        fields = ("phone", "username", "name", "role", "branch")


class UserChangeForm(_UserFormRules, forms.ModelForm):
    phone = _phone_field()

    class Meta:
        model = User
        fields = ("phone", "username", "name", "role", "branch", "is_active", "is_staff")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = (
        "__str__", "masked_phone", "username", "role", "branch", "is_active", "locked_until"
    )
    list_filter = ("role", "is_active", "is_staff")
    list_select_related = ("branch",)
    search_fields = ("phone", "username", "name")
    ordering = ("-date_joined",)
    readonly_fields = (
        "password_state",
        "totp_devices",
        "failed_login_count",
        "locked_until",
        "last_login",
        "date_joined",
    )
    fieldsets = (
        (None, {"fields": ("phone", "name", "role", "branch", "username")}),
        (
            _("Signing in"),
            {
                "fields": (
                    "password_state",
                    "totp_devices",
                    "is_active",
                    "failed_login_count",
                    "locked_until",
                    "last_login",
                    "date_joined",
                )
            },
        ),
        (_("Django admin"), {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "phone",
                    "name",
                    "role",
                    "branch",
                    "username",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    actions = ["unlock"]

    @admin.display(description=_("mobile number"))
    def masked_phone(self, obj: User) -> str:
        return obj.masked_phone

    @admin.display(description=_("password"))
    def password_state(self, obj: User) -> str:
        state = _("set") if obj.has_usable_password() else _("none (cannot sign in with one)")
        # Django's UserAdmin names this URL after auth.User whatever the user model is.
        url = reverse("admin:auth_user_password_change", args=[obj.pk])
        return format_html('{} · <a href="{}">{}</a>', state, url, _("Set a new password"))

    @admin.display(description=_("authenticator devices"))
    def totp_devices(self, obj: User) -> str:
        count = selectors.staff_totp_devices(user=obj).count()
        url = reverse("admin:otp_totp_totpdevice_add") + f"?user={obj.pk}"
        return format_html(
            '{} · <a href="{}">{}</a>',
            ngettext("%(n)d confirmed", "%(n)d confirmed", count) % {"n": count},
            url,
            _("Enrol a device"),
        )

    @admin.action(description=_("Unlock selected accounts"))
    def unlock(self, request, queryset):
        for user_id in queryset.values_list("pk", flat=True):
            services.user_unlock(user_id=user_id)
        messages.success(request, _("The selected accounts can sign in again."))
