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
import datetime as dt
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from bench.common import DEFAULT_URL, ROOT, database_name, raw_connect, with_database

LEDGER_TABLES = ("inventory_ledgerentry", "inventory_movement", "inventory_stockbalance")
BALANCED_TRIGGER = "ledgerentry_movement_balanced"
BATCH_PREFIX = "GEN-"
CLINIC_KINDS = [("puskesmas", "Puskesmas"), ("klinik", "Klinik"), ("tpmb", "TPMB"), ("rs", "RS")]

# How much a location orders when it runs short, by level (units of one lot).
RESUPPLY = {"clinic": 240, "district": 6_000, "province": 120_000, "national": 2_000_000}


@dataclass
class Shape:
    entries: int = 10_000_000
    provinces: int = 38
    districts: int = 514
    clinics: int = 20_000
    lots_per_product: int = 6
    months: int = 24
    seed: int = 72


@dataclass
class Summary:
    entries: int = 0
    movements: int = 0
    balances: int = 0
    locations: int = 0
    lots: int = 0
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


def _build_lots(cur, shape: Shape, start: dt.date, span_days: int) -> tuple[list[list[int]], dict[int, int]]:
    """``lots_per_product`` lots of every product, each expiring after the one before."""
    products = cur.execute("SELECT id, code FROM inventory_product ORDER BY code").fetchall()
    rows = []
    for product_id, code in products:
        for i in range(shape.lots_per_product):
            expiry = start + dt.timedelta(days=(i + 1) * span_days // shape.lots_per_product + 540)
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

    tree = _build_tree(cur, shape, rng)
    lots, lot_product = _build_lots(cur, shape, start, span_days)
    summary.locations, summary.lots = len(tree["parent"]), len(lot_product)
    virtual_ids = dict(
        cur.execute("SELECT virtual_role, id FROM inventory_location WHERE level = 'virtual'").fetchall()
    )
    lap("tree and lots")

    first_ids = (_reserve_ids(cur, "inventory_ledgerentry"), _reserve_ids(cur, "inventory_movement"))
    with tempfile.TemporaryFile("w+", encoding="utf-8") as movement_file:
        ledger = _Ledger(shape, tree, lots, lot_product, virtual_ids, start, span_days, first_ids, movement_file)
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
            for table in ("inventory_location", "inventory_lot", *LEDGER_TABLES):
                conn.execute(f"VACUUM (ANALYZE) {table}")
        print(f"  vacuum analyze: {time.monotonic() - vacuum_started:.1f} s")
    print(
        f"loaded {summary.entries:,} entries, {summary.movements:,} movements, {summary.balances:,} balances, "
        f"{summary.locations:,} locations, {summary.lots} lots in {loaded:.1f} s "
        f"({summary.entries / max(loaded, 1e-9):,.0f} entries/s); total {time.monotonic() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
