"""Load a national-scale ledger (10 million entries by default) in minutes, with COPY.

    python -m bench.generate --reset                      # 10M entries into alokon_bench
    python -m bench.generate --reset --entries 10000 --database-url postgresql://postgres@127.0.0.1:5432/alokon_bench_10k

What it builds: national ``00`` → 38 provinces → 514 districts → ~20,000 clinics
(synthetic codes ``11``, ``11.01``, ``11.01-001`` and names), lots of the 8 products
that follow one another in time, and a stream of movements simulated over
``--months`` months: clinics dispense to acceptors (most entries) and now and then
lose stock or correct a count; a location that runs short is resupplied from its
parent through the virtual "in transit" location (a dispatch movement, then a
receipt movement), and the national warehouse from the virtual supplier.

Two profiles (``--profile``). ``uniform`` (the default, used by the posting and
scale benchmarks) is the stream above: clinics and lots drawn uniformly, a fixed
resupply per level. ``alerts`` (used by ``bench.alerts``) makes a supply chain with
work for every alert kind: consumption by clinic size and product, first-expiry-
first-out, each location ordering k months of its own consumption when it runs
short (k drawn per location and product, so stock statuses spread from stocked out
to above max), some clinics and districts cut off from resupply near the end, some
clinics whose users stop coming back, service figures for every clinic, product and
month, a shipment with its receipt behind every resupply, a few overdue shipments
and open overdue discrepancies (see ``_AlertsLedger``).

Valid by construction, the way the posting service would have written it:
every movement nets to zero per lot; entry ids are assigned in posting order and
each entry at a real location carries the running balance of its (location, lot),
starting from zero; virtual locations carry none; the balance rows are the final
running balances. ``tests/test_bench_smoke.py`` runs this code on a tiny shape with
every database guard switched on, and ``check_ledger`` verifies a full load.

Why not the posting service: one transaction per movement is ~5,000 movements a
second here, i.e. half an hour for 10M entries. COPY streams rows instead, and
the fast path (the default) loads the way pg_restore does:

- the secondary indexes and foreign keys of the ledger and balance tables are dropped before the COPY and
  recreated after it: one sorted index build and one set-based foreign-key check
  per constraint instead of 10M index insertions and 60M per-row lookups. The
  re-added foreign keys are validated against every loaded row.
- the deferred constraint trigger ``ledgerentry_movement_balanced`` is disabled
  during the COPY (``ALTER TABLE … DISABLE TRIGGER``) and enabled again before
  commit. Left on, it queues one event per row and runs one query per row at
  commit: measured at 100k entries it made the load ~6× slower (see
  bench/README.md). The movements are balanced by construction, the smoke test
  loads with the trigger on, and ``check_ledger`` checks every movement after a load.

All of it happens in one transaction: a failed load leaves nothing behind.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import math
import random
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field

from bench.common import DEFAULT_URL, ROOT, database_name, raw_connect, with_database

LEDGER_TABLES = ("inventory_ledgerentry", "inventory_movement", "inventory_stockbalance")
# Written by the alerts profile only (analysed after every load: cheap when empty).
EXTRA_TABLES = (
    "inventory_servicefigure",
    "inventory_shipment",
    "inventory_shipmentline",
    "inventory_receipt",
    "inventory_receiptline",
    "inventory_discrepancy",
)
BALANCED_TRIGGER = "ledgerentry_movement_balanced"
BATCH_PREFIX = "GEN-"
CLINIC_KINDS = [("puskesmas", "Puskesmas"), ("klinik", "Klinik"), ("tpmb", "TPMB"), ("rs", "RS")]

# How much a location orders when it runs short, by level (units of one lot).
RESUPPLY = {"clinic": 240, "district": 6_000, "province": 120_000, "national": 2_000_000}

PROFILES = ("uniform", "alerts")

# The "alerts" profile (see _AlertsLedger). Per product code: share of the dispensing
# events and the most units one dispensing hands out (unknown codes: 0.05, 10).
ALERT_PRODUCTS = {
    "SUNTIK-3": (0.30, 20),
    "PIL-KOMB": (0.16, 20),
    "PIL-PROG": (0.06, 10),
    "SUNTIK-1": (0.08, 10),
    "KONDOM": (0.10, 40),
    "IUD": (0.10, 2),
    "IMPLAN-1": (0.10, 2),
    "IMPLAN-2": (0.10, 2),
}
# Months of its own consumption a location orders up to when it runs short, drawn
# once per (location, product): most order within policy, some far above it.
ORDER_UP_TO = {
    "clinic": (2, 3, 3, 3, 4, 4, 8),
    "district": (3, 4, 4, 5, 8),
    "province": (4, 5, 6, 6, 9),
    "national": (9, 12, 12, 18),
}
CLINIC_CUT_OFF = 0.04  # share of (clinic, product) pairs that get no resupply at the end
DISTRICT_CUT_OFF = 0.02  # share of (district, product) pairs that get no resupply at the end
FALLING_SHARE = 0.04  # share of short-acting (clinic, product) pairs whose users stop coming back
FALLING_STAY_AWAY = 0.6  # from then on, this share of their dispensings does not happen
OVERDUE_PER_CLINICS = 100  # one overdue shipment per this many clinics
ALERTS_SHELF_DAYS = 450  # a lot expires this long after it stops being the supplier's current lot
BENCH_USER = "bench-generator"


@dataclass
class Shape:
    entries: int = 10_000_000
    provinces: int = 38
    districts: int = 514
    clinics: int = 20_000
    lots_per_product: int = 6
    months: int = 24
    seed: int = 72
    profile: str = "uniform"


@dataclass
class Summary:
    entries: int = 0
    movements: int = 0
    balances: int = 0
    locations: int = 0
    lots: int = 0
    service_figures: int = 0
    shipments: int = 0
    overdue: int = 0
    discrepancies: int = 0
    timings: dict[str, float] = field(default_factory=dict)


class AlreadyGenerated(Exception):
    pass


# --- the location tree and the lots ------------------------------------------------


def _copy_rows(cur, sql: str, rows) -> None:
    with cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _build_tree(cur, shape: Shape, rng: random.Random) -> dict[str, list]:
    """Insert the real locations level by level; return their ids and each one's parent id."""
    cols = "(code, bps_code, name, level, parent_id, path, clinic_kind, latitude, longitude, is_active)"
    copy_sql = f"COPY inventory_location {cols} FROM STDIN"

    def coords():
        return round(rng.uniform(-10.5, 5.5), 6), round(rng.uniform(95.5, 140.5), 6)

    _copy_rows(cur, copy_sql, [("00", "", "Nasional (sintetis)", "national", None, "00/", "", None, None, True)])
    national = cur.execute("SELECT id FROM inventory_location WHERE code = '00'").fetchone()[0]

    prov_codes = [f"{11 + i:02d}" for i in range(shape.provinces)]
    _copy_rows(
        cur,
        copy_sql,
        [(c, c, f"Provinsi Sintetis {c}", "province", national, f"00/{c}/", "", *coords(), True) for c in prov_codes],
    )
    prov_ids = _ids(cur, "province", prov_codes)

    dist_codes, dist_parent = [], []
    for j in range(shape.districts):
        p = j * shape.provinces // shape.districts
        dist_codes.append(f"{prov_codes[p]}.{sum(1 for q in dist_parent if q == p) + 1:02d}")
        dist_parent.append(p)
    _copy_rows(
        cur,
        copy_sql,
        [
            (
                c,
                c.replace(".", ""),
                f"Kabupaten Sintetis {c}",
                "district",
                prov_ids[p],
                f"00/{prov_codes[p]}/{c}/",
                "",
                *coords(),
                True,
            )
            for c, p in zip(dist_codes, dist_parent, strict=True)
        ],
    )
    dist_ids = _ids(cur, "district", dist_codes)

    clinic_rows, clinic_codes, clinic_parent = [], [], []
    per_district = [0] * shape.districts
    for k in range(shape.clinics):
        d = k * shape.districts // shape.clinics
        per_district[d] += 1
        code = f"{dist_codes[d]}-{per_district[d]:03d}"
        kind, label = CLINIC_KINDS[k % len(CLINIC_KINDS)]
        path = f"00/{prov_codes[dist_parent[d]]}/{dist_codes[d]}/{code}/"
        clinic_rows.append((code, "", f"{label} Sintetis {code}", "clinic", dist_ids[d], path, kind, *coords(), True))
        clinic_codes.append(code)
        clinic_parent.append(dist_ids[d])
    _copy_rows(cur, copy_sql, clinic_rows)
    clinic_ids = _ids(cur, "clinic", clinic_codes)

    parent = {national: None}
    parent.update(dict.fromkeys(prov_ids, national))
    parent.update({d: prov_ids[p] for d, p in zip(dist_ids, dist_parent, strict=True)})
    parent.update(zip(clinic_ids, clinic_parent, strict=True))
    level = {national: "national"}
    level.update(dict.fromkeys(prov_ids, "province"))
    level.update(dict.fromkeys(dist_ids, "district"))
    level.update(dict.fromkeys(clinic_ids, "clinic"))
    return {"clinics": clinic_ids, "parent": parent, "level": level}


