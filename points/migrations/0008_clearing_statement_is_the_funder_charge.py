"""Clearing statements become the funder charge (daily settlement pays the spending merchant).

``funded_elsewhere_fen`` becomes ``funded_fen`` (now also the points a merchant funded and that
were spent at its own shops), ``spent_here_fen`` becomes ``spent_here_paid_fen`` (information:
all points spent there, paid in daily settlement) and ``net_fen`` changes sign: what the
merchant owes the bank, equal to ``funded_fen``.

Statements are immutable and a statement written under the old rule would read, under the new
names, as a charge of the wrong amount and sign. So this migration refuses to run over any
existing statement instead of reinterpreting it: keep those rows elsewhere first, or extend
this migration to mark them.

On PostgreSQL the three clearing tables also become append-only, like the ledger.
"""

from django.db import migrations, models

from alliance.immutable import refuse_changes


def _refuse_statements(apps, rule: str) -> None:
    if count := apps.get_model("points", "ClearingStatement").objects.count():
        raise RuntimeError(
            f"{count} points clearing statements exist, written under {rule}; they cannot be "
            "reinterpreted under the other one. Archive them before migrating."
        )


def forwards(apps, schema_editor):
    _refuse_statements(apps, "the old rule (the merchant where points were spent was owed them)")


def backwards(apps, schema_editor):
    _refuse_statements(apps, "the funder charge")


class Migration(migrations.Migration):

    dependencies = [
        ("points", "0007_no_indexes_the_composites_cover"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.RemoveConstraint(
            model_name="clearingstatement",
            name="clearingstatement_net",
        ),
        migrations.RenameField(
            model_name="clearingstatement",
            old_name="funded_elsewhere_fen",
            new_name="funded_fen",
        ),
        migrations.RenameField(
            model_name="clearingstatement",
            old_name="spent_here_fen",
            new_name="spent_here_paid_fen",
        ),
        migrations.AlterField(
            model_name="clearingstatement",
            name="funded_fen",
            field=models.BigIntegerField(verbose_name="points it funded, spent anywhere (fen)"),
        ),
        migrations.AlterField(
            model_name="clearingstatement",
            name="spent_here_paid_fen",
            field=models.BigIntegerField(
                verbose_name="points spent here, already paid in daily settlement (fen)"
            ),
        ),
        migrations.AlterField(
            model_name="clearingstatement",
            name="net_fen",
            field=models.BigIntegerField(verbose_name="owed to the bank (fen)"),
        ),
        migrations.AddConstraint(
            model_name="clearingstatement",
            constraint=models.CheckConstraint(
                condition=models.Q(("net_fen", models.F("funded_fen"))),
                name="clearingstatement_net_is_funder_charge",
            ),
        ),
        refuse_changes(
            "points_clearing",
            ["points_clearingrun", "points_clearingline", "points_clearingstatement"],
        ),
    ]
