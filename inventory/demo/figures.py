"""Demo service figures: active and new users per method for every demo clinic, and closed months.

For each of the ``FIGURE_MONTHS`` complete months before the seeding day, each
clinic reports the methods it dispenses. Active users follow from the clinic's
monthly demand (``stock.plan_demand``) and how much one user takes a month: a
cycle of pills, a vial of the 1-month injectable, a third of a 3-month vial, about
ten condoms; IUD and implant users are counted for years after one insertion, so
their active users are many times the monthly insertions, and new users are the
insertions. New users of short-acting methods are a small share of the active ones.

One clinic is made to lose users: Puskesmas Biromaru (72.10-001, in the field
worker pkb7210's district), which has run out of the 3-month injectable, sees its
injectable users fall month after month, so the dropout-risk alert has a case.

Kota Palu (72.71) has closed every month but the last one; Sigi has closed none.

Rows are written with ``bulk_create`` (not the one-by-one service) to keep seeding
fast; they satisfy the same constraints. Whether they exist is read from the
table: a second run writes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping

from django.utils import timezone

from inventory.demo.stock import month_end, plan_demand
from inventory.models import Level, Location, MonthClose, Product, ServiceFigure

FIGURE_MONTHS = 6
CLOSED_DISTRICT = "72.71"
FALLING = ("72.10-001", "SUNTIK-3")  # (clinic, method) whose active users fall
FALL_PER_MONTH = 0.2  # over the last months

#: active users per unit dispensed in a month
USERS_PER_UNIT = {
    "PIL-KOMB": 1.0,
    "PIL-PROG": 1.0,
    "SUNTIK-1": 1.0,
    "SUNTIK-3": 3.0,
    "KONDOM": 0.1,
    "IUD": 30.0,
    "IMPLAN-1": 20.0,
    "IMPLAN-2": 20.0,
}
LONG_ACTING = {"IUD", "IMPLAN-1", "IMPLAN-2"}


def figure_months(today: dt.date) -> list[dt.date]:
    """First days of the ``FIGURE_MONTHS`` complete months before ``today``'s month, oldest first."""
    index = today.year * 12 + today.month - 1
    return [dt.date((index - n) // 12, (index - n) % 12 + 1, 1) for n in range(FIGURE_MONTHS, 0, -1)]


def _reporter(location: Location, users: Mapping[str, object]):
    """The demo user who types the clinic's figures: its own staff, else the district's, else the province's."""
    by_location = {user.location.code: user for user in users.values() if user.location_id and user.role == "warehouse"}
    for code in (location.code, location.parent.code, "72"):
        if code in by_location:
            return by_location[code]
    return users["admin"]


def build_figures(*, tree: dict[str, Location], users: Mapping[str, object], today: dt.date) -> int:
    """Create the demo figures and month closes if there are none yet; return the number of figures created."""
    clinics = [loc for loc in tree.values() if loc.level == Level.CLINIC]
    months = figure_months(today)
    closes = 0
    district = tree.get(CLOSED_DISTRICT)
    if district is not None:
        closer = users.get("kab7271") or users["admin"]
        for month in months[:-1]:
            _close, created = MonthClose.objects.get_or_create(
                location=district,
                month=month,
                defaults={"closed_by": closer, "closed_at": _at(month_end(month) + dt.timedelta(days=10))},
            )
            closes += created
    if ServiceFigure.objects.filter(location__in=clinics).exists():
        return 0
    products = {p.code: p for p in Product.objects.filter(code__in=USERS_PER_UNIT)}
    rows = []
    for plans in plan_demand(tree).values():
        for plan in plans:
            rng = random.Random(f"alokon-demo-figures-{plan.location.code}")
            reporter = _reporter(plan.location, users)
            for code, units in sorted(plan.demand.items()):
                if code not in products:
                    continue
                base = max(1, round(units * USERS_PER_UNIT[code]))
                for index, month in enumerate(months):
                    active = round(base * rng.uniform(0.95, 1.05))
                    if (plan.location.code, code) == FALLING and index >= FIGURE_MONTHS - 3:
                        active = round(active * (1 - FALL_PER_MONTH) ** (index - (FIGURE_MONTHS - 4)))
                    if code in LONG_ACTING:
                        new = min(active, max(0, round(units * rng.uniform(0.7, 1.3))))
                    else:
                        new = min(active, round(active * rng.uniform(0.04, 0.10)))
                    rows.append(
                        ServiceFigure(
                            location=plan.location,
                            month=month,
                            product=products[code],
                            active_users=active,
                            new_users=new,
                            recorded_by=reporter,
                            recorded_at=_at(month_end(month) + dt.timedelta(days=rng.randint(1, 5))),
                        )
                    )
    ServiceFigure.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _at(day: dt.date) -> dt.datetime:
    """Ten in the morning of ``day`` (never in the future)."""
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(10)))
    return min(moment, timezone.now())
