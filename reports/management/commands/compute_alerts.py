"""``manage.py compute_alerts [--location CODE] [--quiet] [--no-notify]``: recompute the alerts now.

Runs the same ``reports.services.alerts.compute_alerts`` as the nightly and the
debounced tasks, synchronously, and prints per kind how many alerts it opened,
updated and resolved (with ``-v 2``, each alert).
"""

import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from inventory.models import Location
from reports.models import Alert, AlertKind
from reports.services.alerts import compute_alerts

CHANGES = ("opened", "updated", "resolved")
WIDTHS = {"opened": 8, "updated": 9, "resolved": 10}


class Command(BaseCommand):
    help = "Recompute every alert (or those of one location's subtree) and print what was opened, updated, resolved."

    def add_arguments(self, parser):
        parser.add_argument("--location", metavar="CODE", help="only this location and the locations below it")
        parser.add_argument("--quiet", action="store_true", help="print nothing")
        parser.add_argument("--no-notify", action="store_true", help="do not deliver the opened alerts")

    def handle(self, *args, location=None, quiet=False, no_notify=False, verbosity=1, **options):
        location_ids = None
        if location:
            root = Location.objects.real().filter(code=location).first()
            if root is None:
                raise CommandError(f"No location with code {location!r}.")
            location_ids = list(Location.objects.real().subtree(root).values_list("pk", flat=True))
        started = time.monotonic()
        result = compute_alerts(location_ids, notify=not no_notify)
        elapsed = time.monotonic() - started
        if quiet:
            return
        changed = {name: getattr(result, name) for name in CHANGES}
        alerts = Alert.objects.select_related("location", "product").in_bulk(
            [pk for ids in changed.values() for pk in ids]
        )
        counts = {name: Counter(alerts[pk].kind for pk in ids) for name, ids in changed.items()}
        kinds = [k for k in AlertKind.values if any(counts[name][k] for name in CHANGES)]
        self.stdout.write(f"{'kind':<18}" + "".join(f"{n:>{WIDTHS[n]}}" for n in CHANGES))
        for kind in kinds:
            self.stdout.write(f"{kind:<18}" + "".join(f"{counts[n][kind]:>{WIDTHS[n]}}" for n in CHANGES))
        totals = "".join(f"{len(changed[n]):>{WIDTHS[n]}}" for n in CHANGES)
        self.stdout.write(f"{'total':<18}{totals}")
        if verbosity >= 2:
            for name in CHANGES:
                for pk in sorted(changed[name]):
                    alert = alerts[pk]
                    product = alert.product.code if alert.product_id else "-"
                    self.stdout.write(
                        f"{name:<9} #{alert.pk} {alert.kind} {alert.location.code} {product} quantity={alert.quantity}"
                    )
        self.stdout.write(self.style.SUCCESS(f"computed in {elapsed:.1f} s"))