def _ids(cur, level: str, codes: list[str]) -> list[int]:
    by_code = dict(cur.execute("SELECT code, id FROM inventory_location WHERE level = %s", [level]).fetchall())
    return [by_code[c] for c in codes]


def _build_lots(
    cur, shape: Shape, start: dt.date, span_days: int, shelf_days: int = 540
) -> tuple[list[list[int]], dict[int, int]]:
    """``lots_per_product`` lots of every product, each expiring after the one before."""
    products = cur.execute("SELECT id, code FROM inventory_product ORDER BY code").fetchall()
    rows = []
    for product_id, code in products:
        for i in range(shape.lots_per_product):
            expiry = start + dt.timedelta(days=(i + 1) * span_days // shape.lots_per_product + shelf_days)
            rows.append((product_id, f"{BATCH_PREFIX}{code}-{i + 1:03d}", expiry))
    _copy_rows(
        cur, "COPY inventory_lot (product_id, batch, expiry, created_at) FROM STDIN", [(*r, "now") for r in rows]
    )
    found = cur.execute(
        "SELECT id, product_id FROM inventory_lot WHERE batch LIKE %s ORDER BY product_id, expiry, batch",
        [BATCH_PREFIX + "%"],
    ).fetchall()
    lot_product = dict(found)
    by_product: dict[int, list[int]] = {}
    for lot_id, product_id in found:
        by_product.setdefault(product_id, []).append(lot_id)
    return [by_product[pid] for pid, _code in products], lot_product


# --- dropping and restoring what slows a bulk load down -----------------------------


def _secondary_schema(cur) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """(table, name, definition) of the ledger tables' foreign keys and plain indexes."""
    fks, indexes = [], []
    for table in LEDGER_TABLES:
        fks += [
            (table, name, definition)
            for name, definition in cur.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
                [table],
            ).fetchall()
        ]
        # Indexes that back no primary key, unique or exclusion constraint of the table.
        indexes += [
            (table, name, definition)
            for name, definition in cur.execute(
                """
                SELECT i.relname, pg_get_indexdef(x.indexrelid)
                  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                 WHERE x.indrelid = %s::regclass
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                    WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid)
                 ORDER BY i.relname
                """,
                [table],
            ).fetchall()
        ]
    return fks, indexes


