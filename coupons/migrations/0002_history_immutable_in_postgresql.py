"""On PostgreSQL the database refuses UPDATE and DELETE of coupon history rows (template
changes, coupon events, campaign budget movements)."""

from django.db import migrations

from alliance.immutable import refuse_changes


class Migration(migrations.Migration):
    dependencies = [("coupons", "0001_initial")]
    operations = [
        refuse_changes(
            "coupons",
            ["coupons_templatechange", "coupons_couponevent", "coupons_campaignentry"],
        )
    ]
