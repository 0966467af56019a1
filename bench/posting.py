"""Posting throughput: the service against the raw limit of this disk and these cores.

    python -m bench.posting --seconds 10

Scenarios, each with N writer processes (spawned, each with its own Django set-up
and connection, as web workers would be), all in one run on one database:

- ``service``: ``movement_post`` in its own transaction per movement, spread over
  many balance rows (random locations × lots). Each writer cycles through the
  three shapes a movement has: supplier → A (real ↔ virtual), A → B (a transfer
  between two real locations), B → dispensed (real ↔ virtual). A writer only takes
  out what it put in, so no posting is ever refused for lack of stock.
- ``raw``: the limit the goal is measured against. Plain psycopg, no Django and
  no Python logic, running the service's own statements (``inventory.services.
  posting_sql``: lock the balance rows in order, then one statement that moves
  the balances and inserts the movement and its entries) for the same three
  movement shapes on the real tables, so what it writes is a valid ledger.
- ``raw-minimal``: plain psycopg, per transaction one UPDATE of one balance row
  (``quantity = quantity + 1 … RETURNING``) and one INSERT of one ledger entry row,
  over the same number of balance rows. It runs on scratch copies of the two
  tables (``CREATE TABLE … (LIKE … INCLUDING ALL)``: same columns, indexes and
  CHECKs; no triggers, no foreign keys), created for the run and dropped after it,
  because unbalanced raw rows must never enter the real, append-only ledger.
- ``service-one-row``: every writer on ONE balance row (the national warehouse and
  one lot): half dispense one unit, half receive one unit from the supplier.
  Afterwards: final balance = initial + every posted delta (no lost update), the
  balance equals the sum of its entries and the balance-after chain holds.

Rates are committed transactions (movements) per second of wall time.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import time
from dataclasses import dataclass, field
from queue import Empty

from bench.common import DEFAULT_URL, django_setup, pair_check, print_facts, raw_connect

SPREAD_LOCATIONS = 2_000
WARMUP = 20


@dataclass
class Result:
    scenario: str
    writers: int
    transactions: int
    seconds: float
    refused: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


@dataclass
class Workload:
    """What every writer needs to know, picked once by the parent process."""

    url: str
    location_ids: list[int]
    lots: list[tuple[int, int]]  # (lot id, product id)
    hot: tuple[int, int] | None = None  # (location id, lot id)
    seed: int = 7


# --- the writers (each runs in its own spawned process) ----------------------------


def _timed(step, seconds: float, barrier, refusals=()) -> dict:
    """Warm up, wait for every writer, then call ``step`` for ``seconds``; count what
    was done and what was refused (``refusals``: exception types that count as such)."""
    for _ in range(WARMUP):
        step()
    barrier.wait()
    started = time.monotonic()
    deadline = started + seconds
    done = refused = 0
    while time.monotonic() < deadline:
        try:
            step()
            done += 1
        except refusals:
            refused += 1
    return {"done": done, "elapsed": time.monotonic() - started, "refused": refused}


def _service_writer(workload: Workload, mode: str, index: int, seconds: float, barrier, queue) -> None:
    django_setup(workload.url)
    from django.utils import timezone

    from inventory.errors import InsufficientStock
    from inventory.models import Location, Lot, MovementKind, VirtualRole
    from inventory.services.posting import EntrySpec, movement_post, transfer, virtual_location

    rng = random.Random(workload.seed * 1000 + index)
    supplier = virtual_location(VirtualRole.SUPPLIER)
    dispensed = virtual_location(VirtualRole.DISPENSED)
    today = timezone.localdate()
    prefix = f"BENCH-{os.getpid()}-"
    counter = 0
    delta = 0  # net quantity this writer posted to the hot row

    def post(kind, entries):
        nonlocal counter
        counter += 1
        movement_post(kind=kind, entries=entries, business_date=today, document=f"{prefix}{counter}")

    if mode == "spread":
        locations = list(Location.objects.filter(pk__in=workload.location_ids))
        lots = list(Lot.objects.filter(pk__in=[lot_id for lot_id, _p in workload.lots]).select_related("product"))
        cycle = []

        def step():
            if not cycle:
                a, b = rng.sample(locations, 2)
                lot, quantity = rng.choice(lots), 1 + rng.randrange(10)
                cycle.extend(
                    [
                        (MovementKind.RECEIPT, transfer(source=supplier, destination=a, lot=lot, quantity=quantity)),
                        (MovementKind.DISPATCH, transfer(source=a, destination=b, lot=lot, quantity=quantity)),
                        (
                            MovementKind.DISPENSING,
                            transfer(source=b, destination=dispensed, lot=lot, quantity=quantity),
                        ),
                    ]
                )
            kind, entries = cycle.pop(0)
            post(kind, entries)

    else:
        location = Location.objects.get(pk=workload.hot[0])
        lot = Lot.objects.select_related("product").get(pk=workload.hot[1])
        if index == 0:
            # Stock for the writers that take out: they could never overdraw it in one run.
            post(MovementKind.RECEIPT, transfer(source=supplier, destination=location, lot=lot, quantity=1_000_000))
            delta += 1_000_000
        barrier.wait()  # the stock is there before anyone takes out (warm-up included)
        taking_out = index % 2 == 1

        def step():
            nonlocal delta
            if taking_out:
                post(MovementKind.DISPENSING, [EntrySpec(location, lot, -1), EntrySpec(dispensed, lot, 1)])
                delta -= 1
            else:
                post(MovementKind.RECEIPT, [EntrySpec(supplier, lot, -1), EntrySpec(location, lot, 1)])
                delta += 1

    timing = _timed(step, seconds, barrier, refusals=InsufficientStock)
    queue.put({**timing, "delta": delta})


def _raw_writer(workload: Workload, mode: str, index: int, seconds: float, barrier, queue) -> None:
    rng = random.Random(workload.seed * 1000 + index)
    if mode == "spread":
        keys = [(loc, lot, product) for loc in workload.location_ids for lot, product in workload.lots]
    else:
        lot, product = next(pair for pair in workload.lots if pair[0] == workload.hot[1])
        keys = [(workload.hot[0], lot, product)]
    with raw_connect(workload.url) as conn:
        cur = conn.cursor()

        def step():
            location, lot, product = keys[rng.randrange(len(keys))]
            cur.execute(
                "UPDATE bench_raw_balance SET quantity = quantity + 1, updated_at = now()"
                " WHERE location_id = %s AND lot_id = %s RETURNING quantity",
                [location, lot],
            )
            after = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO bench_raw_entry (movement_id, location_id, lot_id, product_id, quantity, kind,"
                " business_date, recorded_at, balance_after) VALUES (0, %s, %s, %s, 1, 'receipt', current_date,"
                " now(), %s)",
                [location, lot, product, after],
            )
            conn.commit()

        queue.put({**_timed(step, seconds, barrier), "delta": 0})


def raw_poster(conn, prefix: str):
    """``post(kind, entries)`` running the posting service's own SQL on ``conn``, one
    transaction per call; entries are (location id, lot id, product id, quantity, is_real)."""
    import datetime as dt

    from inventory.services import posting_sql

    cur = conn.cursor()
    counter = 0

    def post(kind, entries):
        nonlocal counter
        counter += 1
        real = sorted({(e[0], e[1]) for e in entries if e[4]})
        deltas = {k: sum(e[3] for e in entries if (e[0], e[1]) == k) for k in real}
        cur.execute(posting_sql.LOCK, posting_sql.lock_params(real))
        available = {(loc, lot): qty for loc, lot, qty in cur.fetchall()}
        missing = [k for k in real if k not in available]
        now = dt.datetime.now(dt.UTC)
        if missing:
            products = {(e[0], e[1]): e[2] for e in entries}
            cur.execute(posting_sql.CREATE, posting_sql.create_params(missing, products, now))
            cur.execute(posting_sql.LOCK, posting_sql.lock_params(missing))
            available.update({(loc, lot): qty for loc, lot, qty in cur.fetchall()})
        rows = []
        for location, lot, product, quantity, is_real in entries:
            after = None
            if is_real:
                available[(location, lot)] += quantity
                after = available[(location, lot)]
            rows.append((location, lot, product, quantity, after, ""))
        cur.execute(
            posting_sql.WRITE,
            posting_sql.write_params(
                now=now,
                deltas=deltas,
                kind=kind,
                document=f"{prefix}{counter}",
                date=dt.date.today(),
                actor_id=None,
                note="",
                reverses_id=None,
                rows=rows,
            ),
        )
        cur.fetchone()
        conn.commit()

    return post


def _raw_same_writer(workload: Workload, mode: str, index: int, seconds: float, barrier, queue) -> None:
    """The service's SQL from plain psycopg: what posting costs without Django and Python."""
    rng = random.Random(workload.seed * 1000 + index)
    with raw_connect(workload.url) as conn:
        virtual = dict(conn.execute("SELECT virtual_role, id FROM inventory_location WHERE level = 'virtual'"))
        supplier, dispensed = virtual["supplier"], virtual["dispensed"]
        post, cycle = raw_poster(conn, f"RAW-{os.getpid()}-"), []

        def step():
            if not cycle:
                a, b = rng.sample(workload.location_ids, 2)
                (lot, product), quantity = rng.choice(workload.lots), 1 + rng.randrange(10)
                cycle.extend(
                    [
                        ("receipt", [(supplier, lot, product, -quantity, False), (a, lot, product, quantity, True)]),
                        ("dispatch", [(a, lot, product, -quantity, True), (b, lot, product, quantity, True)]),
                        (
                            "dispensing",
                            [(b, lot, product, -quantity, True), (dispensed, lot, product, quantity, False)],
                        ),
                    ]
                )
            post(*cycle.pop(0))

        queue.put({**_timed(step, seconds, barrier), "delta": 0})


