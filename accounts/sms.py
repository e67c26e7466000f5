"""Sending SMS through a backend chosen by ``settings.ALLIANCE_SMS_BACKEND``.

Like Django's email backends: a dotted path to a class with ``send(*, phone, text)``. A real
provider's adapter raises :class:`SmsSendFailed` when the provider refuses or cannot be reached.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from rest_framework import status

from alliance.errors import ApplicationError

from .phones import mask_phone

logger = logging.getLogger(__name__)


class SmsSendFailed(ApplicationError):
    code = "sms_send_failed"
    message = _("We could not send the SMS just now. Please try again in a minute.")
    status = status.HTTP_503_SERVICE_UNAVAILABLE


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str


# Messages "sent" by MemoryBackend, oldest first. Tests clear it.
outbox: list[SmsMessage] = []


class ConsoleBackend:
    """For the local demo: the message goes to the log and to the terminal."""

    def send(self, *, phone: str, text: str) -> None:
        logger.info("SMS to %s: %s", mask_phone(phone), text)
        print(f"[SMS to {phone}] {text}", flush=True)  # noqa: T201 - the demo user reads it here


class MemoryBackend:
    """For tests: the message is appended to :data:`outbox`."""

    def send(self, *, phone: str, text: str) -> None:
        outbox.append(SmsMessage(phone=phone, text=text))


def send_sms(*, phone: str, text: str) -> None:
    backend = import_string(settings.ALLIANCE_SMS_BACKEND)()
    backend.send(phone=phone, text=text)
