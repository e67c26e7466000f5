"""WeChat Pay v3 signatures, notification encryption and money text (pure functions)."""

import base64
import json

import pytest

from payments.gateways import wechatpay_crypto as crypto
from payments.gateways.base import NotificationRejected
from sandbox_gateway.conf import DEV_KEYS

MERCHANT_PRIVATE = (DEV_KEYS / "merchant_private.pem").read_bytes()
MERCHANT_PUBLIC = (DEV_KEYS / "merchant_public.pem").read_bytes()
PLATFORM_PRIVATE = (DEV_KEYS / "platform_private.pem").read_bytes()
PLATFORM_PUBLIC = (DEV_KEYS / "platform_public.pem").read_bytes()
KEY = b"sandbox-apiv3-key-32-bytes-long!"
NOW = 1_777_000_000
KEYS = {"PLATFORM-1": PLATFORM_PUBLIC}


def signed(body: str, **kwargs) -> dict:
    kwargs.setdefault("timestamp", NOW)
    return crypto.signed_headers(
        private_key_pem=PLATFORM_PRIVATE, serial="PLATFORM-1", body=body, **kwargs
    )


def test_sign_verify_round_trip():
    signature = crypto.sign(MERCHANT_PRIVATE, "hello\n")
    assert crypto.verify(MERCHANT_PUBLIC, "hello\n", signature)
    assert not crypto.verify(MERCHANT_PUBLIC, "hello", signature)
    assert not crypto.verify(PLATFORM_PUBLIC, "hello\n", signature)  # another key
    assert not crypto.verify(MERCHANT_PUBLIC, "hello\n", "not base64!")


def test_messages_are_the_spec_strings():
    assert (
        crypto.request_message("get", "/v3/x?a=1", 1554208460, "N", "")
        == "GET\n/v3/x?a=1\n1554208460\nN\n\n"
    )
    assert (
        crypto.request_message("POST", "/v3/x", 1, "N", b'{"a":1}')
        == 'POST\n/v3/x\n1\nN\n{"a":1}\n'
    )
    assert crypto.response_message(1, "N", "{}") == "1\nN\n{}\n"


def test_authorization_header_round_trip():
    header = crypto.authorization_header(
        mchid="1900000103", serial_no="S1", private_key_pem=MERCHANT_PRIVATE, method="POST",
        url="/v3/refund/domestic/refunds", body='{"a":1}', timestamp=NOW, nonce="ABC",
    )  # fmt: skip
    assert header.startswith(
        'WECHATPAY2-SHA256-RSA2048 mchid="1900000103",nonce_str="ABC",signature="'
    )
    params = crypto.parse_authorization(header)
    assert params["timestamp"] == str(NOW) and params["serial_no"] == "S1"
    verified = crypto.verify_authorization(
        header, method="POST", url="/v3/refund/domestic/refunds", body='{"a":1}',
        public_keys={"S1": MERCHANT_PUBLIC}, now=NOW,
    )  # fmt: skip
    assert verified["mchid"] == "1900000103"
    with pytest.raises(NotificationRejected) as refused:
        crypto.verify_authorization(
            header, method="POST", url="/v3/refund/domestic/refunds", body='{"a":2}',
            public_keys={"S1": MERCHANT_PUBLIC}, now=NOW,
        )  # fmt: skip
    assert refused.value.code == "signature_invalid"


@pytest.mark.parametrize(
    "header",
    ["", "Basic abc", 'WECHATPAY2-SHA256-RSA2048 mchid="1"', "WECHATPAY2-SHA256-RSA2048 mchid=1,x"],
)
def test_parse_authorization_refuses_garbage(header):
    with pytest.raises(NotificationRejected) as refused:
        crypto.parse_authorization(header)
    assert refused.value.code == "malformed"


def test_verify_signed_accepts_and_reads_headers_in_any_case():
    headers = signed('{"a":1}')
    crypto.verify_signed(headers, b'{"a":1}', public_keys=KEYS, now=NOW)
    crypto.verify_signed(
        {k.lower(): v for k, v in headers.items()}, '{"a":1}', public_keys=KEYS, now=NOW + 299
    )
    wsgi = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    crypto.verify_signed(wsgi, b'{"a":1}', public_keys=KEYS, now=NOW)


def _refused(headers, body=b'{"a":1}', now=NOW, keys=KEYS) -> str:
    with pytest.raises(NotificationRejected) as refused:
        crypto.verify_signed(headers, body, public_keys=keys, now=now)
    return refused.value.code


