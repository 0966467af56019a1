"""``manage.py open_overdue``: open overdue discrepancies now (what the daily task does) and list them."""

import datetime as dt

from django.core.management.base import BaseCommand

from inventory.services.discrepancies import open_overdue_discrepancies


class Command(BaseCommand):
    help = "Open an overdue discrepancy for each lot still in transit past its shipment's expected arrival."

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", type=dt.date.fromisoformat, default=None, help="Count as overdue before this day (YYYY-MM-DD)."
        )

    def handle(self, *args, **options):
        result = open_overdue_discrepancies(today=options["date"])
        for record in result.opened:
            shipment = record.shipment
            self.stdout.write(
                f"{shipment.number}: {record.product.code} lot {record.lot.batch}, {record.quantity} in transit,"
                f" expected {shipment.expected_arrival.isoformat()}"
            )
        self.stdout.write(
            self.style.SUCCESS(f"Opened {result.count} overdue discrepancies for {result.shipments} shipments.")
        )
