"""Sign-in for the three kinds of user; every write about accounts.

- Customers: phone + SMS code (``sms_code_request``, ``sms_code_sign_in``). The first sign-in
  creates the customer account.
- Merchant owners and staff: phone + password (``merchant_sign_in``).
- Branch and head-office staff: username + password + TOTP (``staff_sign_in``).

Password sign-ins share one lock-out: ALLIANCE_LOGIN_MAX_FAILURES consecutive failures lock the
account for ALLIANCE_LOGIN_LOCKOUT; counters change only in conditional SQL updates. The
services decide who may sign in; the HTML and API views start the session (``auth.login``).
"""

import hashlib
import hmac
import logging
import math
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework import status
from rest_framework.authtoken.models import Token

from alliance.errors import ApplicationError

from . import roles, selectors
from .models import SmsCode, SmsRequestLock, User
from .phones import mask_phone, normalize_phone
from .roles import Role
from .sms import send_sms

logger = logging.getLogger(__name__)

# Customers never authenticate through a backend (they have no password); ``auth.login`` needs
# one named, and any ModelBackend listed in AUTHENTICATION_BACKENDS restores a session by id.
CUSTOMER_SESSION_BACKEND = "accounts.backends.PhonePasswordBackend"

_HOUR = timedelta(hours=1)


# --- Errors --------------------------------------------------------------------------------
class SmsCodeNotRequested(ApplicationError):
    code = "sms_code_not_requested"
    message = _("No code has been sent to this number. Tap “Send code” first.")


class SmsCodeInvalid(ApplicationError):
    code = "sms_code_invalid"
    message = _("The code is not correct. Check the SMS and type the 6 digits again.")


class SmsCodeExpired(ApplicationError):
    code = "sms_code_expired"
    message = _("This code has expired. Tap “Send code” to get a new one.")


class SmsCodeUsed(ApplicationError):
    code = "sms_code_used"
    message = _("This code has already been used. Tap “Send code” to get a new one.")


class SmsCodeTooManyTries(ApplicationError):
    code = "sms_code_too_many_tries"
    message = _("Too many wrong codes. Tap “Send code” to get a new one.")


class SmsRateLimitedPhone(ApplicationError):
    code = "sms_rate_limited_phone"
    message = _("Too many codes were sent to this number. Please try again later.")
    status = status.HTTP_429_TOO_MANY_REQUESTS


class SmsRateLimitedAddress(ApplicationError):
    code = "sms_rate_limited_address"
    message = _("Too many codes were requested from your network. Please try again later.")
    status = status.HTTP_429_TOO_MANY_REQUESTS


class SmsSignInNotCustomer(ApplicationError):
    code = "sms_sign_in_not_customer"
    message = _(
        "This number belongs to a merchant or bank staff account. "
        "Please use the merchant or staff sign-in page."
    )
    status = status.HTTP_403_FORBIDDEN


class AccountDisabled(ApplicationError):
    code = "account_disabled"
    message = _("This account is disabled. Please call the bank's customer service.")
    status = status.HTTP_403_FORBIDDEN


class LoginFailed(ApplicationError):
    code = "login_failed"
    message = _("The phone number or password is wrong.")


class AccountLocked(ApplicationError):
    code = "account_locked"
    message = _("Too many failed sign-in attempts. Please try again later.")
    status = status.HTTP_429_TOO_MANY_REQUESTS


class StaffOtpRequired(ApplicationError):
    code = "staff_otp_required"
    message = _("Enter the 6-digit code from your authenticator app.")


class StaffOtpInvalid(ApplicationError):
    code = "staff_otp_invalid"
    message = _(
        "The authenticator code is wrong or has already been used. "
        "Wait for the next code and try again."
    )


class StaffOtpNotEnrolled(ApplicationError):
    code = "staff_otp_not_enrolled"
    message = _(
        "Your account has no authenticator device yet. Ask head office to enrol one for you."
    )
    status = status.HTTP_403_FORBIDDEN


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


