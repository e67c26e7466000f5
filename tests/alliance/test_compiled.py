"""CompiledQuery: the ORM's query, compiled once, gives the queryset's own answers."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from alliance.compiled import CompiledQuery
from merchants.models import Merchant
from tests.factories import UserFactory
from tests.merchants.factories import approved_merchant

pytestmark = pytest.mark.django_db


def fields(obj) -> dict:
    return {k: v for k, v in obj.__dict__.items() if k != "_state"}


def test_the_rows_are_the_querysets_for_every_value():
    users = [UserFactory(role="customer", name=f"Customer {i}") for i in range(4)]
    by_role_or_name = CompiledQuery(
        lambda role, name: User.objects.filter(Q(role=role) | Q(name=name)).order_by("pk"),
        role="\0role",
        name="\0name",
    )
    for role, name in [("customer", "nobody"), ("branch_officer", "Customer 2"), ("x", "y")]:
        expected = list(User.objects.filter(Q(role=role) | Q(name=name)).order_by("pk"))
        got = by_role_or_name.fetch(role=role, name=name)
        assert [fields(u) for u in got] == [fields(u) for u in expected]
        assert all(not u._state.adding and u._state.db == "default" for u in got)
    assert len(by_role_or_name.fetch(role="customer", name="")) == len(users)


def test_it_compiles_once_and_sends_one_query():
    user = UserFactory(role="customer")
    by_pk = CompiledQuery(lambda pk: User.objects.filter(pk=pk), pk=-1)
    by_pk.fetch(pk=user.pk)
    with CaptureQueriesContext(connection) as captured:
        assert by_pk.fetch(pk=user.pk)[0].phone == user.phone
        assert by_pk.fetch(pk=user.pk + 1000) == []
    assert len(captured.captured_queries) == 2
    assert [q["sql"] for q in captured.captured_queries][0].count(str(user.pk)) == 1


def test_fields_read_back_through_their_converters_and_deferred_as_only_left_them(officer):
    merchant = approved_merchant(reviewer=officer, settlement_account_number="6222020200112233445")
    raw = connection.cursor()
    raw.execute(
        "SELECT settlement_account_number FROM merchants_merchant WHERE id = %s", [merchant.pk]
    )
    assert raw.fetchone()[0] != "6222020200112233445"  # encrypted at rest
    compiled = CompiledQuery(
        lambda pk: Merchant.objects.only("business_name", "settlement_account_number").filter(
            pk=pk
        ),
        pk=-1,
    )
    got = compiled.fetch(pk=merchant.pk)[0]
    assert got.settlement_account_number == "6222020200112233445"
    assert got.get_deferred_fields() >= {"status", "code"}
    assert got.status == merchant.status  # a deferred field still loads when asked for


def test_what_it_cannot_compile_is_refused():
    with pytest.raises(ImproperlyConfigured, match="does not carry"):
        CompiledQuery(lambda pk: User.objects.filter(pk=1), pk=-1).fetch(pk=1)
    with pytest.raises(ImproperlyConfigured, match="equal"):
        CompiledQuery(lambda a, b: User.objects.filter(pk=a, branch_id=b), a=-1, b=-1).fetch(
            a=1, b=2
        )
    with pytest.raises(ImproperlyConfigured, match="own columns"):
        CompiledQuery(lambda pk: User.objects.select_related("branch").filter(pk=pk), pk=-1).fetch(
            pk=1
        )


@pytest.mark.postgres
def test_on_postgresql_the_statement_is_prepared_once_per_connection():
    from django.db import IntegrityError

    from alliance.compiled import hot_cursor

    assert connection.connection.prepare_threshold is not None  # the settings allow them
    user = UserFactory(role="customer")
    by_pk = CompiledQuery(lambda pk: User.objects.filter(pk=pk), pk=-1)
    for _ in range(2):
        assert by_pk.fetch(pk=user.pk)[0].pk == user.pk
    sql = by_pk._compiled["default"][1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert sum(1 for s in prepared if s.startswith(sql.split("%s")[0])) == 1
    # Django's errors, not psycopg's, from a prepared statement (the claim relies on it).
    with pytest.raises(IntegrityError), hot_cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_user (password, phone, role, is_active, is_staff,"
            " is_superuser, date_joined, failed_login_count, name)"
            " SELECT password, phone, role, true, false, false, now(), 0, '' FROM accounts_user"
            " WHERE id = %s",
            [user.pk],
        )


def test_its_sql_runs_inside_a_bigger_statement():
    users = [UserFactory(role="customer") for _ in range(3)]
    by_pk = CompiledQuery(lambda pk: User.objects.filter(pk=pk).only("id"), pk=-1)
    sql, args = by_pk.sql(pk=users[1].pk)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), min(id) FROM ({sql}) found", args)
        assert cursor.fetchone() == (1, users[1].pk)
        cursor.execute(f"SELECT count(*) FROM ({by_pk.sql(pk=-5)[0]}) found", [-5])
        assert cursor.fetchone() == (0,)