def schema_fingerprint(cur) -> list:
    """Everything the fast path drops and restores, for the smoke test to compare."""
    fks, indexes = _secondary_schema(cur)
    triggers = cur.execute(
        "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'inventory_ledgerentry'::regclass"
        " AND NOT tgisinternal ORDER BY tgname"
    ).fetchall()
    return [sorted(fks), sorted(indexes), triggers]


# --- the movements ----------------------------------------------------------------


class _Ledger:
    """Simulates postings and writes them as COPY text, entries in posting (= id) order."""

    def __init__(self, shape, tree, lots, lot_product, virtual_ids, start, span_days, first_ids, movement_file):
        self.shape, self.tree = shape, tree
        self.lots, self.lot_product = lots, lot_product
        self.virtual_ids, self.virtual = virtual_ids, set(virtual_ids.values())
        self.entry_id, self.movement_id = first_ids
        self.first_entry_id = self.entry_id
        self.movement_file = movement_file
        self.balance: dict[int, int] = {}
        self.buffer: list[str] = []
        self.dates = [
            ((start + dt.timedelta(days=d)).isoformat(), f"{start + dt.timedelta(days=d)} 10:00:00+08")
            for d in range(span_days + 1)
        ]
        self.span_days = span_days
        self.date = self.stamp = ""

    def movement(self, kind: str, lines: list[tuple[int, int, int]]) -> None:
        """One movement: ``lines`` of (location id, lot id, signed quantity) that net to zero."""
        self.movement_id += 1
        mid, date, stamp = self.movement_id, self.date, self.stamp
        self.movement_file.write(f"{mid}\t{kind}\tGEN-{mid:09d}\t{date}\t{stamp}\t\n")
        balance, buffer, virtual = self.balance, self.buffer, self.virtual
        for location, lot, quantity in lines:
            self.entry_id += 1
            if location in virtual:
                after = "\\N"
            else:
                key = location << 32 | lot
                after = balance.get(key, 0) + quantity
                balance[key] = after
            buffer.append(
                f"{self.entry_id}\t{mid}\t{location}\t{lot}\t{self.lot_product[lot]}\t{quantity}\t{kind}"
                f"\t{date}\t{stamp}\t{after}\n"
            )

    def ensure(self, location: int, lot: int, need: int) -> None:
        """Resupply ``location`` from its parent (or the supplier) until it holds ``need``."""
        have = self.balance.get(location << 32 | lot, 0)
        if have >= need:
            return
        amount = max(need - have, RESUPPLY[self.tree["level"][location]])
        parent = self.tree["parent"][location]
        if parent is None:
            self.movement("receipt", [(self.virtual_ids["supplier"], lot, -amount), (location, lot, amount)])
            return
        self.ensure(parent, lot, amount)
        transit = self.virtual_ids["in_transit"]
        self.movement("dispatch", [(parent, lot, -amount), (transit, lot, amount)])
        self.movement("receipt", [(transit, lot, -amount), (location, lot, amount)])

    def run(self, copy, rng: random.Random) -> None:
        target = self.shape.entries
        clinics = self.tree["clinics"]
        n_clinics, n_products, per_product = len(clinics), len(self.lots), self.shape.lots_per_product
        dispensed, loss, adjust = (self.virtual_ids[r] for r in ("dispensed", "loss", "adjustment"))
        randrange, rand = rng.randrange, rng.random
        day = -1
        while self.entry_id - self.first_entry_id < target:
            today = (self.entry_id - self.first_entry_id) * self.span_days // target
            if today != day:
                day = today
                self.date, self.stamp = self.dates[day]
                current = min(per_product - 1, day * per_product // self.span_days)
            clinic = clinics[randrange(n_clinics)]
            lot = self.lots[randrange(n_products)][current]
            r = rand()
            if r < 0.96:
                quantity = 1 + randrange(20)
                self.ensure(clinic, lot, quantity)
                self.movement("dispensing", [(clinic, lot, -quantity), (dispensed, lot, quantity)])
            elif r < 0.98:
                quantity = 1 + randrange(5)
                self.ensure(clinic, lot, quantity)
                self.movement("loss", [(clinic, lot, -quantity), (loss, lot, quantity)])
            else:
                # A count that found a few more (or fewer) than the books.
                delta = 1 + randrange(5)
                if rand() < 0.5:
                    self.movement("adjustment", [(adjust, lot, -delta), (clinic, lot, delta)])
                else:
                    self.ensure(clinic, lot, delta)
                    self.movement("adjustment", [(clinic, lot, -delta), (adjust, lot, delta)])
            if len(self.buffer) >= 20_000:
                copy.write("".join(self.buffer))
                self.buffer.clear()
        copy.write("".join(self.buffer))
        self.buffer.clear()


@dataclass
class _Overdue:
    """A shipment dispatched near the end that never arrived (status dispatched, past its expected arrival)."""

    day: int
    origin: int
    destination: int
    product: int  # index into the product list
    arrival_days: int
    movement_id: int = 0
    lines: list[tuple[int, int]] = field(default_factory=list)  # (lot id, quantity)


class _AlertsLedger(_Ledger):
    """The "alerts" profile: a supply chain with a realistic mix of stock statuses.

    - Consumption differs by clinic (a size drawn once per clinic) and by product
      (``ALERT_PRODUCTS``); dispensing and losses take the earliest-expiring lots first.
    - A location that cannot fill a dispensing (clinic) or an order (warehouse)
      orders what it lacks plus k months of the dispensing in its subtree so far
      (its own at a clinic; not its children's orders, which would snowball), k drawn once per
      (location, product) from ``ORDER_UP_TO``: its stock then spreads between 0 and
      k months, so some end below the emergency point, some below min, most within
      plan and some above max. Warehouses ship what they hold, FEFO, through transit.
    - Some (clinic, product) and (district, product) pairs get no resupply in the
      last 15–90 days: they run down to zero and the clinics stock out.
    - Some short-acting (clinic, product) pairs lose users from two months before the
      end: 60 % of their acceptors no longer come.
    - A few shipments dispatched 12–45 days before the end never arrive (overdue); half
      of them have an open "overdue" discrepancy per line.
    - Demand (what acceptors came for, even when the clinic had nothing or they stayed
      away) and dispensing are tallied per clinic, product and month: the service
      figures are made from the demand, so dispensing is below 70 % of need exactly
      where users stayed away or the clinic ran out.
    """

    def __init__(self, *args, products, profile_rng: random.Random, **kwargs):
        super().__init__(*args, **kwargs)
        self.products = products  # [(id, code)] in lot-list order
        self.prng = profile_rng
        n = len(products)
        if n > 16 or self.span_days > 60 * 30:
            raise ValueError("the alerts profile packs keys for at most 16 products and 60 months")
        weights = [ALERT_PRODUCTS.get(code, (0.05, 10))[0] for _id, code in products]
        total = sum(weights)
        self.product_cum = list(_accumulate([w / total for w in weights]))
        self.qmax = [ALERT_PRODUCTS.get(code, (0.05, 10))[1] for _id, code in products]
        clinics = self.tree["clinics"]
        sizes = [self.prng.lognormvariate(0, 0.8) for _ in clinics]
        self.clinic_cum = list(_accumulate(sizes))
        self.order_months: dict[int, int] = {}
        self.consumed: dict[int, int] = {}  # (location << 4 | product index) → units dispensed in its subtree
        self.demand: dict[int, int] = {}  # (clinic << 4 | product) << 6 | month index → units asked for
        self.dispensed: dict[int, int] = {}
        self.blocked: dict[int, int] = {}  # (location << 4 | product) → first day without resupply
        self.falling: dict[int, int] = {}  # (clinic << 4 | product) → first day users stay away
        # Every resupply: (dispatch movement id, day, origin, destination, product index, [(lot, quantity)]).
        self.shipments: list[tuple[int, int, int, int, int, list[tuple[int, int]]]] = []
        self.day = 0
        self.current = 0
        span = self.span_days
        start = dt.date.fromisoformat(self.dates[0][0])
        self.months = _month_starts(start, span)
        self.month_of_day = [
            bisect.bisect_right(self.months, start + dt.timedelta(days=d)) - 1 for d in range(span + 1)
        ]
        short = {i for i, (_id, code) in enumerate(products) if code in SHORT_ACTING_CODES}
        districts = [loc for loc, level in self.tree["level"].items() if level == "district"]
        rand, randint = self.prng.random, self.prng.randint
        for clinic in clinics:
            for p in range(n):
                key = clinic << 4 | p
                if rand() < CLINIC_CUT_OFF:
                    self.blocked[key] = span - randint(15, 75)
                if p in short and rand() < FALLING_SHARE:
                    # From (about) the start of the month two months before the current one.
                    first = self.months[-3] if len(self.months) >= 3 else start
                    self.falling[key] = max(0, (first - start).days - randint(0, 20))
        for district in districts:
            for p in range(n):
                if rand() < DISTRICT_CUT_OFF:
                    self.blocked[district << 4 | p] = span - randint(30, 90)
        self.overdue: list[_Overdue] = []
        parent = self.tree["parent"]
        for _ in range(max(2, len(clinics) // OVERDUE_PER_CLINICS)):
            destination = clinics[self.prng.randrange(len(clinics))]
            if rand() < 0.2:
                destination = parent[destination]
            self.overdue.append(
                _Overdue(
                    day=max(0, span - randint(12, 45)),
                    origin=parent[destination],
                    destination=destination,
                    product=self.prng.randrange(n),
                    arrival_days=randint(3, 7),
                )
            )
        self.pending = sorted(self.overdue, key=lambda o: o.day, reverse=True)

    # --- stock by product, FEFO ---

    def stock(self, location: int, p: int) -> int:
        balance = self.balance
        return sum(balance.get(location << 32 | lot, 0) for lot in self.lots[p])

    def take(self, location: int, p: int, amount: int) -> list[tuple[int, int]]:
        """(lot, quantity) to take ``amount`` from ``location``, earliest expiry first (as much as it holds)."""
        taken, balance = [], self.balance
        for lot in self.lots[p]:
            have = balance.get(location << 32 | lot, 0)
            if have > 0:
                part = have if have < amount else amount
                taken.append((lot, part))
                amount -= part
                if not amount:
                    break
        return taken

    def _order_months(self, key: int, location: int) -> int:
        k = self.order_months.get(key)
        if k is None:
            k = self.order_months[key] = self.prng.choice(ORDER_UP_TO[self.tree["level"][location]])
        return k

    def supply(self, location: int, p: int, need: int) -> None:
        """Make ``location`` hold ``need`` of product ``p`` if its supply chain can: order what it
        lacks plus k months of its subtree's dispensing so far from the parent (FEFO, through
        transit) or the supplier."""
        have = self.stock(location, p)
        if have >= need:
            return
        key = location << 4 | p
        cut = self.blocked.get(key)
        if cut is not None and self.day >= cut:
            return
        rate = self.consumed.get(key, 0) * 30 / max(self.day, 30)
        # What is needed now plus k months of consumption (at least one unit).
        amount = need - have + max(1, math.ceil(self._order_months(key, location) * rate))
        parent = self.tree["parent"][location]
        if parent is None:
            lot = self.lots[p][self.current]
            self.movement("receipt", [(self.virtual_ids["supplier"], lot, -amount), (location, lot, amount)])
            return
        self.supply(parent, p, amount)
        taken = self.take(parent, p, amount)
        if not taken:
            return
        transit = self.virtual_ids["in_transit"]
        self.movement("dispatch", [line for lot, q in taken for line in ((parent, lot, -q), (transit, lot, q))])
        self.shipments.append((self.movement_id, self.day, parent, location, p, taken))
        self.movement("receipt", [line for lot, q in taken for line in ((transit, lot, -q), (location, lot, q))])

    def _dispatch_overdue(self, shipment: _Overdue) -> None:
        p, destination = shipment.product, shipment.destination
        rate = self.consumed.get(destination << 4 | p, 0) * 30 / max(self.day, 30)
        amount = max(20, math.ceil(self._order_months(destination << 4 | p, destination) * rate))
        self.supply(shipment.origin, p, amount)
        taken = self.take(shipment.origin, p, amount)
        if not taken:
            return
        transit = self.virtual_ids["in_transit"]
        self.movement("dispatch", [ln for lot, q in taken for ln in ((shipment.origin, lot, -q), (transit, lot, q))])
        shipment.movement_id, shipment.lines = self.movement_id, taken

    # --- the stream ---

    def run(self, copy, rng: random.Random) -> None:
        target = self.shape.entries
        clinics, clinic_cum = self.tree["clinics"], self.clinic_cum
        clinic_total, product_cum = clinic_cum[-1], self.product_cum
        per_product, qmax = self.shape.lots_per_product, self.qmax
        dispensed_to, loss, adjust = (self.virtual_ids[r] for r in ("dispensed", "loss", "adjustment"))
        randrange, rand = rng.randrange, rng.random
        right = bisect.bisect_right
        demand, dispensed, consumed, falling, blocked = (
            self.demand,
            self.dispensed,
            self.consumed,
            self.falling,
            self.blocked,
        )
        n_products = len(product_cum)
        # The clinic and its warehouses (each shifted as a consumption key): they all order
        # on the clinic's dispensing, not on what their children ordered.
        parent = self.tree["parent"]
        chain = {}
        for clinic in clinics:
            ups, up = [], clinic
            while up is not None:
                ups.append(up << 4)
                up = parent[up]
            chain[clinic] = ups
        day, month = -1, 0
        while self.entry_id - self.first_entry_id < target:
            today = (self.entry_id - self.first_entry_id) * self.span_days // target
            if today != day:
                day = self.day = today
                self.date, self.stamp = self.dates[day]
                self.current = min(per_product - 1, day * per_product // self.span_days)
                month = self.month_of_day[day]
                while self.pending and self.pending[-1].day <= day:
                    self._dispatch_overdue(self.pending.pop())
            clinic = clinics[min(right(clinic_cum, rand() * clinic_total), len(clinics) - 1)]
            p = min(right(product_cum, rand()), n_products - 1)
            key = clinic << 4 | p
            r = rand()
            if r < 0.96:
                quantity = 1 + randrange(qmax[p])
                tally = key << 6 | month
                demand[tally] = demand.get(tally, 0) + quantity
                away = falling.get(key)
                if away is not None and day >= away and rand() < FALLING_STAY_AWAY:
                    continue  # the acceptor did not come back
                if self.stock(clinic, p) < quantity:
                    self.supply(clinic, p, quantity)
                    quantity = min(quantity, self.stock(clinic, p))
                    if not quantity:
                        continue  # stocked out: the acceptor goes home without
                taken = self.take(clinic, p, quantity)
                self.movement(
                    "dispensing", [ln for lot, q in taken for ln in ((clinic, lot, -q), (dispensed_to, lot, q))]
                )
                dispensed[tally] = dispensed.get(tally, 0) + quantity
                for up in chain[clinic]:
                    consumed[up | p] = consumed.get(up | p, 0) + quantity
            elif r < 0.98:
                quantity = 1 + randrange(5)
                if self.stock(clinic, p) >= quantity:
                    taken = self.take(clinic, p, quantity)
                    self.movement("loss", [ln for lot, q in taken for ln in ((clinic, lot, -q), (loss, lot, q))])
            else:
                # A count that found a few more (or fewer) than the books.
                delta = 1 + randrange(5)
                if rand() < 0.5:
                    cut = blocked.get(key)
                    if cut is None or day < cut:
                        lot = self.lots[p][self.current]
                        self.movement("adjustment", [(adjust, lot, -delta), (clinic, lot, delta)])
                elif self.stock(clinic, p) >= delta:
                    taken = self.take(clinic, p, delta)
                    self.movement(
                        "adjustment", [ln for lot, q in taken for ln in ((clinic, lot, -q), (adjust, lot, q))]
                    )
            if len(self.buffer) >= 20_000:
                copy.write("".join(self.buffer))
                self.buffer.clear()
        copy.write("".join(self.buffer))
        self.buffer.clear()


SHORT_ACTING_CODES = ("PIL-KOMB", "PIL-PROG", "SUNTIK-1", "SUNTIK-3", "KONDOM")


def _accumulate(values):
    total = 0.0
    for v in values:
        total += v
        yield total


def _month_starts(start: dt.date, span_days: int) -> list[dt.date]:
    """First days of the calendar months from ``start``'s month to the month ``span_days`` later."""
    end = start + dt.timedelta(days=span_days)
    months, month = [], start.replace(day=1)
    while month <= end:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def _bench_user(cur, national: int) -> int:
    """The (inactive) user the generated service figures, shipments and discrepancies are recorded by."""
    return cur.execute(
        """
        INSERT INTO alokon_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                                 is_active, date_joined, role, location_id, alert_email)
        VALUES ('!', false, %s, 'Bench', 'Generator', '', false, false, now(), 'admin', %s, 'off')
        ON CONFLICT (username) DO UPDATE SET is_active = false
        RETURNING id
        """,
        [BENCH_USER, national],
    ).fetchone()[0]


def _write_service_figures(cur, ledger: _AlertsLedger, user: int, rng: random.Random) -> int:
    """Active and new users of every product at every clinic for every complete month, from the demand.

    Active users = units asked for in the month × revisit days / 30 (× 1.00–1.15: some
    users were covered by an earlier visit), so what they need per month is about
    what they came for: a clinic dispenses ~90 % of need unless users stayed away or
    it had nothing to give. New users: 3–12 % of active for short-acting methods, the
    units inserted in the month for long-acting ones.
    """
    products = cur.execute("SELECT id, revisit_days, short_acting FROM inventory_product").fetchall()
    attrs = {pid: (revisit, short) for pid, revisit, short in products}
    today_month = dt.date.fromisoformat(ledger.dates[-1][0]).replace(day=1)
    months = [(i, m) for i, m in enumerate(ledger.months) if m < today_month]
    demand, dispensed = ledger.demand, ledger.dispensed
    uniform = rng.uniform
    stamp = ledger.dates[-1][1]
    count = 0
    with cur.copy(
        "COPY inventory_servicefigure (location_id, product_id, month, active_users, new_users, is_current,"
        " is_correction, note, recorded_at, recorded_by_id) FROM STDIN"
    ) as copy:
        lines = []
        for clinic in ledger.tree["clinics"]:
            for p, (product_id, _code) in enumerate(ledger.products):
                revisit, short = attrs[product_id]
                key = clinic << 4 | p
                for i, month in months:
                    asked = demand.get(key << 6 | i, 0)
                    active = round(asked * revisit / 30 * uniform(1.0, 1.15))
                    # Short-acting: a share of the active; long-acting: the insertions of the month.
                    new = round(active * uniform(0.03, 0.12)) if short else min(active, dispensed.get(key << 6 | i, 0))
                    lines.append(f"{clinic}\t{product_id}\t{month}\t{active}\t{new}\tt\tf\t\t{stamp}\t{user}\n")
                if len(lines) >= 20_000:
                    copy.write("".join(lines))
                    count += len(lines)
                    lines.clear()
        copy.write("".join(lines))
        count += len(lines)
    return count


def _write_shipments(cur, ledger: _AlertsLedger, user: int) -> tuple[int, int]:
    """A closed shipment (SBBK) with its receipt for every resupply, so warehouses' issues to
    their subtree are known and every shipment accounts for what it put in transit; then the
    overdue shipments (dispatched, never received), half of them with an open overdue
    discrepancy per line. Shipment numbers are the dispatch movements' documents."""
    start = dt.date.fromisoformat(ledger.dates[0][0])
    product_ids = [pid for pid, _code in ledger.products]
    first = _reserve_ids(cur, "inventory_shipment")
    shipment_id = first
    ship_rows, line_rows = [], []
    with (
        cur.copy(
            "COPY inventory_shipment (id, number, status, token, note, created_at, dispatched_at, dispatch_date,"
            " expected_arrival, closed_at, created_by_id, destination_id, dispatch_movement_id, dispatched_by_id,"
            " origin_id) FROM STDIN"
        ) as ships,
    ):
        for movement_id, day, origin, destination, p, taken in ledger.shipments:
            shipment_id += 1
            date, stamp = ledger.dates[day]
            ship_rows.append(
                f"{shipment_id}\tGEN-{movement_id:09d}\tclosed\tgen-{movement_id:020d}\t\t{stamp}\t{stamp}\t{date}"
                f"\t{date}\t{stamp}\t{user}\t{destination}\t{movement_id}\t{user}\t{origin}\n"
            )
            line_rows += [f"{shipment_id}\t{product_ids[p]}\t{lot}\t{q}\n" for lot, q in taken]
            if len(ship_rows) >= 20_000:
                ships.write("".join(ship_rows))
                ship_rows.clear()
        ships.write("".join(ship_rows))
    _advance_sequence(cur, "inventory_shipment", shipment_id)
    with cur.copy("COPY inventory_shipmentline (shipment_id, product_id, lot_id, quantity) FROM STDIN") as lines:
        for i in range(0, len(line_rows), 20_000):
            lines.write("".join(line_rows[i : i + 20_000]))
    line_rows.clear()

    # Each closed shipment's receipt: the receipt movement posted right after its dispatch,
    # everything received in good condition (what ledger_check and the in-transit figures read).
    first_receipt = receipt_id = _reserve_ids(cur, "inventory_receipt")
    shipment_id = first
    with cur.copy(
        "COPY inventory_receipt (id, client_uuid, request_hash, received_at, business_date, note, movement_id,"
        " received_by_id, shipment_id) FROM STDIN"
    ) as receipts:
        rows = []
        for movement_id, day, _origin, _destination, p, taken in ledger.shipments:
            shipment_id += 1
            receipt_id += 1
            date, stamp = ledger.dates[day]
            rows.append(
                f"{receipt_id}\t{uuid.UUID(int=movement_id + 1)}\tgenerated\t{stamp}\t{date}\t\t{movement_id + 1}"
                f"\t{user}\t{shipment_id}\n"
            )
            line_rows += [f"{receipt_id}\t{product_ids[p]}\t{lot}\t{q}\t0\n" for lot, q in taken]
            if len(rows) >= 20_000:
                receipts.write("".join(rows))
                rows.clear()
        receipts.write("".join(rows))
    _advance_sequence(cur, "inventory_receipt", receipt_id)
    with cur.copy("COPY inventory_receiptline (receipt_id, product_id, lot_id, received, damaged) FROM STDIN") as rl:
        for i in range(0, len(line_rows), 20_000):
            rl.write("".join(line_rows[i : i + 20_000]))
    assert receipt_id - first_receipt == shipment_id - first
    shipments, discrepancies = shipment_id - first, 0
    for n, shipment in enumerate(o for o in ledger.overdue if o.movement_id):
        dispatched = start + dt.timedelta(days=shipment.day)
        arrival = dispatched + dt.timedelta(days=shipment.arrival_days)
        stamp = f"{dispatched} 09:00:00+08"
        shipment_id = cur.execute(
            """
            INSERT INTO inventory_shipment (number, status, token, note, created_at, dispatched_at, dispatch_date,
                                            expected_arrival, created_by_id, destination_id, dispatch_movement_id,
                                            dispatched_by_id, origin_id)
            VALUES (%s, 'dispatched', %s, '', %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
            """,
            [
                f"GEN-{shipment.movement_id:09d}",
                secrets.token_urlsafe(24),
                stamp,
                stamp,
                dispatched,
                arrival,
                user,
                shipment.destination,
                shipment.movement_id,
                user,
                shipment.origin,
            ],
        ).fetchone()[0]
        product_id = product_ids[shipment.product]
        for lot, quantity in shipment.lines:
            cur.execute(
                "INSERT INTO inventory_shipmentline (shipment_id, product_id, lot_id, quantity)"
                " VALUES (%s, %s, %s, %s)",
                [shipment_id, product_id, lot, quantity],
            )
            if n % 2 == 0:
                cur.execute(
                    """
                    INSERT INTO inventory_discrepancy (shipment_id, kind, product_id, lot_id, quantity, status,
                                                       created_at, resolution, resolution_reason, resolution_note)
                    VALUES (%s, 'overdue', %s, %s, %s, 'open', %s, '', '', '')
                    """,
                    [shipment_id, product_id, lot, quantity, f"{arrival + dt.timedelta(days=1)} 06:00:00+08"],
                )
                discrepancies += 1
        shipments += 1
    return shipments, discrepancies


def _reserve_ids(cur, table: str) -> int:
    """The last id in use in ``table`` (rows or its sequence), so generated ids follow it."""
    seq = cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table]).fetchone()[0]
    last_value, called = cur.execute(f"SELECT last_value, is_called FROM {seq}").fetchone()
    top = cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
    return max(top, last_value if called else last_value - 1)


def _advance_sequence(cur, table: str, last: int) -> None:
    cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, max(last, 1)])


