"""History tables that PostgreSQL itself keeps append-only.

The ``Immutable`` model base stops the ORM's instance ``save()``/``delete()``; a trigger made
by :func:`refuse_changes` also stops ``QuerySet.update()``/``.delete()`` and hand-written SQL.
TRUNCATE (test flushes) is not a row operation and still works. SQLite keeps only the model
guards. Used by migrations: ``operations = [refuse_changes("coupons", [...tables])]``.
"""

from django.db import migrations


def refuse_changes(prefix: str, tables: list[str]) -> migrations.RunPython:
    function = f"{prefix}_refuse_change"
    create = (
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$\n"
        "BEGIN\n"
        "    RAISE EXCEPTION 'history rows are immutable (% on %)', TG_OP, TG_TABLE_NAME;\n"
        "END;\n"
        "$$ LANGUAGE plpgsql;\n"
    ) + "".join(
        f"CREATE TRIGGER {t}_immutable BEFORE UPDATE OR DELETE ON {t} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}();\n"
        for t in tables
    )
    drop = "".join(f"DROP TRIGGER IF EXISTS {t}_immutable ON {t};\n" for t in tables) + (
        f"DROP FUNCTION IF EXISTS {function}();"
    )

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create, params=None)

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(drop, params=None)

    return migrations.RunPython(forwards, backwards)