# --- the parent: pick the workload, run scenarios, check ---------------------------


def pick_workload(url: str, *, seed: int = 7, locations: int = SPREAD_LOCATIONS) -> Workload:
    with raw_connect(url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM inventory_location WHERE level IN ('district', 'clinic')")]
        lots = conn.execute("SELECT id, product_id FROM inventory_lot ORDER BY id").fetchall()
        # The national warehouse: the one-row runs pile entries on it, and bench.scale
        # reads clinics and districts, not it.
        hot = conn.execute(
            "SELECT id FROM inventory_location WHERE level IN ('national', 'district') ORDER BY level DESC, code"
            " LIMIT 1"
        ).fetchone()
    if len(ids) < 2 or not lots or not hot:
        raise SystemExit(
            "no tree or no lots in this database: run `python -m bench.generate --reset --entries 0` first"
        )
    rng = random.Random(seed)
    sample = sorted(rng.sample(ids, min(locations, len(ids))))
    return Workload(url=url, location_ids=sample, lots=lots, hot=(hot[0], lots[0][0]), seed=seed)


def collect(queue, procs, count: int, *, timeout: float) -> list:
    """``count`` reports from ``queue``; fail fast if a process died without reporting."""
    reports, deadline = [], time.monotonic() + timeout
    while len(reports) < count:
        try:
            reports.append(queue.get(timeout=1))
        except Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                for p in procs:
                    p.terminate()
                raise RuntimeError(f"{len(dead)} benchmark process(es) failed; see their traceback above") from None
    return reports


def _run(workload: Workload, kind: str, mode: str, writers: int, seconds: float, target=None) -> Result:
    """``writers`` processes of ``target`` (by default the writer named by ``kind``)."""
    target = target or {"service": _service_writer, "raw": _raw_same_writer, "raw-minimal": _raw_writer}[kind]
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(writers), ctx.Queue()
    with raw_connect(workload.url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # no checkpoint left over from the previous scenario
    procs = [ctx.Process(target=target, args=(workload, mode, i, seconds, barrier, queue)) for i in range(writers)]
    for p in procs:
        p.start()
    reports = collect(queue, procs, writers, timeout=seconds + 300)
    for p in procs:
        p.join()
        if p.exitcode:
            raise RuntimeError(f"a {kind} writer failed (exit code {p.exitcode})")
    name = f"{kind}" if mode == "spread" else f"{kind}-one-row"
    return Result(
        scenario=name,
        writers=writers,
        transactions=sum(r["done"] for r in reports),
        seconds=max(r["elapsed"] for r in reports),
        refused=sum(r["refused"] for r in reports),
        extra={"delta": sum(r["delta"] for r in reports)},
    )


def run_service(workload: Workload, writers: int, seconds: float) -> Result:
    return _run(workload, "service", "spread", writers, seconds)


def run_one_row(workload: Workload, writers: int, seconds: float) -> Result:
    """All writers on one balance row; checks that no update was lost."""
    location_id, lot_id = workload.hot
    with raw_connect(workload.url) as conn:
        row = conn.execute(
            "SELECT quantity FROM inventory_stockbalance WHERE location_id = %s AND lot_id = %s", [location_id, lot_id]
        ).fetchone()
    initial = row[0] if row else 0
    result = _run(workload, "service", "one-row", writers, seconds)
    with raw_connect(workload.url) as conn:
        check = pair_check(conn.cursor(), location_id, lot_id)
    expected = initial + result.extra["delta"]
    result.extra.update(
        initial=initial,
        expected=expected,
        **check,
        ok=check["balance"] == expected == check["sum"] and check["broken_links"] == 0,
    )
    return result


def run_raw(workload: Workload, writers: int, seconds: float) -> Result:
    return _run(workload, "raw", "spread", writers, seconds)


def run_raw_minimal(workload: Workload, mode: str, writers: int, seconds: float) -> Result:
    with raw_connect(workload.url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_entry, bench_raw_balance")
        conn.execute("CREATE TABLE bench_raw_entry (LIKE inventory_ledgerentry INCLUDING ALL)")
        conn.execute("CREATE TABLE bench_raw_balance (LIKE inventory_stockbalance INCLUDING ALL)")
        conn.execute(
            "INSERT INTO bench_raw_balance (location_id, lot_id, product_id, quantity, updated_at)"
            " SELECT loc, lot, product, 0, now() FROM unnest(%s::bigint[]) AS loc,"
            " unnest(%s::bigint[], %s::bigint[]) AS l(lot, product)",
            [
                workload.location_ids if mode == "spread" else [workload.hot[0]],
                [lot for lot, _p in workload.lots],
                [p for _lot, p in workload.lots],
            ],
        )
        conn.execute("ANALYZE bench_raw_balance")
    try:
        return _run(workload, "raw-minimal", mode, writers, seconds)
    finally:
        with raw_connect(workload.url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_raw_entry, bench_raw_balance")


def report(results: list[Result]) -> None:
    print(f"{'scenario':<18} {'writers':>7} {'transactions':>12} {'seconds':>8} {'tx/s':>9}")
    for r in results:
        print(f"{r.scenario:<18} {r.writers:>7} {r.transactions:>12} {r.seconds:>8.1f} {r.rate:>9.0f}")
    by = {(r.scenario, r.writers): r for r in results}
    for writers in sorted({r.writers for r in results}):
        service, raw = by.get(("service", writers)), by.get(("raw", writers))
        if service and raw and raw.rate:
            verdict = (
                ""
                if writers == 1
                else ("  (goal ≥ 0.5: met)" if service.rate >= raw.rate / 2 else "  (goal ≥ 0.5: MISSED)")
            )
            print(f"service/raw at {writers} writer(s): {service.rate / raw.rate:.2f}{verdict}")
        minimal = by.get(("raw-minimal", writers))
        if service and minimal and minimal.rate:
            print(f"service/raw-minimal at {writers} writer(s): {service.rate / minimal.rate:.2f}")
    for r in results:
        if r.scenario == "service-one-row":
            x = r.extra
            print(
                f"one row, {r.writers} writers: initial {x['initial']} + posted {x['delta']} = {x['expected']}; "
                f"balance {x['balance']}, sum of its {x['entries']} entries {x['sum']}, broken balance-after links "
                f"{x['broken_links']}, refused {r.refused} → {'OK, no lost update' if x['ok'] else 'FAILED'}"
            )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--only", choices=["service", "raw", "raw-minimal", "one-row"], nargs="+")
    args = parser.parse_args(argv)
    only = set(args.only or ["service", "raw", "raw-minimal", "one-row"])
    print_facts(args.database_url)
    workload = pick_workload(args.database_url)
    print(f"spread over {len(workload.location_ids)} locations × {len(workload.lots)} lots; {args.seconds:g} s per run")
    results = []
    for writers in args.writers:
        if "service" in only:
            results.append(run_service(workload, writers, args.seconds))
            print(f"  service, {writers} writer(s): {results[-1].rate:.0f} tx/s", flush=True)
        if "raw" in only:
            results.append(run_raw(workload, writers, args.seconds))
            print(f"  raw (the service's SQL), {writers} writer(s): {results[-1].rate:.0f} tx/s", flush=True)
        if "raw-minimal" in only:
            results.append(run_raw_minimal(workload, "spread", writers, args.seconds))
            print(f"  raw-minimal, {writers} writer(s): {results[-1].rate:.0f} tx/s", flush=True)
    if "one-row" in only:
        results.append(run_one_row(workload, max(args.writers), args.seconds))
        print(f"  service on one row, {max(args.writers)} writers: {results[-1].rate:.0f} tx/s", flush=True)
    report(results)
    ok = all(r.extra.get("ok", True) for r in results)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