# --- the load ---------------------------------------------------------------------


def load(conn, shape: Shape, *, fast: bool = True, log=print) -> Summary:
    """Generate and load ``shape`` on ``conn`` inside its current transaction (the caller commits)."""
    summary = Summary()
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        summary.timings[name] = now - clock
        log(f"  {name}: {now - clock:.1f} s")
        clock = now

    cur = conn.cursor()
    if cur.execute("SELECT 1 FROM inventory_location WHERE code = '00' OR code LIKE '11.%' LIMIT 1").fetchone():
        raise AlreadyGenerated("this database already holds a tree (location 00); run again with --reset")
    rng = random.Random(shape.seed)
    span_days = shape.months * 30
    start = dt.date.today() - dt.timedelta(days=span_days)
    cur.execute("SET LOCAL maintenance_work_mem = '512MB'")

    fks, indexes = _secondary_schema(cur)
    if fast:
        for table, name, _definition in fks:
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for _table, name, _definition in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        cur.execute(f"ALTER TABLE inventory_ledgerentry DISABLE TRIGGER {BALANCED_TRIGGER}")

    if shape.profile not in PROFILES:
        raise ValueError(f"unknown profile {shape.profile!r}: one of {PROFILES}")
    alerts = shape.profile == "alerts"
    tree = _build_tree(cur, shape, rng)
    lots, lot_product = _build_lots(cur, shape, start, span_days, ALERTS_SHELF_DAYS if alerts else 540)
    summary.locations, summary.lots = len(tree["parent"]), len(lot_product)
    virtual_ids = dict(
        cur.execute("SELECT virtual_role, id FROM inventory_location WHERE level = 'virtual'").fetchall()
    )
    lap("tree and lots")

    first_ids = (_reserve_ids(cur, "inventory_ledgerentry"), _reserve_ids(cur, "inventory_movement"))
    with tempfile.TemporaryFile("w+", encoding="utf-8") as movement_file:
        ledger_args = (shape, tree, lots, lot_product, virtual_ids, start, span_days, first_ids, movement_file)
        if alerts:
            products = cur.execute("SELECT id, code FROM inventory_product ORDER BY code").fetchall()
            ledger = _AlertsLedger(*ledger_args, products=products, profile_rng=random.Random(shape.seed + 1))
        else:
            ledger = _Ledger(*ledger_args)
        entry_cols = "(id, movement_id, location_id, lot_id, product_id, quantity, kind, business_date, recorded_at,"
        with cur.copy(f"COPY inventory_ledgerentry {entry_cols} balance_after) FROM STDIN") as copy:
            ledger.run(copy, rng)
        summary.entries = ledger.entry_id - first_ids[0]
        summary.movements = ledger.movement_id - first_ids[1]
        lap(f"entries ({summary.entries:,} rows)")

        movement_file.seek(0)
        with cur.copy("COPY inventory_movement (id, kind, document, business_date, recorded_at, note) FROM STDIN") as c:
            while chunk := movement_file.read(1 << 22):
                c.write(chunk)
        lap(f"movements ({summary.movements:,} rows)")

    _advance_sequence(cur, "inventory_ledgerentry", ledger.entry_id)
    _advance_sequence(cur, "inventory_movement", ledger.movement_id)
    balances = [
        (key >> 32, key & 0xFFFFFFFF, lot_product[key & 0xFFFFFFFF], quantity, "now")
        for key, quantity in ledger.balance.items()
    ]
    _copy_rows(
        cur, "COPY inventory_stockbalance (location_id, lot_id, product_id, quantity, updated_at) FROM STDIN", balances
    )
    summary.balances = len(balances)
    lap(f"balances ({summary.balances:,} rows)")

    if alerts:
        user = _bench_user(cur, next(loc for loc, up in tree["parent"].items() if up is None))
        summary.service_figures = _write_service_figures(cur, ledger, user, random.Random(shape.seed + 2))
        lap(f"service figures ({summary.service_figures:,} rows)")
        summary.shipments, summary.discrepancies = _write_shipments(cur, ledger, user)
        summary.overdue = sum(1 for o in ledger.overdue if o.movement_id)
        lap(
            f"shipments ({summary.shipments:,}, {summary.overdue} overdue) and open discrepancies"
            f" ({summary.discrepancies})"
        )

    if fast:
        # Check the deferred foreign keys of the tree, lots and balances now, so the
        # ALTER TABLEs below find no pending trigger events.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("SET CONSTRAINTS ALL DEFERRED")
        for _table, _name, definition in indexes:
            cur.execute(definition)
        lap(f"indexes ({len(indexes)})")
        for table, name, definition in fks:
            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        lap(f"foreign keys ({len(fks)}, each validated)")
        cur.execute(f"ALTER TABLE inventory_ledgerentry ENABLE TRIGGER {BALANCED_TRIGGER}")
    else:
        # The balance trigger plans its query at the first check, at commit. On a table
        # that was never analysed the planner walks the lot index and filters by
        # movement, once per row: quadratic. Statistics first (they see this
        # transaction's own rows) give it the movement index.
        cur.execute("ANALYZE inventory_ledgerentry")
        lap("analyze")
    return summary


