"""WeChat Pay API v3 signatures, notification encryption and money text, as pure functions.

Both sides of the protocol use these: our adapter (``wechatpay_v3``) and the sandbox gateway
that stands in for the channel. Nothing here touches the database or Django settings.

The spec (pay.weixin.qq.com, "签名生成" / "签名验证" / "证书和回调报文解密"):

- a request is signed over ``METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n`` (URL = path and
  query as sent, BODY empty for a GET) with SHA256withRSA (PKCS#1 v1.5) and the signature goes
  base64 into ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",
  signature="..",timestamp="..",serial_no=".."``;
- an answer or a notification is signed by the platform key over
  ``TIMESTAMP\\nNONCE\\nBODY\\n`` and carries ``Wechatpay-Timestamp``, ``Wechatpay-Nonce``,
  ``Wechatpay-Signature``, ``Wechatpay-Serial`` (the platform key's serial) and
  ``Wechatpay-Signature-Type``;
- a notification's ``resource`` is AEAD_AES_256_GCM with the merchant's 32-byte API v3 key, a
  12-character nonce and ``associated_data``; ``ciphertext`` is base64 of ciphertext + tag.

Amounts on the API are integer fen; only the statement (bill) file writes yuan with two
decimals, and ``fen_to_yuan`` / ``yuan_to_fen`` are the one place that text is made and read.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Mapping
from functools import lru_cache

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .base import NotificationRejected

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
SIGNATURE_TYPE = SCHEMA
TIMESTAMP_WINDOW_S = 300  # the spec: refuse answers and notifications older/newer than 5 min

# The response / notification headers, as the spec spells them (HTTP headers are
# case-insensitive: ``verify_signed`` reads them so).
H_TIMESTAMP = "Wechatpay-Timestamp"
H_NONCE = "Wechatpay-Nonce"
H_SIGNATURE = "Wechatpay-Signature"
H_SERIAL = "Wechatpay-Serial"
H_SIGNATURE_TYPE = "Wechatpay-Signature-Type"


# --- RSA signatures --------------------------------------------------------------------------
# Loading a PEM key checks it (for a private key, an RSA consistency check): about 30 ms of
# CPU, against 0.2 ms for the signature itself (bench/pay_bench.py found it). Loaded keys are
# kept per process by their PEM bytes; the key objects are immutable and safe to share.
@lru_cache(maxsize=64)
def _private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


@lru_cache(maxsize=64)
def _public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def sign(private_key_pem: bytes, message: str) -> str:
    """SHA256withRSA (PKCS#1 v1.5) of the UTF-8 ``message``, base64."""
    signature = _private_key(private_key_pem).sign(
        message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return base64.b64encode(signature).decode("ascii")


def verify(public_key_pem: bytes, message: str, signature_b64: str) -> bool:
    """True only if ``signature_b64`` is a valid SHA256withRSA signature of ``message``.
    Never raises for a bad or garbled signature (that is simply False)."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        _public_key(public_key_pem).verify(
            signature, message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return False
    return True


def new_nonce(length: int = 32) -> str:
    """A random nonce of upper-case hex digits (the spec's examples use 32)."""
    return secrets.token_hex((length + 1) // 2)[:length].upper()


def _text(body: bytes | str | None) -> str:
    if body is None:
        return ""
    return body.decode() if isinstance(body, bytes) else body


# --- Requests (merchant -> channel) ----------------------------------------------------------
def request_message(
    method: str, url_path_with_query: str, timestamp: int | str, nonce: str, body: bytes | str
) -> str:
    """The string a request's signature covers: ``METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n``
    (BODY empty for a request without one)."""
    return f"{method.upper()}\n{url_path_with_query}\n{timestamp}\n{nonce}\n{_text(body)}\n"


def authorization_header(
    *,
    mchid: str,
    serial_no: str,
    private_key_pem: bytes,
    method: str,
    url: str,
    body: bytes | str,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The ``Authorization`` value for one request; ``url`` is the path with its query, as sent
    (``/v3/pay/partner/transactions/out-trade-no/X?sp_mchid=..``)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or new_nonce()
    signature = sign(private_key_pem, request_message(method, url, timestamp, nonce, body))
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


_PARAM = re.compile(r'\s*([a-z_]+)="([^"]*)"\s*(?:,|$)')


def parse_authorization(header: str) -> dict:
    """The parameters of an ``Authorization`` header (``mchid``, ``nonce_str``,
    ``signature``, ``timestamp``, ``serial_no``); raises ``NotificationRejected("malformed")``
    for another schema, a garbled list or a missing parameter."""
    schema, _, params = (header or "").strip().partition(" ")
    if schema != SCHEMA:
        raise NotificationRejected("malformed", f"authorization schema is not {SCHEMA}")
    found: dict[str, str] = {}
    pos = 0
    params = params.strip()
    while pos < len(params):
        match = _PARAM.match(params, pos)
        if not match:
            raise NotificationRejected("malformed", "garbled authorization parameters")
        found[match.group(1)] = match.group(2)
        pos = match.end()
    missing = {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} - found.keys()
    if missing:
        raise NotificationRejected("malformed", "authorization lacks " + ", ".join(sorted(missing)))
    return found


def verify_authorization(
    header: str,
    *,
    method: str,
    url: str,
    body: bytes | str,
    public_keys: Mapping[str, bytes],
    now: int | None = None,
    window_s: int = TIMESTAMP_WINDOW_S,
) -> dict:
    """Check a request's ``Authorization`` against the merchant keys by serial (what the
    channel does for each request); returns its parameters or raises ``NotificationRejected``
    with the same codes as ``verify_signed``."""
    params = parse_authorization(header)
    _check_timestamp(params["timestamp"], now=now, window_s=window_s)
    key = public_keys.get(params["serial_no"])
    if key is None:
        raise NotificationRejected("unknown_serial", f"unknown serial {params['serial_no']}")
    message = request_message(method, url, params["timestamp"], params["nonce_str"], body)
    if not verify(key, message, params["signature"]):
        raise NotificationRejected("signature_invalid", "request signature does not verify")
    return params


# --- Answers and notifications (channel -> merchant) -----------------------------------------
def response_message(timestamp: int | str, nonce: str, body: bytes | str) -> str:
    """The string an answer's or notification's signature covers: ``TIMESTAMP\\nNONCE\\n
    BODY\\n``."""
    return f"{timestamp}\n{nonce}\n{_text(body)}\n"


def signed_headers(
    *,
    private_key_pem: bytes,
    serial: str,
    body: bytes | str,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The ``Wechatpay-*`` headers the channel puts on an answer or a notification."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or new_nonce()
    return {
        H_TIMESTAMP: str(timestamp),
        H_NONCE: nonce,
        H_SIGNATURE: sign(private_key_pem, response_message(timestamp, nonce, body)),
        H_SERIAL: serial,
        H_SIGNATURE_TYPE: SIGNATURE_TYPE,
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]`` ignoring case (a plain dict, ``HttpResponse.headers``, urllib's
    ``HTTPMessage`` and WSGI-style ``HTTP_WECHATPAY_...`` keys all work)."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = {name.lower(), "http_" + name.lower().replace("-", "_")}
    for key, value in headers.items():
        if key.lower() in wanted:
            return value
    return None


def _check_timestamp(timestamp: str, *, now: int | None, window_s: int) -> None:
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        raise NotificationRejected("malformed", "timestamp is not a number")
    now = int(time.time()) if now is None else now
    if abs(now - int(timestamp)) > window_s:
        raise NotificationRejected(
            "timestamp_out_of_window", f"timestamp {timestamp} is more than {window_s}s off"
        )


def verify_signed(
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    public_keys: Mapping[str, bytes],
    now: int | None = None,
    window_s: int = TIMESTAMP_WINDOW_S,
) -> None:
    """Accept an answer or notification only if it is signed by one of ``public_keys``
    (platform serial -> public key PEM) over exactly ``body`` and its timestamp is within
    ``window_s`` of ``now``. Raises ``NotificationRejected``: ``malformed`` (a header
    missing, another signature type), ``timestamp_out_of_window``, ``unknown_serial``,
    ``signature_invalid``. Checked in that order, so a replayed old message is refused as
    stale before any key is looked at."""
    values = {
        name: _header(headers, name) for name in (H_TIMESTAMP, H_NONCE, H_SIGNATURE, H_SERIAL)
    }
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise NotificationRejected("malformed", "missing " + ", ".join(missing))
    signature_type = _header(headers, H_SIGNATURE_TYPE)
    if signature_type and signature_type != SIGNATURE_TYPE:
        raise NotificationRejected("malformed", f"signature type {signature_type}")
    _check_timestamp(values[H_TIMESTAMP], now=now, window_s=window_s)
    key = public_keys.get(values[H_SERIAL])
    if key is None:
        raise NotificationRejected("unknown_serial", f"unknown platform serial {values[H_SERIAL]}")
    message = response_message(values[H_TIMESTAMP], values[H_NONCE], body)
    if not verify(key, message, values[H_SIGNATURE]):
        raise NotificationRejected("signature_invalid", "signature does not verify")


# --- Notification resource (AEAD_AES_256_GCM) ------------------------------------------------
ALGORITHM = "AEAD_AES_256_GCM"


def _aes_key(api_v3_key: bytes | str) -> AESGCM:
    key = api_v3_key.encode() if isinstance(api_v3_key, str) else api_v3_key
    if len(key) != 32:
        raise ValueError("the API v3 key is exactly 32 bytes")
    return AESGCM(key)


def encrypt_resource(
    api_v3_key: bytes,
    plaintext: str,
    *,
    associated_data: str,
    nonce: str | None = None,
    original_type: str = "transaction",
) -> dict:
    """A notification's ``resource`` object, as the channel makes it: AES-256-GCM with a
    12-character nonce (used as its ASCII bytes) and ``associated_data``; ``ciphertext`` is
    base64 of ciphertext followed by the 16-byte tag."""
    nonce = nonce or new_nonce(12)
    if len(nonce.encode()) != 12:
        raise ValueError("the nonce is 12 characters")
    sealed = _aes_key(api_v3_key).encrypt(
        nonce.encode(), plaintext.encode(), associated_data.encode()
    )
    return {
        "algorithm": ALGORITHM,
        "ciphertext": base64.b64encode(sealed).decode("ascii"),
        "associated_data": associated_data,
        "original_type": original_type,
        "nonce": nonce,
    }


def decrypt_resource(api_v3_key: bytes, resource: Mapping) -> str:
    """The plaintext of a notification's ``resource``; raises
    ``NotificationRejected("decrypt_failed")`` for another algorithm, a missing field or
    anything that does not authenticate (tampered ciphertext, associated data or nonce)."""
    try:
        if resource.get("algorithm") != ALGORITHM:
            raise NotificationRejected("decrypt_failed", f"algorithm {resource.get('algorithm')}")
        nonce = str(resource["nonce"]).encode()
        sealed = base64.b64decode(resource["ciphertext"], validate=True)
        associated = str(resource.get("associated_data") or "").encode()
        return _aes_key(api_v3_key).decrypt(nonce, sealed, associated).decode()
    except NotificationRejected:
        raise
    except (KeyError, TypeError, AttributeError, ValueError, binascii.Error, InvalidTag):
        # InvalidTag: tampered or wrong key; ValueError: nonce length, bad UTF-8, bad base64.
        raise NotificationRejected("decrypt_failed", "resource does not decrypt") from None


# --- Money text (the bill file) --------------------------------------------------------------
# [0-9], not \d: \d also matches other scripts' digits.
_YUAN = re.compile(r"(-?)([0-9]+)(?:\.([0-9]{1,2}))?")


def fen_to_yuan(fen: int) -> str:
    """``1234`` -> ``"12.34"``, ``-5`` -> ``"-0.05"``: exact, integer arithmetic."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError("fen is an int")
    sign_ = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign_}{yuan}.{cents:02d}"


def yuan_to_fen(text: str) -> int:
    """``"12.34"`` -> ``1234``; also ``"12"``, ``"12.3"``, ``"-0.05"`` and a leading backtick
    (the bill's text marker). Raises ``ValueError`` for anything else: empty, ``"1.2.3"``,
    ``"abc"``, ``"1.234"`` (more than two decimals), ``"1e3"``, ``"+1"``, spaces inside."""
    if not isinstance(text, str):
        raise ValueError("amount text is a str")
    cleaned = text.strip().removeprefix("`")
    match = _YUAN.fullmatch(cleaned)
    if not match:
        raise ValueError(f"not an amount in yuan: {text!r}")
    negative, yuan, cents = match.groups()
    fen = int(yuan) * 100 + int((cents or "0").ljust(2, "0"))
    return -fen if negative else fen
