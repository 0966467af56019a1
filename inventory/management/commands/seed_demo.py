"""``manage.py seed_demo``: build the Sulawesi Tengah demo (see ``inventory.demo``). Safe to run again."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from alokon.models import Role
from inventory.demo.seed import seed_demo
from inventory.demo.users import DEMO_USERS, demo_password


class Command(BaseCommand):
    help = "Build the Sulawesi Tengah demo (locations, lots, stock history, users). Running it again changes nothing."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Set every demo user's password back to ALOKON_DEMO_PASSWORD.",
        )
        parser.add_argument("--quiet", action="store_true", help="Print nothing.")

    def handle(self, *args, reset_passwords: bool = False, quiet: bool = False, **options):
        result = seed_demo(reset_passwords=reset_passwords)
        alerts = None
        if result.created_stock:
            # The demo opens with its alerts (low stock, expiry, MOBIYA…) already there,
            # computed as the nightly run would; no e-mail goes out for them.
            from inventory.models import LocationChange
            from reports.services.alerts import compute_alerts

            alerts = compute_alerts(notify=False)
            LocationChange.objects.all().delete()
        if quiet or options["verbosity"] == 0:
            return
        if result.created_stock:
            self.stdout.write(
                self.style.SUCCESS(
                    _(
                        "Demo data created: %(locations)d locations, %(lots)d lots, %(movements)d movements "
                        "(%(entries)d ledger entries), %(users)d users."
                    )
                    % {
                        "locations": result.locations,
                        "lots": result.stock.lots,
                        "movements": result.stock.movements,
                        "entries": result.stock.entries,
                        "users": len(result.users),
                    }
                )
            )
        else:
            self.stdout.write(
                _("Demo data already present, stock unchanged; %(locations)d locations and %(users)d users checked.")
                % {"locations": result.locations, "users": len(result.users)}
            )
        if alerts is not None:
            self.stdout.write(_("Alerts computed: %(count)d open.") % {"count": len(alerts.opened)})
        if reset_passwords:
            self.stdout.write(_("Demo passwords reset."))
        self.stdout.write(_("Demo logins (password: %(password)s):") % {"password": demo_password()})
        for user in DEMO_USERS:
            self.stdout.write(f"  {user.username:<12} {user.location_code:<10} {Role(user.role).label}")
