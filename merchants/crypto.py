"""Model fields encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

The key is derived (HKDF-SHA256) from ``settings.ALLIANCE_FIELD_ENCRYPTION_KEY``, so the setting
can be any long random string. The column holds the Fernet token only: the database, its
backups and its replicas never see the plaintext. Tokens are randomised, so an encrypted column
cannot be searched or made unique; keep what must be searched (the last four digits) in plain
columns of its own if ever needed.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@functools.cache
def _fernet(secret: str) -> Fernet:
    if not secret:
        raise ImproperlyConfigured(
            "Set ALLIANCE_FIELD_ENCRYPTION_KEY (DJANGO_FIELD_ENCRYPTION_KEY)."
        )
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"merchant-alliance field encryption"
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def fernet() -> Fernet:
    return _fernet(settings.ALLIANCE_FIELD_ENCRYPTION_KEY)


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode("ascii")).decode()
    except InvalidToken as exc:
        # A wrong key is a deployment error, never something to show as data.
        raise ImproperlyConfigured("An encrypted field cannot be read with this key.") from exc


class EncryptedTextField(models.TextField):
    """A text field stored as a Fernet token. Blank stays blank (nothing to hide)."""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_lookup(self, lookup_name):
        # A randomised ciphertext matches nothing: refuse instead of quietly finding nothing.
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)


def mask_account(number: str) -> str:
    """Bank account number shown as ``**** 1234``."""
    digits = "".join((number or "").split())
    if not digits:
        return ""
    return f"**** {digits[-4:]}" if len(digits) > 4 else "****"
