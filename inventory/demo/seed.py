"""Seed the demo in one transaction; a second run only makes sure locations and users exist.

Service figures and month closes (``figures``) are built when the demo clinics have
none yet, so a demo seeded before they existed gets them on its next run.

Whether the demo's stock has been built is read from the ledger itself (the
demo's opening movement exists), not from a flag that could disagree with it: the
ledger is append-only, so once that movement is there the whole history is too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from inventory.demo.figures import build_figures
from inventory.demo.locations import ensure_locations
from inventory.demo.stock import OPENING_DOCUMENT, StockSummary, build_stock
from inventory.demo.users import DEMO_USERS, ensure_users
from inventory.models import Movement


@dataclass(frozen=True)
class SeedResult:
    created_stock: bool
    locations: int
    users: list[str]
    stock: StockSummary
    figures: int = 0  # service figures created by this run


def demo_seeded() -> bool:
    return Movement.objects.filter(document=OPENING_DOCUMENT).exists()


def seed_demo(*, reset_passwords: bool = False, today: dt.date | None = None) -> SeedResult:
    today = today or timezone.localdate()
    with transaction.atomic():
        # Two seeders started together (two `make run`s) would both find no demo and
        # both build one: the second waits here, then finds the first one's.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('alokon.seed_demo'))")
        tree = ensure_locations()
        users = ensure_users(tree, reset_passwords=reset_passwords)
        created = not demo_seeded()
        stock = StockSummary()
        if created:
            stock = build_stock(tree=tree, users=users, today=today)
        # Separate from the stock: a demo seeded before service figures existed gets them on the next run.
        figures = build_figures(tree=tree, users=users, today=today)
    return SeedResult(
        created_stock=created,
        locations=len(tree),
        users=[u.username for u in DEMO_USERS],
        stock=stock,
        figures=figures,
    )
