"""The WeChat Pay v3 adapter against the sandbox gateway, in-process: the real views, headers
and signatures, no server."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from payments.gateways import wechatpay_crypto as crypto
from payments.gateways.base import GatewayError
from sandbox_gateway import bills, services
from sandbox_gateway.conf import DEV_KEYS
from tests.sandbox_gateway.helpers import RETURN_URL, SUB_MCHID, create, make_gateway

pytestmark = pytest.mark.django_db


@pytest.fixture
def gateway():
    return make_gateway()


def test_create_gives_the_hosted_page_with_our_return_url(gateway):
    prepay = create(gateway, "P202605010001")
    parts = urlsplit(prepay.pay_url)
    assert parts.path == f"/sandbox-gateway/pay/{prepay.prepay_id}/"
    assert parse_qs(parts.query) == {"redirect_url": [RETURN_URL]}
    assert prepay.prepay_id.startswith("wx")


def test_create_is_idempotent_by_out_trade_no(gateway):
    expires_at = timezone.now() + timedelta(minutes=15)
    first = create(gateway, "P202605010002", expires_at=expires_at)
    assert create(gateway, "P202605010002", expires_at=expires_at) == first
    with pytest.raises(GatewayError) as refused:
        create(gateway, "P202605010002", amount_fen=999, expires_at=expires_at)
    assert refused.value.code == "OUT_TRADE_NO_USED" and not refused.value.retryable


def test_create_refuses_what_the_channel_refuses(gateway):
    with pytest.raises(GatewayError) as refused:
        create(gateway, "P1")  # too short for the channel
    assert refused.value.code == "PARAM_ERROR" and not refused.value.retryable
    with pytest.raises(GatewayError) as refused:
        create(gateway, "P202605010003", expires_at=timezone.now() - timedelta(seconds=1))
    assert refused.value.code == "PARAM_ERROR"


def test_query_follows_the_trade(gateway):
    prepay = create(gateway, "P202605010004", amount_fen=1234)
    unpaid = gateway.query(out_trade_no="P202605010004")
    assert (unpaid.status, unpaid.amount_fen, unpaid.paid_at, unpaid.account) == (
        "notpay",
        None,
        None,
        SUB_MCHID,
    )
    services.pay(prepay.prepay_id)
    paid = gateway.query(out_trade_no="P202605010004", account=SUB_MCHID)
    assert (paid.status, paid.amount_fen, paid.account) == ("paid", 1234, SUB_MCHID)
    assert len(paid.transaction_id) == 28 and paid.paid_at.utcoffset() == timedelta(hours=8)
    with pytest.raises(GatewayError) as refused:
        gateway.query(out_trade_no="P202605019999")
    assert refused.value.code == "ORDER_NOT_EXIST" and not refused.value.retryable


def test_opening_the_page_makes_it_paying_and_declining_failed(gateway):
    prepay = create(gateway, "P202605010005")
    Client().get(prepay.pay_url)
    assert gateway.query(out_trade_no="P202605010005").status == "paying"
    services.decline("P202605010005")
    assert gateway.query(out_trade_no="P202605010005").status == "failed"


def test_close_an_unpaid_trade_twice_and_refuse_a_paid_one(gateway):
    create(gateway, "P202605010006")
    gateway.close(out_trade_no="P202605010006")
    gateway.close(out_trade_no="P202605010006")  # a closed trade closes again without error
    assert gateway.query(out_trade_no="P202605010006").status == "closed"
    with pytest.raises(services.ChannelError) as refused:
        services.pay("P202605010006")
    assert refused.value.code == "ORDER_CLOSED"
    prepay = create(gateway, "P202605010007")
    services.pay(prepay.prepay_id)
    with pytest.raises(GatewayError) as refused:
        gateway.close(out_trade_no="P202605010007")
    assert refused.value.code == "trade_paid" and not refused.value.retryable
    assert gateway.query(out_trade_no="P202605010007").status == "paid"


def test_an_expired_trade_is_closed_and_cannot_be_paid(gateway):
    prepay = create(gateway, "P202605010008", expires_at=timezone.now() + timedelta(seconds=30))
    later = timezone.now() + timedelta(minutes=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: later)
        assert gateway.query(out_trade_no="P202605010008").status == "closed"
    with pytest.raises(services.ChannelError) as refused:
        services.pay(prepay.prepay_id)
    assert refused.value.code == "ORDER_CLOSED"


def test_refund_then_its_query_processing_then_succeeded(gateway, settings):
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    settings.SANDBOX_GATEWAY_REFUND_DELAY_S = 60
    prepay = create(gateway, "P202605010009", amount_fen=1000)
    services.pay(prepay.prepay_id)
    kwargs = dict(
        out_trade_no="P202605010009", total_fen=1000, notify_url="http://127.0.0.1:8000/n/"
    )
    state = gateway.refund(
        out_refund_no="R202605010009-1", amount_fen=300, reason="changed mind", **kwargs
    )
    assert (state.status, state.amount_fen, state.out_trade_no) == (
        "processing",
        300,
        "P202605010009",
    )
    assert (
        gateway.refund(out_refund_no="R202605010009-1", amount_fen=300, **kwargs) == state
    )  # idempotent
    assert gateway.refund_query(out_refund_no="R202605010009-1").status == "processing"
    assert gateway.query(out_trade_no="P202605010009").status == "refunded"
    later = timezone.now() + timedelta(seconds=61)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: later)
        done = gateway.refund_query(out_refund_no="R202605010009-1")
    assert (done.status, done.amount_fen, done.refund_id) == ("succeeded", 300, state.refund_id)
    assert done.succeeded_at is not None


def test_refunds_never_exceed_what_was_paid(gateway, settings):
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    prepay = create(gateway, "P202605010010", amount_fen=1000)
    kwargs = dict(out_trade_no="P202605010010", total_fen=1000, notify_url="")
    with pytest.raises(GatewayError) as refused:  # not paid yet
        gateway.refund(out_refund_no="R10-0", amount_fen=100, **kwargs)
    assert refused.value.code == "INVALID_REQUEST"
    services.pay(prepay.prepay_id)
    gateway.refund(out_refund_no="R10-1", amount_fen=700, **kwargs)
    with pytest.raises(GatewayError) as refused:
        gateway.refund(out_refund_no="R10-2", amount_fen=301, **kwargs)
    assert refused.value.code == "INVALID_REQUEST" and not refused.value.retryable
    gateway.refund(out_refund_no="R10-3", amount_fen=300, **kwargs)  # exactly what is left
    with pytest.raises(GatewayError):
        gateway.refund(out_refund_no="R10-4", amount_fen=1, **kwargs)
    with pytest.raises(GatewayError) as refused:  # the same number with another amount
        gateway.refund(out_refund_no="R10-1", amount_fen=600, **kwargs)
    assert refused.value.code == "INVALID_REQUEST"
    with pytest.raises(GatewayError) as refused:
        gateway.refund(
            out_refund_no="R10-5",
            amount_fen=1,
            out_trade_no="P202605010010",
            total_fen=999,
            notify_url="",
        )
    assert refused.value.code == "INVALID_REQUEST"
    with pytest.raises(GatewayError) as refused:
        gateway.refund_query(out_refund_no="R10-404")
    assert refused.value.code == "RESOURCE_NOT_EXISTS"


def test_a_failed_refund_frees_its_amount(gateway, settings):
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    services.misbehave("P202605010011", refund_outcome="ABNORMAL")
    services.pay(create(gateway, "P202605010011", amount_fen=500).prepay_id)
    refund = gateway.refund(
        out_trade_no="P202605010011",
        out_refund_no="R11-1",
        amount_fen=500,
        total_fen=500,
        notify_url="",
    )
    services.refund_settle(refund_id=services.Refund.objects.get(refund_id=refund.refund_id).pk)
    assert gateway.refund_query(out_refund_no="R11-1").status == "failed"
    assert gateway.query(out_trade_no="P202605010011").status == "paid"
    gateway.refund(
        out_trade_no="P202605010011",
        out_refund_no="R11-2",
        amount_fen=500,
        total_fen=500,
        notify_url="",
    )


def test_statement_downloads_verifies_and_parses(gateway, settings):
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    services.pay(create(gateway, "P202605010012", amount_fen=1234).prepay_id)
    services.pay(create(gateway, "P202605010013", amount_fen=99, account="M0000002").prepay_id)
    create(gateway, "P202605010014")  # never paid: not on the bill
    gateway.refund(
        out_trade_no="P202605010012",
        out_refund_no="R12-1",
        amount_fen=234,
        total_fen=1234,
        notify_url="",
    )
    today = timezone.now().astimezone(services.SHANGHAI).date()
    text = gateway.statement(day=today)
    lines = gateway.parse_statement(text)
    assert [
        (line.kind, line.out_trade_no, line.amount_fen, line.status, line.account) for line in lines
    ] == [
        ("payment", "P202605010012", 1234, "paid", SUB_MCHID),
        ("payment", "P202605010013", 99, "paid", "M0000002"),
        ("refund", "P202605010012", 234, "PROCESSING", SUB_MCHID),
    ]
    assert lines[2].out_refund_no == "R12-1" and lines[0].at.date() == today
    mine = gateway.parse_statement(gateway.statement(day=today, account="M0000002"))
    assert [line.out_trade_no for line in mine] == ["P202605010013"]
    assert gateway.statement(day=today - timedelta(days=1)) == ""  # NO_STATEMENT_EXIST
    assert gateway.parse_statement("") == []
    with pytest.raises(GatewayError) as refused:
        gateway.statement(day=today + timedelta(days=1))
    assert refused.value.code == "INVALID_REQUEST"


def test_statement_with_a_wrong_hash_is_refused(gateway, settings):
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    services.pay(create(gateway, "P202605010015").prepay_id)
    with pytest.MonkeyPatch.context() as patch:
        # The channel's file changes between the signed answer and the download.
        real = bills.bill_make

        def tampered(**kwargs):
            bill = real(**kwargs)
            bill.content += "`x"
            bill.save()
            return bill

        patch.setattr(bills, "bill_make", tampered)
        with pytest.raises(GatewayError) as refused:
            gateway.statement(day=timezone.now().astimezone(services.SHANGHAI).date())
    assert refused.value.code == "statement_hash_mismatch" and refused.value.retryable


HEADER = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注".split(
    ","
)
GOOD = dict(
    zip(
        HEADER,
        "2026-05-01 12:00:00,wx,1900000103,M1,,4200,P202605010099,o,MWEB,SUCCESS,OTHERS,CNY,12.34,0.00,0,0,0.00,0.00,,,Noodles,,0.07,0.60%,12.34,0.00,".split(
            ","
        ),
        strict=True,
    )
)


def _bill(*rows, summary=None):
    lines = [
        ",".join(HEADER),
        *rows,
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
    ]
    lines.append(summary or "`1,`12.34,`0.00,`0.00,`0.00,`12.34,`0.00")
    return "\r\n".join(lines) + "\r\n"


def row(**changes) -> str:
    fields = {**GOOD, **changes}
    return ",".join("`" + fields[name] for name in HEADER)


def test_parse_statement_reads_a_bill(gateway):
    (line,) = gateway.parse_statement(_bill(row()))
    assert (line.kind, line.amount_fen, line.fee_fen, line.account) == ("payment", 1234, 7, "M1")
    assert line.at.isoformat() == "2026-05-01T12:00:00+08:00"


@pytest.mark.parametrize(
    ("text", "line_no"),
    [
        (_bill(row(订单金额="12.3.4")), 2),
        (_bill(row(订单金额="abc")), 2),
        (_bill(row(订单金额="12.345")), 2),
        (_bill(row(手续费="")), 2),
        (_bill(row(交易时间="2026-13-01 12:00:00")), 2),
        (_bill(row(商户订单号="")), 2),
        (_bill(row() + ",`extra"), 2),
        (_bill(row(), row(商户订单号="P2")), 5),  # the summary counts one line
        (_bill(row(), summary="`1,`12.34,`0.00,`0.00,`0.00,`12.35,`0.00"), 4),  # total off by 1 fen
        (_bill(row(), summary="`1,`12.34"), 4),
        (_bill(row()).replace("订单金额,申请退款金额,费率备注", "金额,申请退款金额,费率备注"), 1),
    ],
)
def test_parse_statement_names_the_line_it_cannot_read(gateway, text, line_no):
    with pytest.raises(GatewayError) as refused:
        gateway.parse_statement(text)
    assert not refused.value.retryable and refused.value.code == "statement_unreadable"
    assert f"line {line_no}:" in str(refused.value)


def test_an_answer_with_a_bad_signature_is_refused(settings):
    # The platform's serial with another key: every answer fails verification.
    wrong = make_gateway(
        platform_keys={"SANDBOX-PLATFORM-SERIAL-0001": str(DEV_KEYS / "merchant_public.pem")}
    )
    with pytest.raises(GatewayError) as refused:
        create(wrong, "P202605010016")
    assert refused.value.code == "answer_unverified" and refused.value.retryable
    unknown = make_gateway(platform_keys={"ANOTHER-SERIAL": str(DEV_KEYS / "platform_public.pem")})
    with pytest.raises(GatewayError) as refused:
        unknown.query(out_trade_no="P202605010016")
    assert refused.value.code == "answer_unverified"
    assert "unknown" in str(refused.value)


def test_the_sandbox_refuses_a_request_with_a_bad_authorization():
    client = Client()
    url = "/sandbox-gateway/v3/pay/partner/transactions/out-trade-no/P202605010017?sp_mchid=1900000103"
    answer = client.get(url)
    assert answer.status_code == 401 and answer.json()["code"] == "SIGN_ERROR"
    merchant_key = (DEV_KEYS / "merchant_private.pem").read_bytes()
    platform_key = (DEV_KEYS / "platform_private.pem").read_bytes()

    def auth(
        key=merchant_key, signed_url=url, timestamp=None, serial="SANDBOX-MERCHANT-SERIAL-0001"
    ):
        return crypto.authorization_header(
            mchid="1900000103", serial_no=serial, private_key_pem=key, method="GET",
            url=signed_url, body="", timestamp=timestamp,
        )  # fmt: skip

    for header in (
        auth(key=platform_key),  # not the merchant's key
        auth(signed_url=url.replace("P202605010017", "P202605010018")),  # signed another URL
        auth(timestamp=int(timezone.now().timestamp()) - 301),  # stale
        auth(serial="UNKNOWN"),
        "WECHATPAY2-SHA256-RSA2048 nonsense",
    ):
        answer = client.get(url, headers={"Authorization": header})
        assert answer.status_code == 401, header
        assert answer.json()["code"] == "SIGN_ERROR"
        # Refusals are signed answers too.
        crypto.verify_signed(
            answer.headers, answer.content,
            public_keys={"SANDBOX-PLATFORM-SERIAL-0001": (DEV_KEYS / "platform_public.pem").read_bytes()},
        )  # fmt: skip
    answer = client.get(url, headers={"Authorization": auth()})
    assert answer.status_code == 404 and answer.json()["code"] == "ORDER_NOT_EXIST"


def test_a_merchant_may_not_act_for_another():
    gateway = make_gateway("wechat")
    prepay = create(gateway, "P202605010019")
    other = make_gateway("alipay")  # another service-provider merchant id
    with pytest.raises(GatewayError) as refused:
        other.query(out_trade_no="P202605010019")
    assert refused.value.code == "ORDER_NOT_EXIST"
    assert prepay.prepay_id


def test_channel_unreachable_is_retryable():
    gateway = make_gateway(
        transport="http", base_url="http://127.0.0.1:9/sandbox-gateway", timeout_s=2
    )
    with pytest.raises(GatewayError) as refused:
        gateway.query(out_trade_no="P202605010020")
    assert refused.value.retryable and refused.value.code == "transport_error"


def test_acknowledge_and_reject_as_v3_wants(gateway):
    assert gateway.acknowledge() == (204, b"", "")
    status, body, content_type = gateway.reject(message="签名错误")
    assert status == 500 and content_type == "application/json"
    assert json.loads(body) == {"code": "FAIL", "message": "签名错误"}


@pytest.mark.django_db(transaction=True)
def test_over_http_against_a_live_server(live_server, settings):
    """The http transport: urllib to a real server, the URL signed as it goes on the wire
    (a trade number with the channel's '|' and '*')."""
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    gateway = make_gateway(transport="http", base_url=f"{live_server.url}/sandbox-gateway")
    prepay = create(gateway, "P2026|0501*0021", amount_fen=321)
    assert prepay.pay_url.startswith(f"{live_server.url}/sandbox-gateway/pay/")
    services.pay(prepay.prepay_id)
    assert gateway.query(out_trade_no="P2026|0501*0021").amount_fen == 321
    gateway.refund(
        out_trade_no="P2026|0501*0021",
        out_refund_no="R21|1",
        amount_fen=21,
        total_fen=321,
        notify_url="",
    )
    assert gateway.refund_query(out_refund_no="R21|1").amount_fen == 21
    day = timezone.now().astimezone(services.SHANGHAI).date()
    assert [line.kind for line in gateway.parse_statement(gateway.statement(day=day))] == [
        "payment",
        "refund",
    ]
