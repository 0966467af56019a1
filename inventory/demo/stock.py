"""Demo stock history: an opening balance at the province, then months of distribution and dispensing.

The history covers the ``HISTORY_MONTHS`` complete months before the seeding day,
simulated month by month in business-date order; every step is posted through
``movement_post``:

- day 1 of the first month: the province's opening stock (``opening_balance_post``);
- every other month, days 2–4: the province dispatches to each district (SBBK,
  province → in transit), received a few days later (SBBM, in transit → district;
  longer for the island districts);
- the same months, days 14–16: each district resupplies its clinics up to the
  clinic's target months of stock, received one to three days later;
- the last day of every month: each clinic's monthly dispensing report
  (clinic → dispensed), first-expiry-first-out, never from an expired lot;
- day 24 of the last month: one more shipment to Buol, still in transit.

A mirror of the balances in memory decides every quantity before it is posted, so
no posting is ever refused: a district that runs short ships what it has, and a
clinic dispenses at most what is on its shelf. Clinics differ on purpose: most keep
about three months of stock, some run lean, some are overstocked, and a few
(clinic, product) pairs miss their last resupplies and run out, so that stock pages,
months of stock and alerts have something to show. Dispatches and receipts are sorted
by date within each step, so every location's stock card reads in date order.

Everything random comes from generators seeded with fixed strings, so the history
is the same for the same seeding day.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field

from alokon.models import Role
from inventory.demo.lots import LotSpec, cartons, create_lots
from inventory.models import Dispensing, DispensingPeriod, Level, Location, Lot, MovementKind, VirtualRole
from inventory.services.opening import opening_balance_post
from inventory.services.posting import EntrySpec, movement_post, transfer, virtual_location

#: the demo's first movement: if it exists, the demo has been seeded
OPENING_DOCUMENT = "SA-72-DEMO"
DEMO_NOTE = "seed_demo"

HISTORY_MONTHS = 7  # complete months before the current one
RESUPPLY_EVERY_MONTHS = 2  # province → districts and districts → clinics
DISTRICT_TARGET_MONTHS = 6  # of its clinics' demand
MIN_SHELF_LIFE_DAYS = 60  # a warehouse does not ship a lot closer to expiry than this
LAST_MONTHS_MISSED = 4  # a disrupted (clinic, product) gets no resupply in these last months
ISLAND_DISTRICTS = {"72.07", "72.11"}  # Banggai Kepulauan, Banggai Laut: by boat from Luwuk
IN_TRANSIT_DISTRICT = "72.05"  # Buol: one shipment still on the road at the end

# Monthly demand per clinic kind, (low, high) units: a puskesmas hands out pills and
# condoms by the hundred, injectables by the ten, IUDs and implants a few.
DEMAND = {
    "puskesmas": {
        "PIL-KOMB": (60, 180),
        "PIL-PROG": (8, 30),
        "SUNTIK-1": (10, 40),
        "SUNTIK-3": (40, 120),
        "KONDOM": (60, 300),
        "IUD": (1, 6),
        "IMPLAN-1": (2, 8),
        "IMPLAN-2": (1, 4),
    },
    "rs": {
        "PIL-KOMB": (5, 20),
        "PIL-PROG": (5, 15),
        "SUNTIK-3": (10, 30),
        "KONDOM": (20, 60),
        "IUD": (4, 12),
        "IMPLAN-1": (3, 8),
        "IMPLAN-2": (1, 4),
    },
    "klinik": {
        "PIL-KOMB": (15, 50),
        "PIL-PROG": (3, 10),
        "SUNTIK-1": (5, 15),
        "SUNTIK-3": (15, 50),
        "KONDOM": (20, 100),
        "IUD": (1, 2),
        "IMPLAN-1": (1, 3),
    },
    "tpmb": {
        "PIL-KOMB": (10, 40),
        "PIL-PROG": (2, 8),
        "SUNTIK-1": (5, 20),
        "SUNTIK-3": (20, 60),
        "KONDOM": (10, 50),
        "IUD": (1, 2),
    },
}

# name: (target months of stock, weight)
PROFILES = {"well": (3.0, 60), "lean": (2.0, 25), "over": (6.0, 15)}
DISRUPTION_CHANCE = 0.1

# Chosen on purpose for the demo logins: faskes7271's clinic is well stocked, and a
# clinic in pkb7210's district has run out of the two most used short-acting methods.
FORCED = {"72.71-001": ("well", frozenset()), "72.10-001": ("well", frozenset({"PIL-KOMB", "SUNTIK-3"}))}


@dataclass
class ClinicPlan:
    location: Location
    demand: dict[str, float]  # product code → units per month
    target_months: float
    disrupted: frozenset[str]


@dataclass
class Shipment:
    origin: Location
    destination: Location
    lines: list[tuple[Lot, int]]
    dispatched: dt.date
    received: dt.date | None  # None: still in transit
    document: str = ""


@dataclass
class StockSummary:
    lots: int = 0
    movements: int = 0
    entries: int = 0


@dataclass
class Ledger:
    """Posts movements and mirrors the balances they leave, so quantities are decided before posting."""

    lots: list[tuple[LotSpec, Lot]]
    actors: dict[str, object]
    on_hand: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    # Units promised to shipments planned but not yet posted: several shipments of one
    # step are planned from the same warehouse before any is dispatched.
    reserved: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    sequence: dict[tuple[str, str, int], int] = field(default_factory=lambda: defaultdict(int))
    summary: StockSummary = field(default_factory=StockSummary)

    def __post_init__(self):
        self.transit = virtual_location(VirtualRole.IN_TRANSIT)
        self.dispensed = virtual_location(VirtualRole.DISPENSED)
        self.shippable = {lot.pk for spec, lot in self.lots if spec.shippable}
        self.by_product: dict[str, list[Lot]] = defaultdict(list)
        for _spec, lot in sorted(self.lots, key=lambda pair: (pair[1].expiry, pair[1].batch)):
            self.by_product[lot.product.code].append(lot)

    def actor(self, location: Location):
        """The demo user who works at ``location`` or the nearest level above it."""
        code = location.code
        for candidate in (code, code.split("-")[0], code.split(".")[0]):
            if candidate in self.actors:
                return self.actors[candidate]
        return self.actors.get("00")

    def quantity(self, location: Location, product_code: str) -> int:
        return sum(self.on_hand[(location.pk, lot.pk)] for lot in self.by_product[product_code])

    def pick(self, location: Location, product_code: str, wanted: int, *, usable_until: dt.date, shipping: bool):
        """First-expiry-first-out lines of up to ``wanted`` units from lots still good on ``usable_until``."""
        lines, left = [], wanted
        for lot in self.by_product[product_code]:
            if left <= 0:
                break
            if lot.expiry <= usable_until or (shipping and lot.pk not in self.shippable):
                continue
            key = (location.pk, lot.pk)
            take = min(left, self.on_hand[key] - self.reserved[key])
            if take > 0:
                lines.append((lot, take))
                left -= take
        return lines

    def document(self, prefix: str, code: str, day: dt.date) -> str:
        key = (prefix, code, day.year)
        self.sequence[key] += 1
        return f"{prefix}-{code}-{day.year}-{self.sequence[key]:06d}"

    def post(self, *, kind, entries: list[EntrySpec], day: dt.date, document: str, actor, note: str = DEMO_NOTE):
        movement = movement_post(
            kind=kind, entries=entries, business_date=day, document=document, actor=actor, note=note
        )
        self._mirror(entries)
        return movement

    def post_opening(self, location: Location, lines: list[tuple[Lot, int]], day: dt.date):
        opening_balance_post(
            location=location,
            lines=lines,
            business_date=day,
            actor=self.actor(location),
            document=OPENING_DOCUMENT,
            note=DEMO_NOTE,
        )
        self.summary.movements += 1
        self.summary.entries += 2 * len(lines)
        for lot, quantity in lines:
            self.on_hand[(location.pk, lot.pk)] += quantity

    def _mirror(self, entries: list[EntrySpec]):
        self.summary.movements += 1
        self.summary.entries += len(entries)
        for entry in entries:
            if not entry.location.is_virtual:
                self.on_hand[(entry.location.pk, entry.lot.pk)] += entry.quantity

    def reserve(self, origin: Location, code: str, wanted: int, day: dt.date) -> list[tuple[Lot, int]]:
        """Set aside up to ``wanted`` units of lots ``origin`` may still ship on ``day``."""
        lines = self.pick(
            origin, code, wanted, usable_until=day + dt.timedelta(days=MIN_SHELF_LIFE_DAYS), shipping=True
        )
        for lot, quantity in lines:
            self.reserved[(origin.pk, lot.pk)] += quantity
        return lines

    def ship(self, shipment: Shipment):
        """SBBK: origin → in transit (releasing the reservation)."""
        for lot, quantity in shipment.lines:
            self.reserved[(shipment.origin.pk, lot.pk)] -= quantity
        entries = [
            e
            for lot, q in shipment.lines
            for e in transfer(source=shipment.origin, destination=self.transit, lot=lot, quantity=q)
        ]
        document = self.document("SBBK", shipment.origin.code, shipment.dispatched)
        shipment.document = document
        self.post(
            kind=MovementKind.DISPATCH,
            entries=entries,
            day=shipment.dispatched,
            document=document,
            actor=self.actor(shipment.origin),
        )

    def receive(self, shipment: Shipment):
        """SBBM: in transit → destination, citing the SBBK it closes."""
        entries = [
            e
            for lot, q in shipment.lines
            for e in transfer(source=self.transit, destination=shipment.destination, lot=lot, quantity=q)
        ]
        self.post(
            kind=MovementKind.RECEIPT,
            entries=entries,
            day=shipment.received,
            document=self.document("SBBM", shipment.destination.code, shipment.received),
            actor=self.actor(shipment.destination),
            note=f"{DEMO_NOTE}: {shipment.document}",
        )


def month_end(first: dt.date) -> dt.date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def history_months(today: dt.date) -> list[dt.date]:
    """First days of the ``HISTORY_MONTHS`` complete months before ``today``'s month, oldest first."""
    index = today.year * 12 + today.month - 1
    return [dt.date((index - n) // 12, (index - n) % 12 + 1, 1) for n in range(HISTORY_MONTHS, 0, -1)]


def plan_demand(tree: dict[str, Location]) -> dict[str, list[ClinicPlan]]:
    """Each district's clinics with their monthly demand, stocking profile and disruptions."""
    plans: dict[str, list[ClinicPlan]] = defaultdict(list)
    clinics = sorted((loc for loc in tree.values() if loc.level == Level.CLINIC), key=lambda loc: loc.code)
    for clinic in clinics:
        rng = random.Random(f"alokon-demo-demand-{clinic.code}")
        ranges = DEMAND.get(clinic.clinic_kind, DEMAND["klinik"])  # a clinic that existed before the demo
        demand = {code: float(rng.randint(low, high)) for code, (low, high) in ranges.items()}
        profile = rng.choices(list(PROFILES), weights=[w for _m, w in PROFILES.values()])[0]
        disrupted = frozenset(code for code in demand if rng.random() < DISRUPTION_CHANCE)
        if clinic.code in FORCED:
            profile, disrupted = FORCED[clinic.code]
        plans[clinic.parent.code].append(ClinicPlan(clinic, demand, PROFILES[profile][0], disrupted))
    return plans


def build_stock(*, tree: dict[str, Location], users: dict[str, object], today: dt.date) -> StockSummary:
    """Post the whole demo history (the caller holds the transaction)."""
    lots = create_lots(today)
    # Postings are recorded by the warehouse staff of the place (or the level above).
    actors = {user.location.code: user for user in users.values() if user.role == Role.WAREHOUSE and user.location_id}
    actors.setdefault("00", users.get("admin"))
    ledger = Ledger(lots=lots, actors=actors)
    ledger.summary.lots = len(lots)
    plans = plan_demand(tree)
    province = tree["72"]
    districts = sorted((loc for loc in tree.values() if loc.level == Level.DISTRICT), key=lambda loc: loc.code)
    months = history_months(today)
    rng = random.Random("alokon-demo-stock")

    # Opening stock: each lot's share, in months of the whole province's demand.
    total_demand: dict[str, float] = defaultdict(float)
    for district_plans in plans.values():
        for plan in district_plans:
            for code, units in plan.demand.items():
                total_demand[code] += units
    ledger.post_opening(
        province,
        [
            (lot, cartons(lot.product.code, total_demand[lot.product.code] * spec.months_of_demand))
            for spec, lot in lots
        ],
        months[0],
    )

    for i, first in enumerate(months):
        if i % RESUPPLY_EVERY_MONTHS == 0:
            _supply_districts(ledger, province, districts, plans, first, rng)
            _supply_clinics(ledger, districts, plans, first, rng, late=i >= HISTORY_MONTHS - LAST_MONTHS_MISSED)
        last_day = month_end(first)
        for district in districts:
            for plan in plans[district.code]:
                _dispense(ledger, plan, last_day, rng)

    # One shipment still on the road: dispatched near the end of the last month, not yet received.
    last = months[-1]
    district = tree[IN_TRANSIT_DISTRICT]
    day = last.replace(day=24)
    lines = []
    for code in ("PIL-KOMB", "SUNTIK-3", "KONDOM"):
        units = sum(p.demand.get(code, 0) for p in plans[district.code])
        lines += ledger.reserve(province, code, cartons(code, units * 2), day)
    if lines:
        _post_shipments(ledger, [Shipment(province, district, lines, day, None)])
    return ledger.summary


def _supply_districts(ledger, province, districts, plans, first: dt.date, rng: random.Random) -> None:
    """Province → each district, topping it up to ``DISTRICT_TARGET_MONTHS`` of its clinics' demand."""
    shipments = []
    for district in districts:
        day = first.replace(day=rng.randint(2, 4))
        delay = rng.randint(6, 9) if district.code in ISLAND_DISTRICTS else rng.randint(2, 5)
        lines = []
        for code in ledger.by_product:
            monthly = sum(plan.demand.get(code, 0) for plan in plans[district.code])
            wanted = monthly * DISTRICT_TARGET_MONTHS - ledger.quantity(district, code)
            if monthly and wanted > monthly:
                lines += ledger.reserve(province, code, cartons(code, wanted), day)
        if lines:
            shipments.append(Shipment(province, district, lines, day, day + dt.timedelta(days=delay)))
    _post_shipments(ledger, shipments)


def _supply_clinics(ledger, districts, plans, first: dt.date, rng: random.Random, *, late: bool) -> None:
    """Each district → its clinics, up to each clinic's target months of stock (what the district has)."""
    shipments = []
    for district in districts:
        for plan in plans[district.code]:
            day = first.replace(day=rng.randint(14, 16))
            lines = []
            for code, units in plan.demand.items():
                if late and code in plan.disrupted:
                    continue
                target = round(units * plan.target_months)
                missing = target - ledger.quantity(plan.location, code)
                if missing >= max(1, target / 4):
                    lines += ledger.reserve(district, code, missing, day)
            if lines:
                shipments.append(Shipment(district, plan.location, lines, day, day + dt.timedelta(rng.randint(1, 3))))
    _post_shipments(ledger, shipments)


def _post_shipments(ledger: Ledger, shipments: list[Shipment]) -> None:
    """Dispatch all, in date order, then receive all, in date order (every dispatch of a step
    precedes every receipt of it), so each stock card reads chronologically."""
    for shipment in sorted(shipments, key=lambda s: s.dispatched):
        ledger.ship(shipment)
    for shipment in sorted((s for s in shipments if s.received), key=lambda s: s.received):
        ledger.receive(shipment)


def _dispense(ledger: Ledger, plan: ClinicPlan, day: dt.date, rng: random.Random) -> None:
    """The clinic's monthly report: what it gave acceptors, never more than it had of unexpired lots."""
    entries = []
    for code, units in plan.demand.items():
        asked = round(units * rng.uniform(0.7, 1.3))
        for lot, quantity in ledger.pick(plan.location, code, asked, usable_until=day, shipping=False):
            entries += transfer(source=plan.location, destination=ledger.dispensed, lot=lot, quantity=quantity)
    if entries:
        actor = ledger.actor(plan.location)
        movement = ledger.post(
            kind=MovementKind.DISPENSING,
            entries=entries,
            day=day,
            document=f"PEMAKAIAN-{plan.location.code}-{day:%Y%m}",
            actor=actor,
        )
        # The document a clinic's monthly report makes (what dispensing_record writes).
        Dispensing.objects.create(
            location=plan.location,
            date=day,
            period=DispensingPeriod.MONTH,
            recorded_by=actor,
            recorded_at=movement.recorded_at,
            movement=movement,
            note=DEMO_NOTE,
        )
