"""Sign-in pages: customers (phone + SMS code), merchants (phone + password), bank staff
(username + password + TOTP), and sign-out. Every page works without JavaScript; with htmx
the customer's "send code" swaps only the status region under the phone field."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from alliance.errors import ApplicationError

from . import services
from .forms import (
    CustomerSignInForm,
    MerchantPasswordForm,
    MerchantSignInForm,
    StaffSignInForm,
    add_application_error,
)
from .middleware import SIGNED_OUT_IDLE
from .phones import InvalidPhone


def client_ip(request: HttpRequest) -> str:
    """The address the SMS limits count. Behind a proxy, the web server must put the client's
    address (from the trusted proxy's header) into REMOTE_ADDR."""
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"  # noqa: S104 - an address, not a bind


def next_url(request: HttpRequest) -> str:
    """Where to go after signing in: ``next`` if it stays on this site, else home."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return resolve_url("home")


def _page_context(request: HttpRequest, form, **extra) -> dict:
    next_ = request.POST.get("next") or request.GET.get("next") or ""
    return {"form": form, "next": next_, **extra}


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    """Customers: phone, "send code", code, "sign in". The first sign-in creates the account."""
    form = CustomerSignInForm(request.POST if request.method == "POST" else None)
    sent = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            if data["action"] == form.SEND:
                sent = services.sms_code_request(phone=data["phone"], client_ip=client_ip(request))
                form.fields["code"].widget.attrs["autofocus"] = True
            else:
                user = services.sms_code_sign_in(
                    phone=data["phone"], code=data["code"], client_ip=client_ip(request)
                )
                login(request, user, backend=services.CUSTOMER_SESSION_BACKEND)
                return redirect(next_url(request))
        except ApplicationError as exc:
            add_application_error(form, _customer_error_field(exc, data["action"]), exc)

    context = _page_context(
        request,
        form,
        sent=sent,
        ttl_minutes=int(settings.ALLIANCE_SMS_CODE_TTL.total_seconds() // 60),
        retry_after=int(settings.ALLIANCE_SMS_PHONE_INTERVAL.total_seconds()),
    )
    if request.htmx and request.POST.get("action") == CustomerSignInForm.SEND:
        return render(request, "accounts/login.html#sms-status", context)
    return render(request, "accounts/login.html", context)


def _customer_error_field(exc: ApplicationError, action: str) -> str | None:
    if action == CustomerSignInForm.SEND or isinstance(exc, InvalidPhone):
        return "phone"
    if exc.code.startswith("sms_code_"):
        return "code"
    return None


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def merchant_login(request):
    """Merchant owners and cashiers: phone and password."""
    form = MerchantSignInForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            user = services.merchant_sign_in(request=request, **form.cleaned_data)
        except ApplicationError as exc:
            add_application_error(form, "phone" if isinstance(exc, InvalidPhone) else None, exc)
        else:
            login(request, user)
            return redirect(next_url(request))
    return render(request, "accounts/merchant_login.html", _page_context(request, form))


@sensitive_post_parameters("code", "new_password1", "new_password2")
@never_cache
@require_http_methods(["GET", "POST"])
def merchant_password(request):
    """Merchant owners and cashiers set their first password, or a forgotten one, with an SMS
    code to their mobile number; then they sign in with it."""
    form = MerchantPasswordForm(request.POST if request.method == "POST" else None)
    sent = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            if data["action"] == form.SEND:
                sent = services.sms_code_request(phone=data["phone"], client_ip=client_ip(request))
                form.fields["code"].widget.attrs["autofocus"] = True
            else:
                services.merchant_password_set(
                    phone=data["phone"],
                    code=data["code"],
                    new_password=data["new_password1"],
                    client_ip=client_ip(request),
                )
                messages.success(request, _("Your password is set. Sign in with it now."))
                return redirect("accounts:merchant_login")
        except ApplicationError as exc:
            add_application_error(form, _password_error_field(exc, data["action"]), exc)

    context = _page_context(
        request,
        form,
        sent=sent,
        ttl_minutes=int(settings.ALLIANCE_SMS_CODE_TTL.total_seconds() // 60),
    )
    if request.htmx and request.POST.get("action") == MerchantPasswordForm.SEND:
        return render(request, "accounts/merchant_password.html#sms-status", context)
    return render(request, "accounts/merchant_password.html", context)


def _password_error_field(exc: ApplicationError, action: str) -> str | None:
    if action == MerchantPasswordForm.SEND or isinstance(exc, InvalidPhone):
        return "phone"
    if exc.code.startswith("sms_code_"):
        return "code"
    if exc.code == "password_invalid":
        return "new_password1"
    return None


@sensitive_post_parameters("password", "otp_token")
@never_cache
@require_http_methods(["GET", "POST"])
def staff_login(request):
    """Branch and head-office staff: username, password and the authenticator code."""
    form = StaffSignInForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            user, device = services.staff_sign_in(request=request, **form.cleaned_data)
        except ApplicationError as exc:
            field = "otp_token" if exc.code.startswith("staff_otp_") else None
            add_application_error(form, field, exc)
        else:
            login(request, user)
            if device is not None:
                otp_login(request, device)  # request.user.is_verified() from now on
            return redirect(next_url(request))
    idle_signed_out = request.session.pop(SIGNED_OUT_IDLE, None)
    context = _page_context(request, form, idle_signed_out=idle_signed_out)
    return render(request, "accounts/staff_login.html", context)


@require_POST
def logout_view(request):
    logout(request)
    return redirect("home")
