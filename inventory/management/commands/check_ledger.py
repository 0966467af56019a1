"""``manage.py check_ledger``: exit 0 when the ledger and its balances agree, else list each mismatch."""

import time

from django.core.management.base import BaseCommand, CommandError

from inventory.services.ledger_check import ledger_check


class Command(BaseCommand):
    help = (
        "Check that every balance equals its entries, every balance-after chain holds and every movement nets to zero."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        report = ledger_check()
        elapsed = time.monotonic() - started
        summary = (
            f"{report.entries} entries, {report.balances} balances, {report.movements} movements "
            f"checked in {elapsed:.1f} s"
        )
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"OK: {summary}"))
            return
        for mismatch in report.mismatches:
            self.stdout.write(f"MISMATCH {mismatch.kind}: {mismatch.describe()}")
        raise CommandError(f"{len(report.mismatches)} mismatch(es); {summary}")
