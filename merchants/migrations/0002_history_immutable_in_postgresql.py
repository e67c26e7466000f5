"""On PostgreSQL the database refuses UPDATE and DELETE of merchant history rows."""

from django.db import migrations

from alliance.immutable import refuse_changes


class Migration(migrations.Migration):
    dependencies = [("merchants", "0001_initial")]
    operations = [
        refuse_changes("merchants", ["merchants_statuschange", "merchants_profilechange"])
    ]
