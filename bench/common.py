"""What every benchmark shares: which database, Django set-up, raw connections, machine facts.

The benchmarks run against a dedicated database (``alokon_bench`` on the local
PostgreSQL by default; ``BENCH_DATABASE_URL`` or ``--database-url`` to change it),
never the test databases or the embedded server's data. Each process that posts
through the service calls ``django_setup`` itself, so every writer has its own
Django and its own connection, as a web worker would.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/alokon_bench")


def django_setup(url: str) -> None:
    """Configure Django for ``url`` in this process (idempotent)."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alokon.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def raw_connect(url: str, **kwargs):
    """A plain psycopg connection (no Django) to ``url``."""
    import psycopg

    return psycopg.connect(url, **kwargs)


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead (same server and user)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def machine_facts(url: str) -> dict[str, str]:
    """Core count, date and PostgreSQL version, for the README's results."""
    with raw_connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        settings = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings"
                " WHERE name IN ('shared_buffers', 'synchronous_commit', 'max_wal_size')"
            ).fetchall()
        )
    load = os.getloadavg()[0]
    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "postgresql": version,
        "pg_settings": ", ".join(f"{k}={v}" for k, v in sorted(settings.items())),
        "load_1min": f"{load:.2f}",
    }


def print_facts(url: str) -> None:
    facts = machine_facts(url)
    print(
        f"# {facts['date']} · nproc {facts['nproc']} · PostgreSQL {facts['postgresql']} "
        f"({facts['pg_settings']}) · load {facts['load_1min']} · database {database_name(url)}"
    )


def timed(fn, *, repeat: int, warmup: int = 3) -> tuple[float, float]:
    """Median and 95th percentile wall time of ``fn()`` in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def pair_check(cursor, location_id: int, lot_id: int) -> dict:
    """Verify one (location, lot) the way ``check_ledger`` does: balance = sum, chain holds.

    Used after the one-row benchmark, where a lost update would show up here.
    """
    cursor.execute(
        "SELECT quantity FROM inventory_stockbalance WHERE location_id = %s AND lot_id = %s", [location_id, lot_id]
    )
    row = cursor.fetchone()
    balance = row[0] if row else None
    cursor.execute(
        """
        SELECT count(*),
               coalesce(sum(quantity), 0),
               count(*) FILTER (WHERE balance_after IS DISTINCT FROM running)
          FROM (SELECT quantity, balance_after,
                       sum(quantity) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running
                  FROM inventory_ledgerentry
                 WHERE location_id = %s AND lot_id = %s) e
        """,
        [location_id, lot_id],
    )
    entries, total, broken = cursor.fetchone()
    return {"balance": balance, "entries": entries, "sum": total, "broken_links": broken}


def wait_until_serving(server: subprocess.Popen, base: str, *, tries: int = 60) -> None:
    """Wait until the server started as ``server`` answers ``base``/accounts/login/; stop
    it and exit with a message when it does not within ``tries`` half-seconds."""
    import urllib.error
    import urllib.request

    for _ in range(tries):
        try:
            urllib.request.urlopen(f"{base}/accounts/login/", timeout=2)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    server.terminate()
    raise SystemExit("gunicorn did not answer")
