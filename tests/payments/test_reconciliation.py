"""Reconciliation: a channel's statement against our records of the day.

First through the sandbox gateway's real bill (in-process: its views, signatures and file),
broken on purpose (``sandbox_gateway.services.misbehave``): an amount, a line left off, a trade
we never had, a trade we closed that the channel has paid. Then the comparison on statement
lines as our parser gives them, for what the sandbox cannot be told to do (a refund the
channel still has processing, a revoked payment, another day, another account). Re-runs, the
kept file, and the console page for head office only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from payments import services
from payments.gateways import StatementLine, TradeState, gateway_for
from payments.models import ReconciliationDifference, ReconciliationRun
from payments.services import reconciliation
from payments.services.reconciliation import compare, reconciliation_record, reconciliation_run
from payments.services.settlement import business_zone
from sandbox_gateway import services as sandbox

from .conftest import key
from .test_orders import create
from .test_settlement import D1, D, at, paid, refunded

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _deliver_by_hand(settings):
    """The sandbox's notifications wait; our side asks the channel instead (query)."""
    settings.SANDBOX_GATEWAY_AUTO_DELIVER = False


def today():
    return timezone.localtime(timezone.now(), business_zone()).date()


def on_channel(payer, qr, gross_fen, *, pay=True):
    """An order sent to the sandbox (WeChat Pay) and, if ``pay``, paid there and here (our
    side asks the channel, as the poll does)."""
    order = create(payer, qr, gross_fen, channel="wechat")
    order = services.order_start_payment(order_id=order.pk)
    if pay:
        sandbox.pay(order.out_trade_no)
        order = services.order_settle_open(order_id=order.pk)
        assert order.status == "paid"
    return order


def refund_on_channel(owner, order, amount_fen, *, settle=True):
    refund = services.refund_request(actor=owner, out_trade_no=order.out_trade_no,
                                     amount_fen=amount_fen, idempotency_key=key("refund"),
                                     reason="goods returned")
    refund = services.refund_submit(refund_id=refund.pk)
    if settle:
        sandbox.refunds_settle_due()
        state = gateway_for("wechat").refund_query(out_refund_no=refund.out_refund_no,
                                                   account=order.merchant.code)
        refund, _ = services.refund_apply_state(state=state, source="gateway")
        assert refund.status == "succeeded"
    return refund


def kinds(run) -> dict[str, str]:
    return {d.out_refund_no or d.out_trade_no: d.kind for d in run.differences.all()}


@pytest.fixture
def broken_day(payer, qr, owner, shop):
    """Today on WeChat Pay: one payment and its refund that match, one whose bill line shows
    ¥1 more, one left off the bill, one we closed that the channel has paid, one trade the
    channel has that we never had, and a refund still processing on both sides."""
    good = on_channel(payer, qr, 5000)
    good_refund = refund_on_channel(owner, good, 1000)
    still = refund_on_channel(owner, good, 500, settle=False)
    wrong = on_channel(payer, qr, 3000)
    sandbox.misbehave(wrong.out_trade_no, statement_amount_fen=wrong.amount_fen + 100)
    dropped = on_channel(payer, qr, 2000)
    sandbox.misbehave(dropped.out_trade_no, drop_from_statement=True)
    closed = on_channel(payer, qr, 4000, pay=False)
    sandbox.pay(closed.out_trade_no)  # paid there; here it closed first, no report came
    services.order_apply_trade(trade=TradeState(out_trade_no=closed.out_trade_no, status="closed"),
                               source="system")
    stranger = "P20990101000000000001"
    prepay = gateway_for("wechat").create(
        out_trade_no=stranger, amount_fen=777, description="?", account=shop.code,
        notify_url="http://testserver/", return_url="http://testserver/",
        expires_at=timezone.now() + timedelta(minutes=15),
    )
    sandbox.pay(prepay.prepay_id)
    return dict(good=good, good_refund=good_refund, still=still, wrong=wrong, dropped=dropped,
                closed=closed, stranger=stranger)


