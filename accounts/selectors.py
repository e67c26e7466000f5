"""Reads for sign-in: codes sent to a phone, accounts by what people sign in with, devices."""

from datetime import datetime

from django.db.models import QuerySet
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import SmsCode, User
from .roles import MERCHANT_ROLES, STAFF_ROLES


def sms_code_latest(*, phone: str) -> SmsCode | None:
    """The newest code sent to ``phone`` (E.164): the only one that can still sign in."""
    return SmsCode.objects.filter(phone=phone).order_by("-created_at", "-pk").first()


def sms_code_send_times(*, since: datetime, phone: str = "", client_ip: str = "") -> list:
    """When codes were sent to ``phone`` or asked for from ``client_ip`` after ``since``,
    oldest first (the rate limits keep these lists short)."""
    codes = SmsCode.objects.filter(created_at__gt=since)
    if phone:
        codes = codes.filter(phone=phone)
    if client_ip:
        codes = codes.filter(client_ip=client_ip)
    return list(codes.order_by("created_at", "pk").values_list("created_at", flat=True))


def user_by_phone(*, phone: str) -> User | None:
    return User.objects.filter(phone=phone).first()


def merchant_by_phone(*, phone: str) -> User | None:
    return User.objects.filter(phone=phone, role__in=list(MERCHANT_ROLES)).first()


def staff_by_username(*, username: str) -> User | None:
    return User.objects.filter(username=username, role__in=list(STAFF_ROLES)).first()


def staff_totp_devices(*, user: User, for_update: bool = False) -> QuerySet:
    """The user's confirmed TOTP devices; ``for_update`` locks them (inside a transaction) so
    two sign-ins cannot both spend the same code or dodge the device's throttle."""
    devices = TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("pk")
    return devices.select_for_update() if for_update else devices
