"""Alerts at national scale: a full ``compute_alerts`` run against one hand-written SQL query.

    python -m bench.alerts --reset      # build alokon_bench_alerts (38 provinces, 514 districts,
                                        # 20,000 clinics, 8 products, 12 months), then measure
    python -m bench.alerts              # measure again on the database as it is

What it does, on a database built by ``bench.generate --profile alerts --months 12``
(``--reset`` builds it: drop, migrate, load):

1. empties the alert and notification tables (TRUNCATE), then runs ``compute_alerts()`` (every kind,
   every location; Django set up per ``bench.common``) twice: the first run opens the
   alerts, the second finds them and updates them. Wall time of each (the call,
   commit included) and, per kind, how many it opened, updated and resolved; the time
   of each kind's computation and of its sync is shown beside it.
2. the reference: ONE hand-written SQL statement, run through plain psycopg (no
   Django), that computes the stock status class of every (active real location,
   active product): stock on hand, consumption over the last 3 complete months
   (dispensing at clinics, issues to the subtree at warehouses), stockout days, AMC
   adjusted with the OpenLMIS formula ceil(C × 30M / (30M − stockout days)), MOS,
   the location's policy (its own, else its level's), the class. Median of
   ``--repeat`` runs (3), after one warm-up.
3. checks that its classes equal those of the app's indicators
   (``reports.selectors.indicators.stock_indicators``): rows compared, mismatches
   (must be 0), a few shown if any.
4. prints the ratio compute_alerts ÷ reference and the verdict against the goals:
   a full run under ``--goal-seconds`` (60) and within ``--goal-ratio`` (2×) of the
   reference. Exits non-zero when a goal is missed or a class differs.

``--explain`` also prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the indicator statement
and of the reference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import time
from collections import Counter

from bench.common import DEFAULT_URL, ROOT, database_name, print_facts, raw_connect, with_database

DEFAULT_ALERTS_URL = with_database(DEFAULT_URL, "alokon_bench_alerts")
LEVELS = ("national", "province", "district", "clinic")
STATUSES = ("stocked_out", "emergency", "below_min", "within", "above_max", "unknown", "not_stocked")

# The shape of the benchmark. 5M entries over 12 months is the monthly density
# of bench.generate's default (10M over 24 months).
SHAPE = {"entries": 5_000_000, "provinces": 38, "districts": 514, "clinics": 20_000, "months": 12}

# The reference. Written for this benchmark from the rules, independently of
# the app's statement; where the issue leaves a choice open it makes the app's
# documented one (reports/selectors/indicators.py): a day is stocked out when its
# closing balance of the product is zero, counted from the window's start if the
# location held the product before it, else from its first entry; AMC and MOS are
# rounded to 2 decimals before the comparison; no AMC when stocked out the whole
# window with no consumption; zero stock on a location that never held the product
# is "not stocked", stock without consumption "unknown".
#
# Window entries are read from the first entry id that can be dated in the window,
# found inside the statement by a binary search on the primary key over recorded_at
# (entries are never dated after the moment they are recorded, ids follow posting
# order); without it the statement reads the whole ledger (``--full-scan``).
REFERENCE_SQL = """
WITH RECURSIVE
probe (lo, hi) AS (
    SELECT min(id), max(id) + 1 FROM inventory_ledgerentry
    UNION ALL
    SELECT CASE WHEN x.recorded_at < %(cutoff)s THEN x.id + 1 ELSE p.lo END,
           CASE WHEN x.recorded_at < %(cutoff)s THEN p.hi ELSE (p.lo + p.hi) / 2 END
      FROM probe p
     CROSS JOIN LATERAL (
            SELECT e.id, e.recorded_at FROM inventory_ledgerentry e
             WHERE e.id >= (p.lo + p.hi) / 2 ORDER BY e.id LIMIT 1) x
     WHERE p.lo < p.hi
),
first_entry AS (
    SELECT CASE WHEN %(full_scan)s THEN 0 ELSE coalesce(max(lo), 0) END AS id FROM probe
),
place AS (
    SELECT l.id, l.level,
           coalesce(own.min_months, lvl.min_months) AS min_months,
           coalesce(own.max_months, lvl.max_months) AS max_months,
           coalesce(own.emergency_months, lvl.emergency_months) AS emergency_months
      FROM inventory_location l
      LEFT JOIN inventory_stockpolicy own ON own.location_id = l.id
      LEFT JOIN inventory_stockpolicy lvl ON lvl.location_id IS NULL AND lvl.level = l.level
     WHERE l.level IN ('national', 'province', 'district', 'clinic') AND l.is_active
),
on_hand AS (
    SELECT location_id, product_id, sum(quantity) AS soh
      FROM inventory_stockbalance
     GROUP BY location_id, product_id
),
-- dispatch movements of shipments in the window that go down the origin's subtree
issue AS (
    SELECT s.dispatch_movement_id AS movement_id
      FROM inventory_shipment s
      JOIN inventory_location src ON src.id = s.origin_id
      JOIN inventory_location dst ON dst.id = s.destination_id
     WHERE s.dispatch_date >= %(start)s AND s.dispatch_date < %(end)s
       AND left(dst.path, length(src.path)) = src.path
),
-- real-location entries from the first possible id on, per day
per_day AS (
    SELECT e.location_id, e.product_id, e.business_date AS day,
           -- one entry's quantity fits in an int: sum(int) adds in bigint, sum(bigint) in numeric
           sum(e.quantity::int) FILTER (WHERE e.business_date >= %(start)s) AS net,
           sum(-e.quantity::int) FILTER (
                WHERE e.business_date >= %(start)s AND e.business_date < %(end)s AND e.quantity < 0
                  AND (e.kind = 'dispensing' OR iss.movement_id IS NOT NULL)) AS used
      FROM inventory_ledgerentry e
      LEFT JOIN issue iss ON e.kind = 'dispatch' AND iss.movement_id = e.movement_id
     WHERE e.id >= (SELECT id FROM first_entry) AND e.balance_after IS NOT NULL
     GROUP BY e.location_id, e.product_id, e.business_date
),
-- closing balance of every window day with a change: the opening balance (stock on hand
-- less the window's net change) plus the changes up to that day; it lasts until the next
closing AS (
    SELECT d.location_id, d.product_id, d.day, d.net, d.used,
           coalesce(h.soh, 0) - sum(d.net) OVER whole + sum(d.net) OVER upto AS balance,
           least(coalesce(lead(d.day) OVER upto, %(end)s), %(end)s) AS until
      FROM per_day d
      LEFT JOIN on_hand h USING (location_id, product_id)
     WHERE d.day >= %(start)s
    WINDOW whole AS (PARTITION BY d.location_id, d.product_id),
           upto AS (PARTITION BY d.location_id, d.product_id ORDER BY d.day)
),
pair AS (
    SELECT location_id, product_id,
           sum(net) AS net,
           coalesce(sum(used), 0) AS used,
           min(day) AS first_day,
           coalesce(sum(until - day) FILTER (WHERE balance = 0 AND day < %(end)s), 0) AS out_days
      FROM closing
     GROUP BY location_id, product_id
),
-- pairs with an entry dated before the window among those read
seen AS (
    SELECT DISTINCT location_id, product_id FROM per_day WHERE day < %(start)s
),
pairs AS MATERIALIZED (
    SELECT pl.id AS location_id, pr.id AS product_id, pl.level,
           pl.min_months, pl.max_months, pl.emergency_months,
           coalesce(h.soh, 0) AS soh,
           h.location_id IS NOT NULL AS held,
           coalesce(p.used, 0) AS used,
           coalesce(p.out_days, 0)
           + CASE
                 WHEN h.location_id IS NULL OR coalesce(h.soh, 0) - coalesce(p.net, 0) <> 0 THEN 0
                 WHEN p.first_day IS NULL THEN %(end)s::date - %(start)s::date
                 -- held before the window: an entry dated before it among those read, or
                 -- the pair's first entry (one probe of its stock card) is older than them
                 WHEN sn.location_id IS NOT NULL OR (
                        SELECT x.id FROM inventory_ledgerentry x
                         WHERE x.location_id = pl.id AND x.product_id = pr.id
                         ORDER BY x.id LIMIT 1) < (SELECT id FROM first_entry)
                 THEN least(p.first_day, %(end)s::date) - %(start)s::date
                 ELSE 0
             END AS out_days
      FROM place pl
     CROSS JOIN (SELECT id FROM inventory_product WHERE is_active) pr
      LEFT JOIN on_hand h ON h.location_id = pl.id AND h.product_id = pr.id
      LEFT JOIN pair p ON p.location_id = pl.id AND p.product_id = pr.id
      LEFT JOIN seen sn ON sn.location_id = pl.id AND sn.product_id = pr.id
),
figures AS (
    SELECT q.*,
           CASE WHEN q.out_days >= %(days)s AND q.used = 0 THEN NULL
                WHEN q.out_days > 0 AND q.out_days < %(days)s
                THEN round(ceil(q.used * %(days)s::numeric / (%(days)s - q.out_days)) / %(months)s::numeric, 2)
                ELSE round(q.used / %(months)s::numeric, 2)
           END AS amc
      FROM pairs q
)
SELECT f.location_id, f.product_id, f.level, f.soh, f.used, f.out_days, f.amc,
       CASE WHEN f.amc > 0 THEN round(f.soh / f.amc, 2) END AS mos,
       CASE
           WHEN f.soh = 0 AND f.held THEN 'stocked_out'
           WHEN f.soh = 0 THEN 'not_stocked'
           WHEN coalesce(f.amc, 0) = 0 THEN 'unknown'
           WHEN round(f.soh / f.amc, 2) < f.emergency_months THEN 'emergency'
           WHEN round(f.soh / f.amc, 2) < f.min_months THEN 'below_min'
           WHEN round(f.soh / f.amc, 2) > f.max_months THEN 'above_max'
           ELSE 'within'
       END AS status
  FROM figures f
"""


def consumption_window(today: dt.date, months: int = 3) -> tuple[dt.date, dt.date]:
    """The last ``months`` complete calendar months before ``today``: [start, end)."""
    end = today.replace(day=1)
    start = end
    for _ in range(months):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return start, end


def reference_params(today: dt.date, *, full_scan: bool = False) -> dict:
    start, end = consumption_window(today)
    # Two days of margin before the window for postings that waited on a lock (and time zones).
    cutoff = dt.datetime.combine(start - dt.timedelta(days=2), dt.time.min, tzinfo=dt.UTC)
    return {"start": start, "end": end, "cutoff": cutoff, "days": 90, "months": 3, "full_scan": full_scan}


def reference_rows(conn, today: dt.date, *, full_scan: bool = False) -> list[tuple]:
    """(location, product, level, soh, consumption, stockout days, amc, mos, status) of every pair."""
    with conn.cursor() as cur:
        # 64MB: the window's daily rows sort in memory (the app's statement uses the same).
        # No JIT: compiling this plan takes ~3 s at national scale and saves nothing.
        cur.execute("SET work_mem = '64MB'")
        cur.execute("SET jit = off")
        cur.execute(REFERENCE_SQL, reference_params(today, full_scan=full_scan))
        return cur.fetchall()


def status_distribution(rows) -> dict[str, Counter]:
    """Status counts per level, from rows whose [2] is the level and [-1] the status."""
    by_level: dict[str, Counter] = {level: Counter() for level in LEVELS}
    for row in rows:
        by_level[row[2]][row[-1]] += 1
    return by_level


def print_distribution(by_level: dict[str, Counter]) -> None:
    print(f"  {'level':<9}" + "".join(f"{s:>12}" for s in STATUSES) + f"{'pairs':>10}")
    total: Counter = Counter()
    for level in LEVELS:
        counts = by_level[level]
        total.update(counts)
        n = sum(counts.values()) or 1
        cells = "".join(f"{counts[s]:>7,} {100 * counts[s] / n:3.0f}%" for s in STATUSES)
        print(f"  {level:<9}{cells}{sum(counts.values()):>10,}")
    n = sum(total.values()) or 1
    print(f"  {'all':<9}" + "".join(f"{total[s]:>7,} {100 * total[s] / n:3.0f}%" for s in STATUSES) + f"{n:>10,}")


# --- compute_alerts, timed -----------------------------------------------------------


def _timed_computers(timings: dict[str, float]):
    """Wrap each registered computer and ``sync_alerts`` so a run reports where its time went."""
    from reports.services import alerts as alerts_module

    original = alerts_module.COMPUTERS
    original_sync = alerts_module.sync_alerts

    def wrap(computer):
        name = "+".join(str(k) for k in computer.kinds)

        def compute(location_ids, today, thresholds):
            timings[f"compute {name}"] = 0.0  # listed before what it calls
            started = time.perf_counter()
            try:
                return computer.compute(location_ids, today, thresholds)
            finally:
                timings[f"compute {name}"] = time.perf_counter() - started

        return alerts_module.KindComputer(computer.kinds, compute)

    def sync(kinds, candidates, **kwargs):
        started = time.perf_counter()
        try:
            return original_sync(kinds, candidates, **kwargs)
        finally:
            timings[f"sync {'+'.join(str(k) for k in kinds)}"] = time.perf_counter() - started

    original_sync_sql = alerts_module.sync_alerts_sql

    def sync_sql(kinds, sql, params, **kwargs):
        # The stock kinds: the indicators, their candidates and the sync in one statement.
        started = time.perf_counter()
        try:
            return original_sync_sql(kinds, sql, params, **kwargs)
        finally:
            timings[f"indicators + candidates + sync {'+'.join(str(k) for k in kinds)}"] = time.perf_counter() - started

    def timed(module, name: str, label: str):
        original_fn = getattr(module, name)

        def fn(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original_fn(*args, **kwargs)
            finally:
                timings[label] = time.perf_counter() - started

        setattr(module, name, fn)
        return lambda: setattr(module, name, original_fn)

    from reports.services import notifications

    restores = [timed(notifications, "deliver_new_alerts", "deliver_new_alerts (after commit)")]
    alerts_module.COMPUTERS = tuple(wrap(c) for c in original)
    alerts_module.sync_alerts = sync
    alerts_module.sync_alerts_sql = sync_sql

    def restore():
        alerts_module.COMPUTERS = original
        alerts_module.sync_alerts = original_sync
        alerts_module.sync_alerts_sql = original_sync_sql
        for undo in restores:
            undo()

    return restore


def run_compute_alerts(today: dt.date) -> tuple[float, dict[str, Counter], dict[str, float]]:
    from django.db import connection

    from reports.services.alerts import compute_alerts

    timings: dict[str, float] = {}
    restore = _timed_computers(timings)
    try:
        started = time.perf_counter()
        result = compute_alerts(today=today)
        wall = time.perf_counter() - started
    finally:
        restore()
    counts: dict[str, Counter] = {}
    with connection.cursor() as cursor:
        for name, ids in (("opened", result.opened), ("updated", result.updated), ("resolved", result.resolved)):
            cursor.execute("SELECT kind, count(*) FROM reports_alert WHERE id = ANY(%s) GROUP BY kind", [list(ids)])
            counts[name] = Counter(dict(cursor.fetchall()))
    return wall, counts, timings


def print_run(label: str, wall: float, counts: dict[str, Counter], timings: dict[str, float]) -> None:
    print(f"compute_alerts, {label}: {wall:.1f} s")
    kinds = sorted(set().union(*counts.values()))
    print(f"  {'kind':<18}{'opened':>9}{'updated':>9}{'resolved':>9}")
    for kind in kinds:
        print(f"  {kind:<18}" + "".join(f"{counts[n][kind]:>9,}" for n in ("opened", "updated", "resolved")))
    print(f"  {'all':<18}" + "".join(f"{sum(counts[n].values()):>9,}" for n in ("opened", "updated", "resolved")))
    for name, seconds in timings.items():
        print(f"    {name}: {seconds:.2f} s")


def explain(conn, sql: str, params: dict, label: str) -> None:
    with conn.cursor() as cur:
        cur.execute("SET work_mem = '64MB'")
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        print(f"--- EXPLAIN ANALYZE: {label}")
        for (line,) in cur.fetchall():
            print(line)


# --- command line ---------------------------------------------------------------------


def build(url: str, shape: dict) -> None:
    args = [sys.executable, "-m", "bench.generate", "--reset", "--profile", "alerts", "--database-url", url]
    for key, value in shape.items():
        args += [f"--{key}", str(value)]
    subprocess.run(args, cwd=ROOT, check=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument("--database-url", default=DEFAULT_ALERTS_URL, help=f"default {DEFAULT_ALERTS_URL}")
    parser.add_argument(
        "--reset",
        action="store_true",
        help="rebuild the database first: bench.generate --reset --profile alerts with the shape below",
    )
    for key, value in SHAPE.items():
        parser.add_argument(f"--{key}", type=int, default=value, help=f"with --reset (default {value:,})")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the reference query (median; default 3)")
    parser.add_argument("--goal-seconds", type=float, default=60.0, help="a full compute_alerts run under this")
    parser.add_argument("--goal-ratio", type=float, default=2.0, help="compute_alerts ÷ reference at most this")
    parser.add_argument("--full-scan", action="store_true", help="also time the reference reading the whole ledger")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the indicator statement and reference")
    args = parser.parse_args(argv)
    url = args.database_url
    if "bench" not in database_name(url):
        sys.exit(f"refusing to run on {database_name(url)!r}: the alerts benchmark deletes every alert")
    if args.reset:
        build(url, {key: getattr(args, key) for key in SHAPE})

    print_facts(url)
    from bench.common import django_setup

    django_setup(url)
    from django.db import connection
    from django.utils import timezone

    from reports.selectors.indicators import indicator_params, indicator_sql, stock_indicators

    today = timezone.localdate()
    with raw_connect(url) as conn:
        sizes = dict(
            conn.execute(
                "SELECT 'entries', count(*) FROM inventory_ledgerentry UNION ALL"
                " SELECT 'clinics', count(*) FROM inventory_location WHERE level = 'clinic' UNION ALL"
                " SELECT 'service figures', count(*) FROM inventory_servicefigure UNION ALL"
                " SELECT 'shipments', count(*) FROM inventory_shipment"
            ).fetchall()
        )
    print("database: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()) + f"; today {today}")

    # An empty alert table as a new installation has it: TRUNCATE (a DELETE would leave
    # every earlier run's rows behind as dead tuples for the first run to wade through).
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE reports_notification, reports_alert")
        cursor.execute("ANALYZE reports_notification, reports_alert")
    first = run_compute_alerts(today)
    print_run("first run (opens)", *first)
    second = run_compute_alerts(today)
    print_run("second run (updates)", *second)
    with connection.cursor() as cursor:
        cursor.execute("SELECT kind, count(*) FROM reports_alert WHERE status = 'open' GROUP BY kind ORDER BY kind")
        print("open alerts: " + ", ".join(f"{kind} {n:,}" for kind, n in cursor.fetchall()))

    with raw_connect(url) as conn:
        reference_rows(conn, today)  # warm-up
        samples, rows = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            rows = reference_rows(conn, today)
            samples.append(time.perf_counter() - started)
        raw = statistics.median(samples)
        print(f"reference query (one statement, psycopg): median {raw:.2f} s of {[round(s, 2) for s in samples]}")
        if args.full_scan:
            started = time.perf_counter()
            reference_rows(conn, today, full_scan=True)
            print(f"reference query reading the whole ledger: {time.perf_counter() - started:.2f} s")
        if args.explain:
            explain(conn, REFERENCE_SQL, reference_params(today), "reference")

    print("stock status (reference):")
    print_distribution(status_distribution(rows))

    started = time.perf_counter()
    app_rows = stock_indicators(today=today)
    app_seconds = time.perf_counter() - started
    print(f"stock_indicators() alone: {app_seconds:.2f} s, {len(app_rows):,} rows")
    if args.explain:
        params = indicator_params(None, today)
        params = {k: v for k, v in params.items() if k != "locations"}
        with raw_connect(url) as conn:
            explain(conn, indicator_sql(False), params, "indicator statement (stock_indicators)")

    app = {(r.location_id, r.product_id): r.status for r in app_rows}
    mine = {(r[0], r[1]): r for r in rows}
    keys = app.keys() | mine.keys()
    mismatches = [k for k in sorted(keys) if k not in app or k not in mine or app[k] != mine[k][-1]]
    print(f"classes compared: {len(keys):,} (location, product) rows, {len(mismatches)} mismatches")
    for key in mismatches[:10]:
        print(f"  {key}: app {app.get(key)!r}, reference {mine.get(key)}")

    wall = max(first[0], second[0])
    ratio = wall / raw if raw else float("inf")
    time_ok = wall < args.goal_seconds
    ratio_ok = ratio <= args.goal_ratio
    print(
        f"compute_alerts (slower run) {wall:.1f} s ÷ reference {raw:.2f} s = {ratio:.1f}×\n"
        f"goal: under {args.goal_seconds:.0f} s: {'met' if time_ok else 'MISSED'}; "
        f"within {args.goal_ratio:g}× of the reference: {'met' if ratio_ok else 'MISSED'}; "
        f"same classes: {'yes' if not mismatches else 'NO'}"
    )
    return 0 if time_ok and ratio_ok and not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