def test_the_sandbox_statement_broken_on_purpose(broken_day, head_office):
    b = broken_day
    run = reconciliation_run(day=today(), channel="wechat", actor=head_office, source="console")

    assert run.status == "differences" and run.attempt == 1
    assert kinds(run) == {
        b["wrong"].out_trade_no: "amount_mismatch",
        b["dropped"].out_trade_no: "missing_channel",
        b["closed"].out_trade_no: "status_mismatch",
        b["stranger"]: "missing_ours",
    }
    diffs = {d.kind: d for d in run.differences.all()}
    amount = diffs["amount_mismatch"]
    assert (amount.our_amount_fen, amount.channel_amount_fen) == (3000, 3100)
    assert amount.order == b["wrong"] and amount.merchant == b["wrong"].merchant
    status = diffs["status_mismatch"]
    assert (status.our_status, status.channel_status) == ("closed", "paid")
    assert diffs["missing_ours"].channel_amount_fen == 777 and diffs["missing_ours"].order is None
    assert diffs["missing_channel"].channel_amount_fen is None
    # The file is kept as downloaded; the figures of both sides.
    assert run.statement_text.startswith("交易时间") and len(run.statement_sha256) == 64
    assert (run.channel_payments, run.channel_refunds) == (4, 2)  # good, wrong, closed, stranger
    assert (run.our_payments, run.our_refunds) == (3, 1)  # good, wrong, dropped; good's refund
    assert run.differences_count == 4 and run.run_by == head_office


def test_a_rerun_with_the_same_file_is_the_same_run_and_a_fixed_one_a_new_attempt(broken_day):
    first = reconciliation_run(day=today(), channel="wechat")
    assert reconciliation_run(day=today(), channel="wechat").pk == first.pk
    assert ReconciliationRun.objects.count() == 1
    assert ReconciliationDifference.objects.count() == 4

    sandbox.behave(broken_day["wrong"].out_trade_no)  # the channel corrects its line
    second = reconciliation_run(day=today(), channel="wechat")
    assert second.attempt == 2 and second.statement_sha256 != first.statement_sha256
    assert broken_day["wrong"].out_trade_no not in kinds(second)
    assert len(kinds(second)) == 3
    assert first.differences.count() == 4  # the earlier attempt stays as it was


def test_a_day_without_a_statement_is_compared_as_an_empty_file(db):
    quiet = reconciliation_run(day=today() - timedelta(days=30), channel="wechat")
    assert (quiet.status, quiet.statement_text, quiet.differences_count) == ("matched", "", 0)
    assert reconciliation_run(day=today(), channel="alipay").status == "matched"


def test_a_statement_that_cannot_be_read_is_a_failed_run_with_the_file(payer, qr, monkeypatch):
    on_channel(payer, qr, 1000)
    gateway = gateway_for("wechat")
    monkeypatch.setattr(gateway, "statement", lambda day, account="": "garbage\r\n")
    run = reconciliation_run(day=today(), channel="wechat")
    assert run.status == "failed" and run.statement_text == "garbage\r\n"
    assert run.error.startswith("statement_unreadable")
    assert reconciliation_run(day=today(), channel="wechat").pk == run.pk  # same failure


# --- The comparison on our parser's lines ---------------------------------------------------------
def line(order, **fields) -> StatementLine:
    values = dict(kind="payment", out_trade_no=order.out_trade_no, amount_fen=order.amount_fen,
                  status="paid", account=order.merchant.code, at=order.paid_at)
    values.update(fields)
    return StatementLine(**values)


def refund_line(refund, **fields) -> StatementLine:
    values = dict(kind="refund", out_trade_no=refund.order.out_trade_no,
                  out_refund_no=refund.out_refund_no, amount_fen=refund.amount_fen,
                  status="refunded", account=refund.order.merchant.code, at=refund.succeeded_at)
    values.update(fields)
    return StatementLine(**values)


