"""Does the ledger stay fast at 10 million entries?

    python -m bench.scale            # needs the three databases below, made by bench.generate

Three databases with the same national tree (bench/README.md has the commands):
``--large`` (10M entries), ``--small`` (10k entries) and ``--empty`` (no entries).

(a) reads: the stock of one location (``stock_rows``, ``stock_by_product``), its
    consumption (AMC) and the first page of a stock card (``stock_card``), timed on
    the same location codes in the small and the large database. The locations are
    picked in the small database (the clinic and the district with the most entries
    there) so that both databases hold stock for them. Goal: large ≤ 2 × small.
(b) posting: ``bench.posting``'s service scenario on the empty and on the large
    ledger. Goal: large ≥ 2/3 × empty.
(c) ``python manage.py check_ledger`` over the large ledger, timed from outside.
    Goal: under 30 s.

Each database is read by its own spawned process (Django is set up once per process).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time

from bench.common import DEFAULT_URL, ROOT, database_name, django_setup, print_facts, raw_connect, timed, with_database
from bench.posting import collect, pick_workload, run_service

CARD_PAGE = 50


def pick_locations(url: str) -> list[tuple[str, str]]:
    """(location code, product code) of the best-stocked clinic and district of ``url``.

    Best stocked = most lots in stock (then most stock); the product is the one with
    the most entries there, so its stock card has a full first page.
    """
    picks = []
    with raw_connect(url) as conn:
        for level in ("clinic", "district"):
            row = conn.execute(
                """
                SELECT b.location_id, l.code
                  FROM inventory_stockbalance b JOIN inventory_location l ON l.id = b.location_id
                 WHERE l.level = %s AND b.quantity > 0
                 GROUP BY b.location_id, l.code
                 ORDER BY count(*) DESC, sum(b.quantity) DESC, l.code
                 LIMIT 1
                """,
                [level],
            ).fetchone()
            if not row:
                continue
            product = conn.execute(
                """
                SELECT p.code FROM inventory_product p
                 ORDER BY (SELECT count(*) FROM inventory_ledgerentry e
                            WHERE e.location_id = %s AND e.product_id = p.id) DESC, p.code
                 LIMIT 1
                """,
                [row[0]],
            ).fetchone()
            picks.append((row[1], product[0]))
    if not picks:
        raise SystemExit(f"no stock in {database_name(url)}: generate it first (see bench/README.md)")
    return picks


def _read_worker(url: str, picks: list[tuple[str, str]], repeat: int, queue) -> None:
    django_setup(url)
    from inventory.models import LedgerEntry, Location, Product
    from inventory.selectors.stock import average_monthly_consumption, stock_by_product, stock_card, stock_rows

    results = []
    for code, product_code in picks:
        location = Location.objects.get(code=code)
        product = Product.objects.get(code=product_code)
        queries = {
            "stock_rows": lambda loc=location: list(stock_rows(loc)),
            "stock_by_product": lambda loc=location: list(stock_by_product(loc)),
            "amc": lambda loc=location: average_monthly_consumption(loc),
            "stock card page 1": lambda loc=location, p=product: list(stock_card(loc, p)[:CARD_PAGE]),
            "stock card count": lambda loc=location, p=product: stock_card(loc, p).count(),
        }
        entries = LedgerEntry.objects.filter(location=location).count()
        rows = len(queries["stock_rows"]())
        for name, fn in queries.items():
            median, p95 = timed(fn, repeat=repeat)
            results.append(
                {
                    "location": code,
                    "level": location.level,
                    "product": product_code,
                    "query": name,
                    "median": median,
                    "p95": p95,
                    "entries": entries,
                    "rows": rows,
                }
            )
    queue.put(results)


def read_timings(url: str, picks, repeat: int) -> list[dict]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_read_worker, args=(url, picks, repeat, queue))
    proc.start()
    results = collect(queue, [proc], 1, timeout=600)[0]
    proc.join()
    return results


def part_reads(small: str, large: str, repeat: int) -> bool:
    small_t = read_timings(small, pick_locations(small), repeat)
    large_t = read_timings(large, pick_locations(large), repeat)
    print(f"(a) reads, median of {repeat} (ms); goal: large ≤ 2 × small")
    print(f"{'level':<9} {'query':<18} {'small':>8} {'large':>8} {'ratio':>6}  locations; entries there; stock rows")
    ok = True
    for s, g in zip(small_t, large_t, strict=True):
        ratio = g["median"] / s["median"] if s["median"] else float("inf")
        goal = s["query"] in ("stock_rows", "stock_by_product", "stock card page 1")
        ok &= ratio <= 2 or not goal
        note = "" if goal else "  (informational)"
        print(
            f"{s['level']:<9} {s['query']:<18} {s['median']:>8.2f} {g['median']:>8.2f} {ratio:>6.2f}"
            f"  {s['location']}/{g['location']}; {s['entries']:,}/{g['entries']:,}; {s['rows']}/{g['rows']}{note}"
        )
    print(f"    goal {'met' if ok else 'MISSED'}")
    return ok


def part_posting(empty: str, large: str, seconds: float, writers: list[int]) -> bool:
    print(f"(b) posting through the service, {seconds:g} s per run; goal: large ≥ 2/3 × empty")
    ok = True
    for n in writers:
        e = run_service(pick_workload(empty), n, seconds).rate
        g = run_service(pick_workload(large), n, seconds).rate
        ok &= g >= e * 2 / 3
        print(f"    {n} writer(s): empty {e:.0f} tx/s, large {g:.0f} tx/s, ratio {g / e:.2f}", flush=True)
    print(f"    goal {'met' if ok else 'MISSED'}")
    return ok


def part_check(large: str) -> bool:
    env = {**os.environ, "DATABASE_URL": large, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench")}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "manage.py", "check_ledger"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    elapsed = time.monotonic() - started
    last = (proc.stdout.strip().splitlines() or proc.stderr.strip().splitlines() or [""])[-1]
    ok = proc.returncode == 0 and elapsed < 30
    print(f"(c) check_ledger on {database_name(large)}: {elapsed:.1f} s wall, exit {proc.returncode}: {last}")
    print(f"    goal (< 30 s, exit 0) {'met' if ok else 'MISSED'}")
    return ok


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", default=DEFAULT_URL, help="the 10M-entry database")
    parser.add_argument("--small", default=with_database(DEFAULT_URL, "alokon_bench_10k"))
    parser.add_argument("--empty", default=with_database(DEFAULT_URL, "alokon_bench_empty"))
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--only", choices=["reads", "posting", "check"], nargs="+")
    args = parser.parse_args(argv)
    only = set(args.only or ["reads", "posting", "check"])
    print_facts(args.large)
    with raw_connect(args.large) as conn:
        entries = conn.execute("SELECT count(*) FROM inventory_ledgerentry").fetchone()[0]
    print(f"large ledger: {entries:,} entries")
    ok = True
    if "reads" in only:
        ok &= part_reads(args.small, args.large, args.repeat)
    if "posting" in only:
        ok &= part_posting(args.empty, args.large, args.seconds, args.writers)
    if "check" in only:
        ok &= part_check(args.large)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