# --- command line -----------------------------------------------------------------


def reset_database(url: str) -> None:
    """Drop and recreate the bench database, then migrate it: a clean, current schema."""
    name = database_name(url)
    if "bench" not in name or name.startswith("test"):
        sys.exit(f"refusing to drop database {name!r}: --reset only drops databases named *bench*")
    with raw_connect(with_database(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    env = {"DATABASE_URL": url, "SECRET_KEY": "bench", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)


def ensure_database(url: str) -> None:
    name = database_name(url)
    with raw_connect(with_database(url, "postgres"), autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
    reset_database(url)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--entries", type=int, default=Shape.entries, help="ledger entries to load (about)")
    parser.add_argument("--provinces", type=int, default=Shape.provinces)
    parser.add_argument("--districts", type=int, default=Shape.districts)
    parser.add_argument("--clinics", type=int, default=Shape.clinics)
    parser.add_argument("--lots-per-product", type=int, default=Shape.lots_per_product)
    parser.add_argument("--months", type=int, default=Shape.months)
    parser.add_argument("--seed", type=int, default=Shape.seed)
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=Shape.profile,
        help="uniform: random dispensing, resupply on demand (the posting and scale benchmarks); alerts: "
        "consumption by clinic size and product, FEFO, max-min resupply with cut-offs, users staying away, "
        "service figures, overdue shipments and open discrepancies (the alerts benchmark)",
    )
    parser.add_argument("--reset", action="store_true", help="drop, recreate and migrate the database first")
    parser.add_argument(
        "--keep-constraints", action="store_true", help="load with every index, foreign key and trigger in place"
    )
    parser.add_argument("--no-vacuum", action="store_true", help="skip VACUUM ANALYZE after the load")
    args = parser.parse_args(argv)
    shape = Shape(
        entries=args.entries,
        provinces=args.provinces,
        districts=args.districts,
        clinics=args.clinics,
        lots_per_product=args.lots_per_product,
        months=args.months,
        seed=args.seed,
        profile=args.profile,
    )
    started = time.monotonic()
    if args.reset:
        reset_database(args.database_url)
        print(f"reset {database_name(args.database_url)}: {time.monotonic() - started:.1f} s")
    else:
        ensure_database(args.database_url)
    print(f"loading {shape} into {database_name(args.database_url)} ({'keep' if args.keep_constraints else 'fast'})")
    load_started = time.monotonic()
    with raw_connect(args.database_url) as conn:
        try:
            summary = load(conn, shape, fast=not args.keep_constraints)
        except AlreadyGenerated as exc:
            sys.exit(str(exc))
        commit_started = time.monotonic()
        conn.commit()
        print(f"  commit: {time.monotonic() - commit_started:.1f} s")
    loaded = time.monotonic() - load_started
    if not args.no_vacuum:
        vacuum_started = time.monotonic()
        with raw_connect(args.database_url, autocommit=True) as conn:
            for table in ("inventory_location", "inventory_lot", *LEDGER_TABLES, *EXTRA_TABLES):
                conn.execute(f"VACUUM (ANALYZE) {table}")
        print(f"  vacuum analyze: {time.monotonic() - vacuum_started:.1f} s")
    print(
        f"loaded {summary.entries:,} entries, {summary.movements:,} movements, {summary.balances:,} balances, "
        f"{summary.locations:,} locations, {summary.lots} lots, {summary.service_figures:,} service figures, "
        f"{summary.shipments:,} shipments ({summary.overdue} overdue), {summary.discrepancies} open discrepancies"
        f" in {loaded:.1f} s "
        f"({summary.entries / max(loaded, 1e-9):,.0f} entries/s); total {time.monotonic() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
