"""Settlement pages and files through their URLs: the merchant's own statements (page and
CSV), the console's batches and statements by grid, the payout file for head office only;
every refusal (another merchant's statement, outside the grid, a cashier, branch staff asking
for the payout file or reconciliation)."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from payments.models import Settlement, SettlementAudit, SettlementBatch
from payments.services.settlement import settlement_run

from .test_settlement import D, campaign_coupons, day_d  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(day_d):  # noqa: F811
    return settlement_run(day=D)


@pytest.fixture
def mine(batch, shop):
    return Settlement.objects.get(batch=batch, merchant=shop)


@pytest.fixture
def theirs(batch, other_shop):
    return Settlement.objects.get(batch=batch, merchant=other_shop)


def url(name, *args):
    return reverse(f"settlement:{name}", args=args)


def rows(response) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_owner_sees_its_settlements_and_statement(client, owner, mine, day_d):  # noqa: F811
    client.force_login(owner)
    listing = client.get(url("merchant_settlements"))
    assert listing.status_code == 200
    body = listing.content.decode()
    assert mine.reference in body and "¥113.84" in body

    page = client.get(url("merchant_statement", mine.pk))
    assert page.status_code == 200
    body = page.content.decode()
    for order in ("a", "b", "c"):
        assert day_d[order].out_trade_no in body
    assert day_d["elsewhere"].out_trade_no not in body
    assert day_d["ra"].out_refund_no in body
    assert "¥70.00" in body and "-¥25.00" in body  # A's cash, its partial refund
    assert "¥113.84" in body and "**** 0123" in body  # the payout; the account masked
    assert "6222 0212 3456 7890 123" not in body
    assert 'id="statement-rules"' in body
    # Chinese first (the default language), through the translations.
    assert "结算对账单" in body and "累计退款比例" in body and "向下取整" in body


def test_the_statement_as_csv(client, owner, mine, day_d):  # noqa: F811
    client.force_login(owner)
    response = client.get(url("merchant_statement_csv", mine.pk))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    table = rows(response)
    assert table[0][:4] == ["reference", "time", "kind", "order_number"]
    lines = {(r[2], r[3], r[4]): r for r in table[1:] if r[2] in ("payment", "refund")}
    a, ra = day_d["a"], day_d["ra"]
    assert lines["payment", a.out_trade_no, ""][6:12] == [
        "120.00", "70.00", "0.42", "20.00", "30.00", "119.58"
    ]
    assert lines["refund", a.out_trade_no, ra.out_refund_no][7:12] == [
        "-25.00", "-0.15", "0.00", "-10.71", "-35.56"
    ]
    totals = {r[2]: r[11] for r in table[1:] if r[2].startswith(("total", "net", "payout", "debt"))}
    assert totals["payout"] == totals["net"] == "113.84"
    assert totals["total_fee"] == "0.45" and totals["debt_carried_forward"] == "0.00"


def test_another_merchants_statement_is_not_found(client, other_owner, mine):
    client.force_login(other_owner)
    assert client.get(url("merchant_statement", mine.pk)).status_code == 404
    assert client.get(url("merchant_statement_csv", mine.pk)).status_code == 404
    assert mine.reference not in client.get(url("merchant_settlements")).content.decode()


def test_a_cashier_sees_no_settlements(client, cashier, mine):
    """Statements are the business's money (payouts, fees, debts, the account): the owner's."""
    client.force_login(cashier)
    assert client.get(url("merchant_settlements")).status_code == 403
    assert client.get(url("merchant_statement", mine.pk)).status_code == 403
    assert client.get(url("merchant_statement_csv", mine.pk)).status_code == 403


def test_branch_staff_see_their_grids_settlements_only(client, officer, batch, mine, theirs):
    client.force_login(officer)
    listing = client.get(url("console_batches"))
    assert listing.status_code == 200
    assert "¥113.84" in listing.content.decode() and "¥9.94" not in listing.content.decode()
    page = client.get(url("console_batch", batch.pk))
    assert page.status_code == 200
    body = page.content.decode()
    assert mine.merchant.code in body and theirs.merchant.code not in body
    assert url("console_payout_file", batch.pk) not in body
    assert client.get(url("console_statement", mine.pk)).status_code == 200
    assert client.get(url("console_statement_csv", mine.pk)).status_code == 200
    # Outside the grid: not found.
    assert client.get(url("console_statement", theirs.pk)).status_code == 404
    assert client.get(url("console_statement_csv", theirs.pk)).status_code == 404


def test_branch_staff_of_another_grid(client, other_officer, batch, mine, theirs):
    client.force_login(other_officer)
    assert client.get(url("console_statement", mine.pk)).status_code == 404
    body = client.get(url("console_batch", batch.pk)).content.decode()
    assert theirs.merchant.code in body and mine.merchant.code not in body


def test_a_batch_with_nothing_in_the_grid_is_not_found(client, other_officer, payer, qr):
    from .test_settlement import at, paid

    paid(payer, qr, 1000, when=at(D, 10))  # only ``shop``, in the other grid
    batch = settlement_run(day=D)
    client.force_login(other_officer)
    assert client.get(url("console_batch", batch.pk)).status_code == 404


def test_only_head_office_downloads_the_payout_file(client, officer, manager, head_office, batch, shop):
    for staff in (officer, manager):
        client.force_login(staff)
        assert client.get(url("console_payout_file", batch.pk)).status_code == 403
    assert not SettlementAudit.objects.filter(action="payout_file").exists()

    client.force_login(head_office)
    response = client.get(url("console_payout_file", batch.pk))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="payout-{D:%Y%m%d}.csv"'
    table = rows(response)
    line = next(r for r in table[1:] if r[1] == shop.code)
    assert line[4] == "6222021234567890123" and line[5] == "113.84"
    assert SettlementAudit.objects.filter(action="payout_file", actor=head_office).count() == 1
    assert client.get(url("console_payout_file", 999_999)).status_code == 404


def test_head_office_sees_every_settlement_and_runs_a_day(client, head_office, day_d, shop, other_shop):  # noqa: F811
    client.force_login(head_office)
    answer = client.post(url("console_run"), {"day": D.isoformat()})
    batch = SettlementBatch.objects.get()
    assert answer.status_code == 302 and answer["Location"] == url("console_batch", batch.pk)
    assert batch.source == "console" and batch.run_by == head_office
    again = client.post(url("console_run"), {"day": D.isoformat()})
    assert again["Location"] == url("console_batch", batch.pk)
    assert SettlementBatch.objects.count() == 1
    body = client.get(url("console_batch", batch.pk)).content.decode()
    assert shop.code in body and other_shop.code in body
    assert url("console_payout_file", batch.pk) in body
    assert client.post(url("console_run"), {"day": "not a day"}).status_code == 302


def test_others_are_refused(client, customer, owner, officer, batch, mine):
    # Not signed in: to sign in.
    assert client.get(url("merchant_settlements")).status_code == 302
    assert client.get(url("console_batches")).status_code == 302
    client.force_login(customer)
    assert client.get(url("merchant_settlements")).status_code == 403
    assert client.get(url("console_batches")).status_code == 403
    assert client.get(url("console_statement", mine.pk)).status_code == 403
    client.force_login(owner)  # a merchant is not console staff
    assert client.get(url("console_batches")).status_code == 403
    assert client.get(url("console_payout_file", batch.pk)).status_code == 403
    client.force_login(officer)  # branch staff run nothing, see no reconciliation
    assert client.post(url("console_run"), {"day": D.isoformat()}).status_code == 403
    assert client.get(url("console_reconciliation")).status_code == 403
