"""Receiving at scale: receipts through the API on a production-style server, and
the receiving page's response time with 100,000 shipments in the database.

    python -m bench.receiving                       # 100,000 shipments (build ~1 min)
    python -m bench.receiving --shipments 2000      # a quick look

1. A database of its own (``alokon_bench_receiving``, rebuilt each run): one
   province, 10 districts, 100 clinics; stock at the province. ``--receipts``
   8-line shipments (one line per product) to the districts are created and
   dispatched through the services (``--builders`` processes); the rest of the
   ``--shipments`` are one-line dispatched shipments written set-based in one
   transaction (see ``bulk_shipments``), with every constraint and trigger on.
2. gunicorn (``--workers``, DEBUG off, as docker/ will run it) on 127.0.0.1.
3. The receiving page ``/s/<token>`` of random undelivered 8-line shipments, as
   the destination's clerk with a session: p50 and p95 over ``--page-requests``
   requests, timed at the client on loopback (an upper bound of server time).
4. Receipts: 8 client threads, each with its district clerk's API token, POST full
   receipts of the 8-line shipments (``/api/v1/shipments/<number>/receipts/``);
   receipts per second of wall time, every response checked (201).
5. The raw-SQL limits in the same run and database, 8 writers each: ``bench.posting``'s
   ``raw`` scenario (the posting service's own SQL from plain psycopg, one lot per
   movement) and the same SQL posting a receipt's ledger work (8 lots, 16 entries).
6. ``check_ledger`` over the whole database.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import multiprocessing as mp
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from bench.common import DEFAULT_URL, ROOT, django_setup, print_facts, wait_until_serving, with_database

BULK_SQL = """
-- One-line dispatched shipments, province → districts, built set-based: what
-- shipment_create + shipment_dispatch would have written, in one transaction.
CREATE TEMP TABLE bulk_plan ON COMMIT DROP AS
SELECT g AS i,
       %(first_seq)s + g AS seq,
       (array[{lots}])[1 + g %% {nlots}] AS lot_id,
       (array[{products}])[1 + g %% {nlots}] AS product_id,
       (array[{districts}])[1 + g %% {ndistricts}] AS destination_id,
       10 + g %% 7 AS quantity,
       %(now)s::timestamptz - make_interval(secs => (%(count)s - g) * 7) AS at
FROM generate_series(0, %(count)s - 1) AS g;

CREATE TEMP TABLE bulk_movement ON COMMIT DROP AS
WITH m AS (
    INSERT INTO inventory_movement (kind, document, business_date, recorded_at, recorded_by_id, note)
    SELECT 'dispatch', %(prefix)s || lpad(seq::text, 6, '0'), at::date, at, %(actor)s, ''
    FROM bulk_plan ORDER BY i
    RETURNING id, document
)
SELECT p.*, m.id AS movement_id FROM m JOIN bulk_plan p ON m.document = %(prefix)s || lpad(p.seq::text, 6, '0');

-- Entries in posting order: the origin's entry carries the running balance.
INSERT INTO inventory_ledgerentry
    (movement_id, location_id, lot_id, product_id, quantity, kind, reason, business_date, recorded_at,
     recorded_by_id, balance_after)
SELECT movement_id, location_id, lot_id, product_id, quantity, 'dispatch', '', at::date, at, %(actor)s,
       balance_after
FROM (
    SELECT p.movement_id, %(origin)s AS location_id, p.lot_id, p.product_id, -p.quantity AS quantity, p.at,
           b.quantity - sum(p.quantity) OVER (PARTITION BY p.lot_id ORDER BY p.i) AS balance_after, 0 AS side
    FROM bulk_movement p JOIN inventory_stockbalance b ON b.location_id = %(origin)s AND b.lot_id = p.lot_id
    UNION ALL
    SELECT movement_id, %(transit)s, lot_id, product_id, quantity, at, NULL, 1 FROM bulk_movement
) e ORDER BY movement_id, side;

UPDATE inventory_stockbalance b SET quantity = b.quantity - s.total, updated_at = %(now)s
FROM (SELECT lot_id, sum(quantity) AS total FROM bulk_plan GROUP BY lot_id) s
WHERE b.location_id = %(origin)s AND b.lot_id = s.lot_id;