# --- Customers: SMS codes ----------------------------------------------------------------------
def sms_code_hash(*, phone: str, code: str) -> str:
    """HMAC-SHA256 keyed with SECRET_KEY over phone and code: a leaked table reveals no code."""
    message = f"{phone}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def sms_code_request(*, phone: str, client_ip: str) -> SmsCode:
    """Send a new 6-digit sign-in code to ``phone`` and return its record.

    Refuses, saying how long to wait: a second code to the phone within
    ALLIANCE_SMS_PHONE_INTERVAL, more than ALLIANCE_SMS_PHONE_PER_HOUR codes to the phone or
    ALLIANCE_SMS_ADDRESS_PER_HOUR codes asked from ``client_ip`` in an hour. The checks and the
    new row commit together under the phone's and the address's lock rows, so concurrent
    requests cannot overshoot a limit. The SMS goes out after the commit, so a code the user
    receives always exists. The answer does not depend on who owns the number.
    """
    e164 = normalize_phone(phone)
    code = f"{secrets.randbelow(10**6):06d}"
    sms = _sms_code_create(phone=e164, code=code, client_ip=client_ip)
    minutes = int(settings.ALLIANCE_SMS_CODE_TTL.total_seconds() // 60)
    text = _(
        "Your Merchant Alliance sign-in code is %(code)s. It expires in %(minutes)d minutes. "
        "Never tell it to anyone."
    ) % {"code": code, "minutes": minutes}
    send_sms(phone=e164, text=text)
    return sms


@transaction.atomic(durable=True)
def _sms_code_create(*, phone: str, code: str, client_ip: str) -> SmsCode:
    now = timezone.now()
    _lock_request_keys(f"phone:{phone}", f"ip:{client_ip}", now=now)
    to_phone = selectors.sms_code_send_times(since=now - _HOUR, phone=phone)
    interval_ends = to_phone[-1] + settings.ALLIANCE_SMS_PHONE_INTERVAL if to_phone else now
    if interval_ends > now:
        wait = _seconds_until(interval_ends, now)
        raise SmsRateLimitedPhone(
            _(
                "A code was just sent to this number. "
                "You can ask for another in %(seconds)d seconds."
            )
            % {"seconds": wait},
            extra={"retry_after": wait},
        )
    per_phone = settings.ALLIANCE_SMS_PHONE_PER_HOUR
    if len(to_phone) >= per_phone:
        # The limit frees up when enough of this hour's codes are more than an hour old.
        wait = _seconds_until(to_phone[-per_phone] + _HOUR, now)
        raise SmsRateLimitedPhone(
            _("Too many codes were sent to this number. Please try again in %(minutes)d minutes.")
            % {"minutes": math.ceil(wait / 60)},
            extra={"retry_after": wait},
        )

    from_address = selectors.sms_code_send_times(since=now - _HOUR, client_ip=client_ip)
    per_address = settings.ALLIANCE_SMS_ADDRESS_PER_HOUR
    if len(from_address) >= per_address:
        wait = _seconds_until(from_address[-per_address] + _HOUR, now)
        raise SmsRateLimitedAddress(
            _(
                "Too many codes were requested from your network. "
                "Please try again in %(minutes)d minutes."
            )
            % {"minutes": math.ceil(wait / 60)},
            extra={"retry_after": wait},
        )

    return SmsCode.objects.create(
        phone=phone,
        code_hash=sms_code_hash(phone=phone, code=code),
        client_ip=client_ip,
        created_at=now,
        expires_at=now + settings.ALLIANCE_SMS_CODE_TTL,
    )


def _lock_request_keys(*keys: str, now: datetime) -> None:
    """Take the row lock of each key (creating the row the first time), in one global order."""
    for key in sorted(keys):
        if SmsRequestLock.objects.filter(key=key).update(touched_at=now):
            continue
        try:
            with transaction.atomic():
                SmsRequestLock.objects.create(key=key, touched_at=now)
        except IntegrityError:  # a concurrent request created it first; wait for its lock
            SmsRequestLock.objects.filter(key=key).update(touched_at=now)


def sms_code_sign_in(*, phone: str, code: str, client_ip: str) -> User:
    """Check ``code`` against the newest code sent to ``phone``; return the customer.

    Each check first spends one try of the code in a committed conditional UPDATE, so a wrong
    try stays counted even though the call then fails, and concurrent guesses cannot get more
    than ALLIANCE_SMS_CODE_MAX_TRIES comparisons; after that the code is dead, right or not.
    A matching code is marked used in the same durable transaction that finds or creates the
    customer: it signs in once. Numbers of merchant or bank staff accounts are refused after the
    code matched (so only the phone's holder learns why), and so are disabled accounts.
    """
    e164 = normalize_phone(phone)
    sms, now = _sms_code_check(phone=e164, code=code, client_ip=client_ip)
    with transaction.atomic(durable=True):
        _sms_code_use(sms, now=now)
        return _customer_for_phone(phone=e164)


def _sms_code_check(*, phone: str, code: str, client_ip: str) -> tuple[SmsCode, datetime]:
    """Spend one try of the newest code sent to ``phone`` (E.164, committed) and compare it.

    Returns the matching code, not yet used: the caller marks it used (``_sms_code_use``) in
    the transaction that does what the code was for.
    """
    now = timezone.now()
    sms = selectors.sms_code_latest(phone=phone)
    if sms is None:
        raise SmsCodeNotRequested()

    with transaction.atomic(durable=True):
        spent = SmsCode.objects.filter(
            pk=sms.pk,
            used_at__isnull=True,
            expires_at__gt=now,
            tries__lt=settings.ALLIANCE_SMS_CODE_MAX_TRIES,
        ).update(tries=F("tries") + 1)
    if not spent:
        sms.refresh_from_db()
        raise _dead_code_error(sms, now)

    if not hmac.compare_digest(sms.code_hash, sms_code_hash(phone=phone, code=code.strip())):
        tries = SmsCode.objects.values_list("tries", flat=True).get(pk=sms.pk)
        tries_left = max(0, settings.ALLIANCE_SMS_CODE_MAX_TRIES - tries)
        logger.info("Wrong SMS code for %s from %s", mask_phone(phone), client_ip)
        last_try = _(
            "The code is not correct, and that was the last try for it. "
            "Tap “Send code” to get a new one."
        )
        raise SmsCodeInvalid(None if tries_left else last_try, extra={"tries_left": tries_left})
    return sms, now


def _sms_code_use(sms: SmsCode, *, now: datetime) -> None:
    """Mark a matching code used (inside the caller's transaction): it works once."""
    if not SmsCode.objects.filter(pk=sms.pk, used_at__isnull=True).update(used_at=now):
        raise SmsCodeUsed()  # a concurrent use of the same code won


def _dead_code_error(sms: SmsCode, now: datetime) -> ApplicationError:
    if sms.used_at is not None:
        return SmsCodeUsed()
    if sms.tries >= settings.ALLIANCE_SMS_CODE_MAX_TRIES:
        return SmsCodeTooManyTries()
    return SmsCodeExpired()


def _customer_for_phone(*, phone: str) -> User:
    user = selectors.user_by_phone(phone=phone)
    if user is None:
        try:
            with transaction.atomic():
                return User.objects.create_user(phone=phone, role=Role.CUSTOMER)
        except IntegrityError:  # the number was registered concurrently
            user = User.objects.get(phone=phone)
    if not user.is_active:
        raise AccountDisabled()
    if not roles.is_customer(user):
        raise SmsSignInNotCustomer()
    return user


@transaction.atomic(durable=True)
def sms_codes_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete codes sent before ``older_than`` ago and request locks idle as long.

    Returns the number of codes deleted. Rate limits look back one hour only, so nothing that
    matters is lost. Safe to run at any time and twice.
    """
    cutoff = timezone.now() - older_than
    deleted = SmsCode.objects.filter(created_at__lt=cutoff).delete()[0]
    SmsRequestLock.objects.filter(touched_at__lt=cutoff).delete()
    return deleted


# --- Merchants and bank staff: passwords, lock-out, TOTP -----------------------------------
def merchant_sign_in(*, request, phone: str, password: str) -> User:
    """Check a merchant owner's or cashier's phone and password; return the user.

    Unknown numbers, numbers of other roles and wrong passwords all get the same
    :class:`LoginFailed`. A locked account is refused before its password is checked; the
    failure that reaches the limit locks it; a success clears the failure count.
    """
    e164 = normalize_phone(phone)
    user = _password_check(
        request=request,
        account=selectors.merchant_by_phone(phone=e164),
        failed=LoginFailed(),
        phone=e164,
        password=password,
    )
    _login_failures_reset(user_id=user.pk)
    return user


class PasswordSetNotMerchant(ApplicationError):
    code = "password_set_not_merchant"
    message = _(
        "This number has no merchant account. Customers sign in with an SMS code; "
        "a shop gets its merchant account when its application is approved."
    )
    status = status.HTTP_403_FORBIDDEN


class PasswordRejected(ApplicationError):
    code = "password_invalid"
    message = _("Choose a stronger password.")


def merchant_password_set(*, phone: str, code: str, new_password: str, client_ip: str) -> User:
    """Set a merchant owner's or cashier's password with an SMS code (first password after
    approval, or a forgotten one); return the user.

    The code is checked exactly like :func:`sms_code_sign_in` (one committed try per check,
    same expiry and tries). After it matched: numbers that are not an active merchant account
    are refused (only the phone's holder learns why); a password Django's validators refuse
    is ``password_invalid`` and leaves the code usable for its remaining tries. Then, in one
    durable transaction, the code is marked used, the password set and the lock-out cleared.
    Changing the password ends the account's other sessions (Django's session hash).
    """
    e164 = normalize_phone(phone)
    sms, now = _sms_code_check(phone=e164, code=code, client_ip=client_ip)
    user = selectors.user_by_phone(phone=e164)
    if user is None or user.role not in roles.MERCHANT_ROLES:
        raise PasswordSetNotMerchant()
    if not user.is_active:
        raise AccountDisabled()
    try:
        password_validation.validate_password(new_password, user)
    except DjangoValidationError as exc:
        raise PasswordRejected(" ".join(exc.messages), extra={"messages": exc.messages}) from exc
    with transaction.atomic(durable=True):
        _sms_code_use(sms, now=now)
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(new_password)
        locked.save(update_fields=["password"])
        _login_failures_reset(user_id=locked.pk)
    logger.info("Password set by SMS code for %s from %s", mask_phone(e164), client_ip)
    return locked


def staff_sign_in(
    *, request, username: str, password: str, otp_token: str = ""
) -> tuple[User, TOTPDevice | None]:
    """Check a bank staff member's username, password and TOTP code.

    Returns the user and the device that accepted the code (None when none was given); the
    caller starts the session and marks it verified with ``django_otp.login``. With
    ALLIANCE_STAFF_OTP_REQUIRED a code from a confirmed device is required, and staff without
    a device are told to ask head office to enrol one; otherwise the code is optional, but one
    that is given must be right. A wrong code counts as a failed sign-in (same lock-out as a
    wrong password); the device's own throttle and replay protection apply as well.
    """
    username = username.strip()
    user = _password_check(
        request=request,
        account=selectors.staff_by_username(username=username),
        failed=LoginFailed(_("The username or password is wrong.")),
        username=username,
        password=password,
    )
    token = otp_token.strip()
    required = settings.ALLIANCE_STAFF_OTP_REQUIRED
    if required and not selectors.staff_totp_devices(user=user).exists():
        raise StaffOtpNotEnrolled()
    if required and not token:
        raise StaffOtpRequired()
    device = None
    if token:
        device = _totp_device_accepting(user=user, token=token)
        if device is None:
            _login_failure_record(user_id=user.pk)
            raise StaffOtpInvalid()
    _login_failures_reset(user_id=user.pk)
    return user, device


def _password_check(*, request, account: User | None, failed: LoginFailed, **credentials) -> User:
    """``authenticate`` behind the lock-out. ``account`` is whom the credentials name, if any."""
    now = timezone.now()
    if account is not None and account.locked_until and account.locked_until > now:
        raise _locked_error(account.locked_until, now)
    user = authenticate(request, **credentials)
    if user is None:
        if account is not None:
            _login_failure_record(user_id=account.pk)
        raise failed
    return user


def _login_failure_record(*, user_id: int) -> None:
    """Count one failed sign-in; raise :class:`AccountLocked` if this one reached the limit.

    Committed before the caller answers, in two conditional updates on the locked row: the
    count cannot be lost or double-counted by concurrent attempts. Locking restarts the count.
    """
    now = timezone.now()
    until = now + settings.ALLIANCE_LOGIN_LOCKOUT
    with transaction.atomic(durable=True):
        User.objects.filter(pk=user_id).update(failed_login_count=F("failed_login_count") + 1)
        locked = User.objects.filter(
            pk=user_id, failed_login_count__gte=settings.ALLIANCE_LOGIN_MAX_FAILURES
        ).update(failed_login_count=0, locked_until=until)
    if locked:
        logger.warning("Account %s locked until %s after failed sign-ins", user_id, until)
        raise _locked_error(until, now)


def _locked_error(until: datetime, now: datetime) -> AccountLocked:
    return AccountLocked(
        _(
            "Too many failed sign-in attempts. This account is locked until %(time)s; "
            "please try again after that."
        )
        % {"time": date_format(timezone.localtime(until), "H:i")},
        extra={"locked_until": until.isoformat(), "retry_after": _seconds_until(until, now)},
    )


def _login_failures_reset(*, user_id: int) -> None:
    User.objects.filter(pk=user_id).exclude(failed_login_count=0, locked_until=None).update(
        failed_login_count=0, locked_until=None
    )


def _totp_device_accepting(*, user: User, token: str) -> TOTPDevice | None:
    # Devices are locked while checked; the throttle and last-used step commit either way.
    with transaction.atomic(durable=True):
        for device in selectors.staff_totp_devices(user=user, for_update=True):
            if device.verify_token(token):
                return device
    return None


def user_unlock(*, user_id: int) -> None:
    """Clear a lock-out and the failure count (head office, from the admin)."""
    _login_failures_reset(user_id=user_id)


def api_token_get_or_create(*, user: User) -> Token:
    """The user's API token: one per user, the same across sign-ins until revoked."""
    return Token.objects.get_or_create(user=user)[0]