def test_every_kind_of_difference(payer, qr, owner, other_qr):
    ok = paid(payer, qr, 5000, when=at(D, 9))
    ok_refund = refunded(owner, ok, 1000, when=at(D, 10))
    processing = refunded(owner, ok, 500, when=at(D, 11))
    revoked = paid(payer, qr, 2000, when=at(D, 12))
    cheaper = paid(payer, qr, 3000, when=at(D, 13))
    missing = paid(payer, qr, 1500, when=at(D, 14))
    full = paid(payer, qr, 800, when=at(D, 15))
    full_refund = refunded(owner, full, 800, when=at(D, 16))
    tomorrow = paid(payer, qr, 900, when=at(D1, 0, 5))
    elsewhere = paid(payer, other_qr, 600, when=at(D, 17))
    lines = [
        line(ok), refund_line(ok_refund),
        refund_line(processing, status="PROCESSING"),  # ours succeeded
        line(revoked, status="REVOKED"),  # ours paid
        line(cheaper, amount_fen=2999),
        line(full, status="refunded"),  # the trade refunded in full: so do we
        line(tomorrow),  # we have it on the next day
        line(elsewhere, account="M9999999"),
        line(ok, out_trade_no="P-UNKNOWN", amount_fen=1234),
        refund_line(ok_refund, out_refund_no="R-UNKNOWN"),
    ]
    # Not on the statement: ``missing`` and ``full``'s refund.
    diffs = compare(day=D, channel="wechat", lines=lines)
    found = sorted((d.kind, d.line_kind, d.out_refund_no or d.out_trade_no) for d in diffs)
    assert found == sorted([
        ("status_mismatch", "refund", processing.out_refund_no),
        ("status_mismatch", "payment", revoked.out_trade_no),
        ("amount_mismatch", "payment", cheaper.out_trade_no),
        ("other_day", "payment", tomorrow.out_trade_no),
        ("account_mismatch", "payment", elsewhere.out_trade_no),
        ("missing_ours", "payment", "P-UNKNOWN"),
        ("missing_ours", "refund", "R-UNKNOWN"),
        ("missing_channel", "payment", missing.out_trade_no),
        ("missing_channel", "refund", full_refund.out_refund_no),
    ])
    by_key = {d.out_refund_no or d.out_trade_no: d for d in diffs}
    assert by_key[processing.out_refund_no].our_status == "succeeded"
    assert by_key[processing.out_refund_no].channel_status == "PROCESSING"
    assert by_key[cheaper.out_trade_no].channel_amount_fen == 2999
    assert by_key[tomorrow.out_trade_no].our_at == tomorrow.paid_at


def test_a_paid_order_the_channel_calls_refunded(payer, qr):
    order = paid(payer, qr, 5000, when=at(D, 9))
    (diff,) = compare(day=D, channel="wechat", lines=[line(order, status="refunded")])
    assert (diff.kind, diff.our_status, diff.channel_status) == ("status_mismatch", "paid", "refunded")


def test_other_channels_and_other_days_are_not_ours_to_compare(payer, qr):
    paid(payer, qr, 5000, when=at(D, 9))  # WeChat Pay
    assert compare(day=D, channel="alipay", lines=[]) == []
    assert compare(day=D1, channel="wechat", lines=[]) == []


def test_recorded_runs_of_lines(payer, qr):
    order = paid(payer, qr, 5000, when=at(D, 9))
    matched = reconciliation_record(day=D, channel="wechat", statement_text="x", lines=[line(order)])
    assert (matched.status, matched.our_paid_fen, matched.channel_paid_fen) == ("matched", 5000, 5000)
    assert reconciliation_record(day=D, channel="wechat", statement_text="x",
                                 lines=[line(order)]).pk == matched.pk
    broken = reconciliation_record(day=D, channel="wechat", statement_text="y",
                                   lines=[line(order, amount_fen=1)])
    assert (broken.attempt, broken.status, broken.differences_count) == (2, "differences", 1)


def test_the_scheduled_job_reconciles_every_channel(payer, qr):
    runs = reconciliation.reconciliation_run_due()
    assert sorted(r.channel for r in runs) == ["alipay", "bank_card", "unionpay", "wechat"]


# --- Pages ---------------------------------------------------------------------------------------
def test_head_office_sees_runs_differences_and_the_file(client, head_office, broken_day):
    run = reconciliation_run(day=today(), channel="wechat")
    client.force_login(head_office)
    listing = client.get(reverse("settlement:console_reconciliation"))
    assert listing.status_code == 200 and f'id="run-{run.pk}"' in listing.content.decode()
    page = client.get(reverse("settlement:console_reconciliation_run", args=[run.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    for number in (broken_day["wrong"].out_trade_no, broken_day["stranger"]):
        assert number in body
    assert body.count('class="difference ') == 4
    file = client.get(reverse("settlement:console_reconciliation_file", args=[run.pk]))
    assert file.status_code == 200 and file.content.decode() == run.statement_text
    # Run again from the page: the same file and result give the same run.
    again = client.post(reverse("settlement:console_reconciliation"),
                        {"day": today().isoformat(), "channel": "wechat"})
    assert again["Location"] == reverse("settlement:console_reconciliation_run", args=[run.pk])
    assert client.get(reverse("settlement:console_reconciliation_run", args=[999_999])).status_code == 404


def test_only_head_office_sees_reconciliation(client, officer, manager, owner, broken_day):
    run = reconciliation_run(day=today(), channel="wechat")
    for user in (officer, manager, owner):
        client.force_login(user)
        for name in ("console_reconciliation_run", "console_reconciliation_file"):
            assert client.get(reverse(f"settlement:{name}", args=[run.pk])).status_code == 403
        assert client.get(reverse("settlement:console_reconciliation")).status_code == 403
