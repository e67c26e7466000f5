"""``manage.py points_check``: verify the points ledger; exit status 1 on any break."""

import sys

from django.core.management.base import BaseCommand

from points.selectors import ledger_check


class Command(BaseCommand):
    help = "Verify every invariant of the points ledger and report any break."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=100, help="breaks to print at most")

    def handle(self, *args, limit: int, **options):
        report = ledger_check()
        self.stdout.write(
            f"points ledger: {report.entries} entries, {report.accounts} accounts, {report.lots} lots"
        )
        if report.ok:
            self.stdout.write(self.style.SUCCESS("OK: every invariant holds."))
            return
        self.stdout.write(self.style.ERROR(f"{len(report.breaks)} break(s):"))
        for brk in report.breaks[:limit]:
            self.stdout.write(f"  {brk}")
        if len(report.breaks) > limit:
            self.stdout.write(f"  ... and {len(report.breaks) - limit} more")
        sys.exit(1)
