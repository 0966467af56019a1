"""Receiving at scale: receipts through the API on a production-style server, and
the receiving page's response time with 100,000 shipments in the database.

    python -m bench.receiving                       # 100,000 shipments (~5 min to build)
    python -m bench.receiving --shipments 2000      # a quick look

1. A database of its own (``alokon_bench_receiving``, rebuilt each run): one
   province, 10 districts, 100 clinics; stock at the province; ``--shipments``
   dispatched shipments to the districts, created and dispatched through the
   services (``--builders`` processes, default 4), of which ``--receipts`` carry 8 lines (one per
   product) and the rest one line.
2. gunicorn (``--workers``, DEBUG off, as docker/ will run it) on 127.0.0.1.
3. Receipts: 8 client threads, each with its district clerk's API token, POST full
   receipts of the 8-line shipments (``/api/v1/shipments/<number>/receipts/``);
   receipts per second of wall time, every response checked (201).
4. The raw-SQL limit in the same run and database: ``bench.posting``'s ``raw``
   scenario (the posting service's own SQL from plain psycopg), 8 writers.
5. The receiving page ``/s/<token>`` of random undelivered 8-line shipments, as
   the destination's clerk with a session: p50 and p95 over ``--page-requests``
   requests, timed at the client on loopback (an upper bound of server time).
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

from bench.common import DEFAULT_URL, ROOT, django_setup, print_facts, with_database

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
    plan = [(i, 8 if i < eight_line else 1) for i in range(shipments)]
    procs = [ctx.Process(target=_make_shipments, args=(url, plan[k::builders])) for k in range(builders)]
    started = time.monotonic()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit("building shipments failed")
    print(f"built {shipments:,} dispatched shipments ({eight_line} with 8 lines) in {time.monotonic() - started:.0f} s")


def _make_shipments(url: str, plan: list[tuple[int, int]]) -> None:
    django_setup(url)
    from alokon.models import User
    from inventory.models import Location, Product
    from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch

    clerk = User.objects.get(username="bench-prov")
    districts = list(Location.objects.filter(level="district").order_by("code"))
    products = list(Product.objects.order_by("code"))
    for i, lines in plan:
        chosen = products if lines == 8 else [products[i % len(products)]]
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
    for _ in range(60):
        try:
            urllib.request.urlopen(f"{base}/accounts/login/", timeout=2)
            return server, base
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    server.terminate()
    raise SystemExit("gunicorn did not answer")


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
    print(
        f"receipts (8 lines) through the API, 8 clients, gunicorn × {args.workers}: {receipts['receipts']} in "
        f"{receipts['seconds']:.1f} s = {receipts['rate']:.0f} receipts/s ({receipts['failed']} failed"
        f"{': ' + str(receipts['failures']) if receipts['failed'] else ''})"
    )
    print(
        f"raw SQL limit (the posting service's SQL, plain psycopg, 8 writers): {raw.rate:.0f} movements/s; "
        f"receipts/raw = {receipts['rate'] / raw.rate:.2f}"
    )
    verdict = "met" if page["p95"] < 150 else "MISSED"
    print(
        f"receiving page /s/<token>, {args.page_requests} requests: p50 {page['p50']:.1f} ms, p95 {page['p95']:.1f}"
        f" ms (goal < 150 ms: {verdict}); statuses {page['statuses']}"
    )
    ok = receipts["failed"] == 0 and page["p95"] < 150 and set(page["statuses"]) == {200}
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
