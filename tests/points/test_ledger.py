"""The posting primitive, accounts, immutability and the invariant check."""

import io

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from points import services
from points.models import ImmutableRow, JournalEntry, JournalLine, PointsAccount
from points.selectors import ledger_check
from points.services import Line

from .conftest import sh
from .factories import earn_available, key

Kind = PointsAccount.Kind
NOW = sh(2026, 3, 10, 12, 0)


@pytest.fixture
def clearing_pair(db):
    return (
        services.system_account(kind=Kind.CLEARING, merchant_id=1),
        services.system_account(kind=Kind.CLEARING, merchant_id=2),
    )


def test_post_moves_balances_and_is_idempotent(clearing_pair, assert_ledger_ok):
    a, b = clearing_pair
    lines = [Line(account_id=a.pk, amount=-30), Line(account_id=b.pk, amount=30)]
    first = services.points_post(lines=lines, idempotency_key="settle:1", reason="settle", now=NOW)
    again = services.points_post(lines=lines, idempotency_key="settle:1", reason="settle", now=NOW)
    assert again.pk == first.pk
    a.refresh_from_db(), b.refresh_from_db()
    assert (a.balance, b.balance) == (-30, 30)
    assert JournalEntry.objects.count() == 1
    assert_ledger_ok()


@pytest.mark.parametrize(
    "amounts", [[-30, 29], [10], [0, 0], [-5, 0, 5]], ids=["not-zero", "one-line", "zeros", "a-zero"]
)
def test_post_refuses_unbalanced_entries(clearing_pair, amounts):
    a, b = clearing_pair
    lines = [Line(account_id=(a.pk, b.pk)[i % 2], amount=x) for i, x in enumerate(amounts)]
    with pytest.raises(Exception) as exc:
        services.points_post(lines=lines, idempotency_key=key(), reason="x", now=NOW)
    assert exc.value.code == "unbalanced_entry"
    assert not JournalEntry.objects.exists()


def test_post_refuses_customer_accounts(clearing_pair, customer):
    account = services.customer_account(customer_id=customer.pk)
    lines = [Line(account_id=clearing_pair[0].pk, amount=-5), Line(account_id=account.pk, amount=5)]
    with pytest.raises(Exception) as exc:
        services.points_post(lines=lines, idempotency_key=key(), reason="x", now=NOW)
    assert exc.value.code == "points_customer_account_needs_service"


def test_a_key_used_for_another_kind_is_refused(customer, head_office):
    earn_available(customer, 100, now=NOW)
    services.points_spend(customer_id=customer.pk, points=10, idempotency_key="k1", now=NOW)
    with pytest.raises(Exception) as exc:
        services.points_adjust(actor=head_office, customer_id=customer.pk, points=1, reason="x",
                               idempotency_key="k1", now=NOW)
    assert exc.value.code == "idempotency_key_reused"


def test_entries_and_lines_are_immutable(customer):
    entry = earn_available(customer, 100, now=NOW)
    with pytest.raises(ImmutableRow):
        entry.reason = "changed"
        entry.save()
    with pytest.raises(ImmutableRow):
        entry.delete()
    line = JournalLine.objects.filter(entry=entry).first()
    with pytest.raises(ImmutableRow):
        line.save()
    with pytest.raises(ImmutableRow):
        line.delete()


def test_the_database_refuses_a_negative_customer_balance(customer):
    account = services.customer_account(customer_id=customer.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsAccount.objects.filter(pk=account.pk).update(balance=-1)


def test_one_account_per_customer_and_per_system_kind(customer):
    a = services.customer_account(customer_id=customer.pk)
    assert services.customer_account(customer_id=customer.pk).pk == a.pk
    issuance = services.system_account(kind=Kind.BANK_ISSUANCE)
    assert services.system_account(kind=Kind.BANK_ISSUANCE).pk == issuance.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsAccount.objects.create(kind=Kind.BANK_ISSUANCE)
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsAccount.objects.create(kind=Kind.CUSTOMER, customer=customer)


def test_points_check_command_reports_ok(customer):
    earn_available(customer, 100, now=NOW)
    out = io.StringIO()
    call_command("points_check", stdout=out)
    assert "OK" in out.getvalue()


def test_points_check_finds_and_reports_breaks(customer):
    earn_available(customer, 100, now=NOW)
    account = services.customer_account(customer_id=customer.pk)
    PointsAccount.objects.filter(pk=account.pk).update(balance=90)  # corrupt on purpose
    rules = {b.rule for b in ledger_check().breaks}
    assert rules == {"balance differs from its lines", "balance differs from available lots"}
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("points_check", stdout=out)
    assert exit_.value.code == 1
    assert "balance differs from its lines" in out.getvalue()


def test_points_check_finds_an_unbalanced_entry(customer):
    entry = earn_available(customer, 100, now=NOW)
    issuance = services.system_account(kind=Kind.BANK_ISSUANCE)
    JournalLine.objects.create(entry=entry, account=issuance, amount=-1)  # bypassing services
    PointsAccount.objects.filter(pk=issuance.pk).update(balance=issuance.balance - 1)
    rules = [b.rule for b in ledger_check().breaks]
    assert rules == ["entry lines do not sum to zero"]


@pytest.mark.postgres
def test_postgresql_refuses_updates_and_deletes_of_journal_rows(customer):
    from django.db import DatabaseError

    entry = earn_available(customer, 100, now=NOW)
    with pytest.raises(DatabaseError), transaction.atomic():
        JournalEntry.objects.filter(pk=entry.pk).update(reason="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        JournalLine.objects.filter(entry=entry).delete()
    assert JournalLine.objects.filter(entry=entry).count() == 2