def test_verify_signed_refuses_each_fault_with_its_code():
    headers = signed('{"a":1}')
    assert _refused(headers, body=b'{"a":2}') == "signature_invalid"  # tampered body
    assert (
        _refused(headers, keys={"PLATFORM-1": MERCHANT_PUBLIC}) == "signature_invalid"
    )  # wrong key
    assert _refused(headers, now=NOW + 301) == "timestamp_out_of_window"  # stale
    assert _refused(headers, now=NOW - 301) == "timestamp_out_of_window"  # from the future
    assert _refused({**headers, "Wechatpay-Serial": "OTHER"}) == "unknown_serial"
    for name in (
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
    ):
        assert _refused({k: v for k, v in headers.items() if k != name}) == "malformed", name
    assert _refused({**headers, "Wechatpay-Timestamp": "12a"}) == "malformed"
    assert _refused({**headers, "Wechatpay-Signature-Type": "WECHATPAY2-SM2"}) == "malformed"


def test_a_stale_message_is_refused_before_its_key_is_looked_at():
    assert _refused({**signed("{}"), "Wechatpay-Serial": "OTHER"}, body=b"{}", now=NOW + 3600) == (
        "timestamp_out_of_window"
    )


def test_resource_round_trip_as_wechat_makes_it():
    resource = crypto.encrypt_resource(
        KEY, '{"trade_state":"SUCCESS"}', associated_data="transaction"
    )
    assert resource["algorithm"] == "AEAD_AES_256_GCM"
    assert len(resource["nonce"]) == 12 and resource["original_type"] == "transaction"
    # base64 of ciphertext followed by the 16-byte tag
    assert len(base64.b64decode(resource["ciphertext"])) == len('{"trade_state":"SUCCESS"}') + 16
    assert json.loads(crypto.decrypt_resource(KEY, resource)) == {"trade_state": "SUCCESS"}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: {**r, "associated_data": "refund"},
        lambda r: {**r, "nonce": "AAAAAAAAAAAA"},
        lambda r: {**r, "algorithm": "AES_128_CBC"},
        lambda r: {**r, "ciphertext": "!!"},
        lambda r: {k: v for k, v in r.items() if k != "nonce"},
        lambda r: {
            **r,
            "ciphertext": base64.b64encode(
                bytes([base64.b64decode(r["ciphertext"])[0] ^ 1])
                + base64.b64decode(r["ciphertext"])[1:]
            ).decode(),
        },
    ],
)
def test_a_tampered_resource_is_refused(tamper):
    resource = crypto.encrypt_resource(KEY, '{"a":1}', associated_data="transaction")
    with pytest.raises(NotificationRejected) as refused:
        crypto.decrypt_resource(KEY, tamper(resource))
    assert refused.value.code == "decrypt_failed"


def test_another_api_v3_key_cannot_decrypt():
    resource = crypto.encrypt_resource(KEY, '{"a":1}', associated_data="transaction")
    with pytest.raises(NotificationRejected):
        crypto.decrypt_resource(b"another-key-of-exactly-32-bytes!", resource)


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (1234, "12.34"),
        (-5, "-0.05"),
        (10**12, "10000000000.00"),
    ],
)
def test_fen_to_yuan(fen, text):
    assert crypto.fen_to_yuan(fen) == text
    assert crypto.yuan_to_fen(text) == fen


@pytest.mark.parametrize(
    ("text", "fen"), [("12", 1200), ("12.3", 1230), ("`0.01", 1), (" 5.00 ", 500)]
)
def test_yuan_to_fen_reads_the_bills_forms(text, fen):
    assert crypto.yuan_to_fen(text) == fen


@pytest.mark.parametrize(
    "text",
    [
        "",
        "`",
        "abc",
        "1.2.3",
        "1.234",
        "1e3",
        "+1",
        "1,000.00",
        ".5",
        "1.",
        "１２",
        "1 2",
        "0x10",
        "NaN",
    ],
)
def test_yuan_to_fen_refuses_anything_else(text):
    with pytest.raises(ValueError):
        crypto.yuan_to_fen(text)


@pytest.mark.parametrize("value", [1.5, "12", True, None])
def test_fen_to_yuan_takes_ints_only(value):
    with pytest.raises(TypeError):
        crypto.fen_to_yuan(value)
