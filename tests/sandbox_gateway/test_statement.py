"""The daily bill: a Shanghai day's payments and refunds with the right amounts, and the
faults that make it disagree with our books."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from sandbox_gateway import services
from sandbox_gateway.models import Refund, Trade
from tests.sandbox_gateway.helpers import create, make_gateway

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def gateway(settings):
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False
    return make_gateway()


def paid_at(out_trade_no: str, moment: datetime) -> None:
    """Move a payment (and its refunds) to another time, as if it had happened then."""
    Trade.objects.filter(out_trade_no=out_trade_no).update(paid_at=moment)
    Refund.objects.filter(trade__out_trade_no=out_trade_no).update(
        created_at=moment + timedelta(minutes=1)
    )


def test_a_shanghai_day_holds_its_payments_and_refunds(gateway):
    day = timezone.now().astimezone(SHANGHAI).date() - timedelta(days=1)
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    for number, amount_fen, moment in [
        (
            "P202605040001",
            1001,
            start + timedelta(seconds=5),
        ),  # 00:00:05 Shanghai, still the 'day before' in UTC
        ("P202605040002", 2002, start + timedelta(hours=23, minutes=58)),
        ("P202605040003", 3003, start - timedelta(seconds=5)),  # the day before
        ("P202605040004", 4004, start + timedelta(days=1)),  # the day after, to the second
    ]:
        services.pay(create(gateway, number, amount_fen=amount_fen).prepay_id)
        paid_at(number, moment)
    gateway.refund(
        out_trade_no="P202605040001",
        out_refund_no="R0401-1",
        amount_fen=1,
        total_fen=1001,
        notify_url="",
    )
    gateway.refund(
        out_trade_no="P202605040002",
        out_refund_no="R0402-1",
        amount_fen=2002,
        total_fen=2002,
        notify_url="",
    )
    paid_at("P202605040001", start + timedelta(seconds=5))
    paid_at("P202605040002", start + timedelta(hours=23, minutes=58))  # its refund at 23:59
    services.refunds_settle_due(now=timezone.now() + timedelta(minutes=1))
    text = gateway.statement(day=day)
    assert text.startswith("交易时间,") and "`P202605040001" in text
    lines = gateway.parse_statement(text)
    assert [(line.kind, line.out_trade_no, line.amount_fen, line.status) for line in lines] == [
        ("payment", "P202605040001", 1001, "paid"),
        ("refund", "P202605040001", 1, "refunded"),
        ("payment", "P202605040002", 2002, "paid"),
        ("refund", "P202605040002", 2002, "refunded"),
    ]
    assert all(line.at.astimezone(SHANGHAI).date() == day for line in lines)
    summary = text.strip().splitlines()[-1]
    assert summary == "`4,`30.03,`20.03,`0.00,`0.00,`30.03,`20.03"


def test_statement_amount_and_drop_change_the_file(gateway):
    for number in ("P202605040011", "P202605040012", "P202605040013"):
        services.pay(create(gateway, number, amount_fen=1000).prepay_id)
    services.misbehave("P202605040011", statement_amount_fen=999)
    services.misbehave("P202605040012", drop_from_statement=True)
    gateway.refund(
        out_trade_no="P202605040012",
        out_refund_no="R0412-1",
        amount_fen=10,
        total_fen=1000,
        notify_url="",
    )
    lines = gateway.parse_statement(
        gateway.statement(day=timezone.now().astimezone(SHANGHAI).date())
    )
    assert [(line.out_trade_no, line.amount_fen) for line in lines] == [
        ("P202605040011", 999),
        ("P202605040013", 1000),
    ]


def test_fees_on_the_bill_are_rounded_in_fen(gateway, settings):
    settings.SANDBOX_GATEWAY_FEE_RATE_BP = 60  # 0.60 %
    services.pay(create(gateway, "P202605040021", amount_fen=1234).prepay_id)  # 7.404 fen
    gateway.refund(
        out_trade_no="P202605040021",
        out_refund_no="R0421-1",
        amount_fen=1234,
        total_fen=1234,
        notify_url="",
    )
    text = gateway.statement(day=timezone.now().astimezone(SHANGHAI).date())
    payment, refund = gateway.parse_statement(text)
    assert (payment.fee_fen, refund.fee_fen) == (7, -7)
    assert "`0.60%" in text and text.strip().splitlines()[-1].split(",")[4] == "`0.00"
