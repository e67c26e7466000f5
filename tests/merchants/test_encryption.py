"""Settlement account details are encrypted at rest and shown masked."""

from django.db import connection

from merchants.crypto import decrypt, mask_account
from merchants.models import Merchant, MerchantApplication
from tests.merchants.factories import approved_merchant

NUMBER = "6222021234567890123"
NAME = "Hangzhou Lakeside Tea House Co., Ltd."


def raw(table: str, pk: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT settlement_account_number, settlement_account_name FROM {table} WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def test_the_raw_columns_hold_no_account_number_or_name(head_office, branch):
    merchant = approved_merchant(reviewer=head_office)
    for table, pk in (
        (Merchant._meta.db_table, merchant.pk),
        (MerchantApplication._meta.db_table, merchant.application_id),
    ):
        number, name = raw(table, pk)
        assert NUMBER not in number and "7890123" not in number and "0123" not in number
        assert "Lakeside" not in name
        assert number.startswith("gAAAAA")  # a Fernet token
        assert decrypt(number) == NUMBER
    fresh = Merchant.objects.get(pk=merchant.pk)
    assert (fresh.settlement_account_number, fresh.settlement_account_name) == (NUMBER, NAME)


def test_shown_masked(head_office, branch):
    merchant = approved_merchant(reviewer=head_office)
    assert merchant.masked_account_number == "**** 0123"
    assert mask_account("1234") == "****"
    assert mask_account("") == ""


def test_the_same_number_encrypts_differently(head_office, branch):
    a = approved_merchant(reviewer=head_office)
    b = approved_merchant(reviewer=head_office)
    assert raw(Merchant._meta.db_table, a.pk)[0] != raw(Merchant._meta.db_table, b.pk)[0]


def test_another_key_cannot_read_it(head_office, branch, settings):
    import pytest
    from django.core.exceptions import ImproperlyConfigured

    merchant = approved_merchant(reviewer=head_office)
    settings.ALLIANCE_FIELD_ENCRYPTION_KEY = "another-key"
    with pytest.raises(ImproperlyConfigured):
        Merchant.objects.get(pk=merchant.pk)
