"""On PostgreSQL, the database itself refuses UPDATE and DELETE of journal rows.

The model ``save()``/``delete()`` guards stop the ORM's instance methods; these triggers also
stop ``QuerySet.update()``/``.delete()`` and hand-written SQL. (TRUNCATE, used by test
flushes, is not a row operation and still works.) SQLite keeps only the model guards: its
test flush deletes rows one by one.
"""

from django.db import migrations

TABLES = ["points_journalentry", "points_journalline"]

CREATE = """
CREATE OR REPLACE FUNCTION points_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'points ledger rows are immutable (% on %)', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
""" + "".join(
    f"CREATE TRIGGER {t}_immutable BEFORE UPDATE OR DELETE ON {t} "
    f"FOR EACH ROW EXECUTE FUNCTION points_refuse_change();\n"
    for t in TABLES
)
DROP = "".join(f"DROP TRIGGER IF EXISTS {t}_immutable ON {t};\n" for t in TABLES) + (
    "DROP FUNCTION IF EXISTS points_refuse_change();"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("points", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