CREATE TEMP TABLE bulk_shipment ON COMMIT DROP AS
WITH s AS (
    INSERT INTO inventory_shipment
        (number, origin_id, destination_id, status, token, note, created_at, created_by_id, dispatched_at,
         dispatched_by_id, dispatch_date, expected_arrival, dispatch_movement_id)
    SELECT %(prefix)s || lpad(seq::text, 6, '0'), %(origin)s, destination_id, 'dispatched',
           -- 24 random bytes as URL-safe base64 (32 characters), the service's token shape
           translate(encode(substring(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) FOR 24),
                            'base64'), '+/', '-_'),
           '', at, %(actor)s, at, %(actor)s, at::date, at::date + 14, movement_id
    FROM bulk_movement ORDER BY i
    RETURNING id, dispatch_movement_id
)
SELECT s.id AS shipment_id, m.* FROM s JOIN bulk_movement m ON m.movement_id = s.dispatch_movement_id;

INSERT INTO inventory_shipmentline (shipment_id, product_id, lot_id, quantity)
SELECT shipment_id, product_id, lot_id, quantity FROM bulk_shipment ORDER BY shipment_id;

UPDATE inventory_shipmentcounter SET last = last + %(count)s WHERE origin_id = %(origin)s AND year = %(year)s;
"""

PASSWORD = "bench-password-1"
DISTRICTS = 10


def build(url: str, shipments: int, eight_line: int, builders: int = 4) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.generate",
            "--reset",
            "--entries",
            "0",
            "--provinces",
            "1",
            "--districts",
            str(DISTRICTS),
            "--clinics",
            "100",
            "--database-url",
            url,
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    django_setup(url)
    import datetime as dt

    from django.utils import timezone

    from alokon.models import User
    from inventory.models import Location, Lot, Product
    from inventory.services.opening import opening_balance_post

    province = Location.objects.get(level="province")
    User.objects.create_user("bench-prov", password=PASSWORD, location=province, role="warehouse")
    for district in Location.objects.filter(level="district"):
        User.objects.create_user(f"bench-{district.code}", password=PASSWORD, location=district, role="warehouse")
    today = timezone.localdate()
    lots = [
        Lot.objects.create(product=product, batch=f"RCV-{product.code}", expiry=today + dt.timedelta(days=730))
        for product in Product.objects.order_by("code")
    ]
    opening_balance_post(location=province, lines=[(lot, 10**12) for lot in lots], business_date=today)

    ctx = mp.get_context("spawn")
    plan = [(i, 8) for i in range(eight_line)]
    procs = [ctx.Process(target=_make_shipments, args=(url, plan[k::builders])) for k in range(builders)]
    started = time.monotonic()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit("building shipments failed")
    seconds = time.monotonic() - started
    print(f"{eight_line} 8-line shipments created and dispatched through the services in {seconds:.0f} s")
    started = time.monotonic()
    bulk_shipments(province, shipments - eight_line, today)
    seconds = time.monotonic() - started
    print(f"{shipments - eight_line:,} one-line dispatched shipments written set-based in {seconds:.0f} s")


def bulk_shipments(province, count: int, today) -> None:
    """``count`` one-line dispatched shipments from ``province``, in one transaction.

    The service makes one shipment per transaction, and every one leaves the one
    province warehouse, so they queue on its SBBK counter row and its 8 balance
    rows (48/s falling to 25/s: over an hour for 100,000). This writes the same
    rows set-based: numbers continuing the counter, a dispatch movement per
    shipment whose origin entry carries the running balance, the balances, tokens
    of the service's shape. The nets-to-zero trigger and every foreign key and CHECK
    stay on; ``check_ledger`` passes afterwards.
    """
    if count <= 0:
        return
    from django.db import connection, transaction
    from django.utils import timezone

    from alokon.models import User
    from inventory.models import Location, Lot, ShipmentCounter, VirtualRole

    lots = list(
        Lot.objects.filter(balances__location=province, balances__quantity__gt=0)
        .order_by("id")
        .values_list("id", "product_id")
    )
    districts = list(Location.objects.filter(level="district").order_by("code").values_list("id", flat=True))
    sql = BULK_SQL.format(
        lots=",".join(str(lot) for lot, _p in lots),
        products=",".join(str(p) for _l, p in lots),
        nlots=len(lots),
        districts=",".join(map(str, districts)),
        ndistricts=len(districts),
    )
    with transaction.atomic(), connection.cursor() as cursor:
        counter = ShipmentCounter.objects.select_for_update().get(origin=province, year=today.year)
        params = {
            "first_seq": counter.last + 1,
            "count": count,
            "now": timezone.now(),
            "prefix": f"SBBK-{province.code}-{today.year}-",
            "actor": User.objects.get(username="bench-prov").pk,
            "origin": province.pk,
            "transit": Location.objects.get(virtual_role=VirtualRole.IN_TRANSIT).pk,
            "year": today.year,
        }
        for statement in filter(str.strip, sql.split(";\n")):
            cursor.execute(statement, params)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _make_shipments(url: str, plan: list[tuple[int, int]]) -> None:
    django_setup(url)
    from alokon.models import User
    from inventory.models import Location, Product
    from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch

    clerk = User.objects.get(username="bench-prov")
    districts = list(Location.objects.filter(level="district").order_by("code"))
    products = list(Product.objects.order_by("code"))
    for i, _lines in plan:
        chosen = products
        shipment = shipment_create(
            origin=clerk.location,
            destination=districts[i % len(districts)],
            lines=[LineSpec(product, 10 + i % 7) for product in chosen],
            actor=clerk,
        )
        shipment_dispatch(shipment=shipment, actor=clerk)


def eight_line_shipments(Shipment):
    """The dispatched, not yet received shipments with 8 lines (the realistic ones)."""
    from django.db.models import Count

    return (
        Shipment.objects.filter(status="dispatched")
        .annotate(line_count=Count("lines"))
        .filter(line_count=8)
        .select_related("destination")
        .order_by("id")
    )


def ledger_ok(url: str) -> bool:
    django_setup(url)
    from inventory.services.ledger_check import ledger_check

    return ledger_check().ok


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=url,
        SECRET_KEY="bench-secret",
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL=f"http://127.0.0.1:{port}",
        LOG_LEVEL="WARNING",
        STATIC_ROOT=str(ROOT / ".data" / "bench-static"),
        # Plain HTTP on the loopback: no redirect to HTTPS, cookies without Secure.
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )
    # DEBUG off serves hashed static files from a manifest, as in production.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "alokon.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(server, base)
    return server, base


def api(base: str, path: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **({"Authorization": f"Token {token}"} if token else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def receipts_benchmark(base: str, url: str, eight_line: int, clients: int = 8) -> dict:
    django_setup(url)
    from inventory.models import Shipment

    work: dict[str, list] = {}
    destination_of: dict[str, str] = {}
    for shipment in eight_line_shipments(Shipment).prefetch_related("lines__product", "lines__lot")[:eight_line]:
        destination_of[shipment.number] = shipment.destination.code
        work[shipment.number] = [
            {"product": ln.product.code, "lot": ln.lot.batch, "received": ln.quantity} for ln in shipment.lines.all()
        ]
    tokens = {}
    for code in sorted(set(destination_of.values())):
        status, body = api(base, "/api/v1/auth/token/", {"username": f"bench-{code}", "password": PASSWORD})
        assert status == 200, body
        tokens[code] = body["token"]
    queue = list(work.items())
    lock, failures, done = threading.Lock(), [], []

    def client():
        while True:
            with lock:
                if not queue:
                    return
                number, lines = queue.pop()
            status, body = api(
                base,
                f"/api/v1/shipments/{number}/receipts/",
                {"client_uuid": str(uuid.uuid4()), "lines": lines},
                tokens[destination_of[number]],
            )
            with lock:
                (done if status == 201 else failures).append((number, status, body))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {
        "receipts": len(done),
        "failures": failures[:3],
        "failed": len(failures),
        "seconds": elapsed,
        "rate": len(done) / elapsed if elapsed else 0.0,
    }


def page_benchmark(base: str, url: str, requests: int) -> dict:
    django_setup(url)
    from inventory.models import Shipment

    candidates = list(eight_line_shipments(Shipment).values_list("token", "destination__code"))
    rng = random.Random(3)
    openers = {}
    for code in sorted({c for _t, c in candidates}):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"{base}/accounts/login/").read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf, "username": f"bench-{code}", "password": PASSWORD})
        request = urllib.request.Request(
            f"{base}/accounts/login/", data=data.encode(), headers={"Referer": f"{base}/accounts/login/"}
        )
        opener.open(request).read()
        openers[code] = opener
    times, statuses = [], {}
    for _ in range(requests):
        token, code = rng.choice(candidates)
        started = time.perf_counter()
        try:
            with openers[code].open(f"{base}/s/{token}") as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        times.append((time.perf_counter() - started) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
    times.sort()
    return {"p50": statistics.median(times), "p95": times[int(len(times) * 0.95) - 1], "statuses": statuses}


def _raw_receipt_writer(workload, mode: str, index: int, seconds: float, barrier, queue) -> None:
    """A receipt's ledger work from plain psycopg: one movement of 8 lots into a
    district (16 entries, 8 balance rows locked and incremented), the posting
    service's own SQL. The source is the virtual supplier rather than in transit so
    no shipment's in-transit stock is touched; both are virtual, lock nothing and
    write the same rows."""
    from bench.common import raw_connect
    from bench.posting import _timed, raw_poster

    rng = random.Random(workload.seed * 1000 + index)
    with raw_connect(workload.url) as conn:
        (supplier,) = conn.execute("SELECT id FROM inventory_location WHERE virtual_role = 'supplier'").fetchone()
        post = raw_poster(conn, f"RAW-SBBM-{os.getpid()}-")

        def step():
            district = rng.choice(workload.location_ids)
            entries = []
            for lot, product in workload.lots:
                quantity = 10 + rng.randrange(7)
                entries += [(supplier, lot, product, -quantity, False), (district, lot, product, quantity, True)]
            post("receipt", entries)

        queue.put({**_timed(step, seconds, barrier), "delta": 0})


def raw_receipt_limit(url: str, seconds: float):
    """8 writers posting 8-lot receipt movements with the service's SQL (see above)."""
    from bench.common import raw_connect
    from bench.posting import Workload, _run

    with raw_connect(url) as conn:
        districts = [r[0] for r in conn.execute("SELECT id FROM inventory_location WHERE level = 'district'")]
        lots = conn.execute(
            "SELECT DISTINCT l.id, l.product_id FROM inventory_lot l JOIN inventory_shipmentline s ON s.lot_id = l.id"
            " ORDER BY l.id"
        ).fetchall()
    workload = Workload(url=url, location_ids=districts, lots=lots)
    return _run(workload, "raw-receipt", "spread", 8, seconds, target=_raw_receipt_writer)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=with_database(DEFAULT_URL, "alokon_bench_receiving"))
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--receipts", type=int, default=400, help="8-line shipments received through the API")
    parser.add_argument("--page-requests", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--seconds", type=float, default=10, help="length of the raw-SQL run")
    parser.add_argument("--builders", type=int, default=4, help="processes creating the shipments")
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args(argv)
    url = args.database_url
    if not args.skip_build:
        build(url, args.shipments, args.receipts, args.builders)
    print_facts(url)
    server, base = start_server(url, args.workers)
    try:
        page = page_benchmark(base, url, args.page_requests)
        receipts = receipts_benchmark(base, url, args.receipts)
    finally:
        server.terminate()
        server.wait(timeout=30)
    from bench.posting import pick_workload, run_raw

    raw = run_raw(pick_workload(url, locations=100), 8, args.seconds)
    raw_receipts = raw_receipt_limit(url, args.seconds)
    print(
        f"receipts (8 lines) through the API, 8 clients, gunicorn × {args.workers}: {receipts['receipts']} in "
        f"{receipts['seconds']:.1f} s = {receipts['rate']:.0f} receipts/s ({receipts['failed']} failed"
        f"{': ' + str(receipts['failures']) if receipts['failed'] else ''})"
    )
    print(
        f"raw SQL limit (the posting service's SQL, plain psycopg, 8 writers): {raw.rate:.0f} movements/s; "
        f"receipts/raw = {receipts['rate'] / raw.rate:.2f}"
    )
    print(
        f"raw SQL limit for a receipt's ledger work (8-lot movement, 16 entries, service's SQL, plain psycopg,"
        f" 8 writers): {raw_receipts.rate:.0f} movements/s; receipts/raw-receipt = "
        f"{receipts['rate'] / raw_receipts.rate:.2f}"
    )
    ledger = ledger_ok(url)
    print(f"check_ledger after the run: {'ok' if ledger else 'FAILED'}")
    verdict = "met" if page["p95"] < 150 else "MISSED"
    print(
        f"receiving page /s/<token>, {args.page_requests} requests: p50 {page['p50']:.1f} ms, p95 {page['p95']:.1f}"
        f" ms (goal < 150 ms: {verdict}); statuses {page['statuses']}"
    )
    ok = ledger and receipts["failed"] == 0 and page["p95"] < 150 and set(page["statuses"]) == {200}
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
