"""Reports and map at national scale (issue 6): server time of the dashboard and of the
distribution map's data for the whole country and for one province, against the raw SQL
of the same requests, and the bytes a browser transfers for the map page.

    python -m bench.reports                  # on alokon_bench_alerts (python -m bench.alerts --reset builds it)
    python -m bench.reports --repeat 30      # more samples
    python -m bench.reports --skip-bytes     # server times only (no gunicorn, no browser)

1. **Prepare** (idempotent, nothing else is changed): the generator's locations have
   synthetic codes and random coordinates, so the map would find no boundary. The 38
   provinces (by code) get the BPS codes and inside points of the 38 real provinces (by
   code), the 514 districts those of the 514 real districts (by province, then code), and
   every clinic a point within 0.04° of its district's, derived from its code. Two
   manager accounts are created for the run and deleted at its end (with their sessions):
   one national, one at the first province.
2. **Server time** in this process: Django set up with DEBUG off and the manifest static
   storage (``collectstatic`` into ``.data/bench-static``), requests through the test
   client (every middleware, the view, the template; no network), each scenario
   ``--warmup`` times then ``--repeat`` times: p50 and p95. Goals (issue 6): p95 under
   1 s for the country, under 300 ms for a province.
3. **Raw-SQL limit** of the same figures: every SQL statement one request of the
   scenario executed (captured with ``connection.execute_wrapper``: the session and user
   look-ups, the locations, the indicator statement, the CYP and flow aggregates…)
   replayed through plain psycopg (client-side binding as Django's, ``jit=off``, one
   transaction per request as the request's own ``SET LOCAL`` needs), same repeats;
   ratio = request ÷ its SQL.
4. **Bytes** of the map page in Chromium (Playwright, 360 × 740) against gunicorn
   (DEBUG off, WhiteNoise serving the hashed, compressed static files): a first visit
   with an empty cache, then a repeat visit in the same browser; bytes on the wire
   (headers and bodies, CDP ``encodedDataLength``), requests, and what they were.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import DEFAULT_URL, ROOT, print_facts, raw_connect, wait_until_serving, with_database

DEFAULT_REPORTS_URL = with_database(DEFAULT_URL, "alokon_bench_alerts")
STATIC_ROOT = ROOT / ".data" / "bench-static"
PASSWORD = "bench-map-password-1"
USERS = {"country": "bench-map-national", "province": "bench-map-province"}
GOALS_MS = {"country": 1000, "province": 300}
CLINIC_SCATTER = 0.04  # degrees around the district's inside point


# --- 1. prepare ----------------------------------------------------------------------------


def _features() -> tuple[list[dict], list[dict]]:
    with open(ROOT / "reports" / "geo" / "features.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    provinces = sorted((r for r in rows if r["level"] == "province"), key=lambda r: r["code"])
    districts = sorted((r for r in rows if r["level"] == "district"), key=lambda r: (r["province_code"], r["code"]))
    return provinces, districts


def prepare(url: str) -> dict[str, int]:
    """Real BPS codes and points on the synthetic tree (see the module doc); rows changed per level."""
    provinces, districts = _features()
    changed = {}
    with raw_connect(url) as conn:
        for level, features in (("province", provinces), ("district", districts)):
            ids = [
                r[0] for r in conn.execute("SELECT id FROM inventory_location WHERE level = %s ORDER BY code", [level])
            ]
            if len(ids) != len(features):
                print(f"note: {len(ids)} {level}s in the database, {len(features)} shapes: the first ones are mapped")
            values = [
                (pk, f["code"], round(float(f["lat"]), 6), round(float(f["lon"]), 6))
                for pk, f in zip(ids, features, strict=False)
            ]
            cur = conn.execute(
                """
                UPDATE inventory_location l
                   SET bps_code = v.bps, latitude = v.lat, longitude = v.lon
                  FROM unnest(%s::bigint[], %s::text[], %s::numeric[], %s::numeric[]) AS v(id, bps, lat, lon)
                 WHERE l.id = v.id AND (l.bps_code, l.latitude, l.longitude) IS DISTINCT FROM (v.bps, v.lat, v.lon)
                """,
                [[v[0] for v in values], [v[1] for v in values], [v[2] for v in values], [v[3] for v in values]],
            )
            changed[level] = cur.rowcount
        # A point per clinic within CLINIC_SCATTER of its district's, uniform over the disc,
        # from two hashes of its code: the same every run.
        cur = conn.execute(
            """
            UPDATE inventory_location c
               SET latitude = p.lat, longitude = p.lon
              FROM (
                    SELECT c2.id,
                           round((d.latitude::float8 + %(r)s * sqrt(h.u) * sin(2 * pi() * h.v))::numeric, 6) AS lat,
                           round((d.longitude::float8 + %(r)s * sqrt(h.u) * cos(2 * pi() * h.v))::numeric, 6) AS lon
                      FROM inventory_location c2
                      JOIN inventory_location d ON d.id = c2.parent_id
                     CROSS JOIN LATERAL (
                            SELECT (hashtext(c2.code) & 65535) / 65536.0 AS u,
                                   (hashtext(c2.code || '/angle') & 65535) / 65536.0 AS v
                           ) h
                     WHERE c2.level = 'clinic' AND d.latitude IS NOT NULL
                   ) p
             WHERE c.id = p.id AND (c.latitude, c.longitude) IS DISTINCT FROM (p.lat, p.lon)
            """,
            {"r": CLINIC_SCATTER},
        )
        changed["clinic"] = cur.rowcount
        conn.execute("ANALYZE inventory_location")
    return changed


def collectstatic(url: str) -> None:
    env = _server_env(url)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)


def _server_env(url: str, **extra) -> dict:
    return dict(
        os.environ,
        DATABASE_URL=url,
        SECRET_KEY="bench-secret",
        DEBUG="0",
        ALLOWED_HOSTS="testserver,127.0.0.1",
        LOG_LEVEL="WARNING",
        STATIC_ROOT=str(STATIC_ROOT),
        # The load may predate django-axes' tables (its migrations are not applied by this
        # bench): login rate limiting off, which leaves every page request as it is.
        AXES_ENABLED="0",
        # Plain HTTP on the loopback, as a server in a clinic's LAN is run (see the README).
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        **extra,
    )


def create_users():
    from alokon.models import User
    from inventory.models import Location

    national = Location.objects.get(level="national")
    province = Location.objects.filter(level="province").order_by("code").first()
    users = {}
    for key, location in (("country", national), ("province", province)):
        user, _created = User.objects.get_or_create(
            username=USERS[key], defaults={"location": location, "role": "manager", "is_active": True}
        )
        user.location, user.role, user.is_active = location, "manager", True
        user.set_password(PASSWORD)
        user.save()
        users[key] = user
    return users


def delete_users() -> None:
    from django.contrib.sessions.models import Session

    from alokon.models import User

    ids = {str(pk) for pk in User.objects.filter(username__in=USERS.values()).values_list("pk", flat=True)}
    for session in Session.objects.all().iterator():
        if session.get_decoded().get("_auth_user_id") in ids:
            session.delete()
    # Raw: the ORM's cascade would visit every table that refers to users, and this database
    # may predate some of them. Nothing else refers to these two accounts.
    User.objects.filter(username__in=USERS.values())._raw_delete(User.objects.db)


# --- 2 and 3. server time and its SQL ------------------------------------------------------


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def scenarios(users) -> list[dict]:
    from django.urls import NoReverseMatch, reverse

    page, data = reverse("report-map"), reverse("report-map-data")
    found = [
        ("country", "map data, months of stock (default)", data, {"indicator": "mos"}, False),
        (
            "country",
            "map data, share of clinics stocked out (counts cached)",
            data,
            {"indicator": "stocked_out"},
            False,
        ),
        ("country", "map data, share of clinics stocked out, cache cleared", data, {"indicator": "stocked_out"}, True),
        ("country", "map data, CYP of the last month", data, {"indicator": "cyp"}, False),
        ("country", "map page (HTML with the data)", page, {}, False),
        ("province", "map data, months of stock (default)", data, {"indicator": "mos"}, False),
        ("province", "map data, share within plan", data, {"indicator": "within_plan"}, False),
        ("province", "map data, CYP of the last month", data, {"indicator": "cyp"}, False),
        ("province", "map page (HTML with the data)", page, {}, False),
    ]
    try:
        dashboard = reverse("report-dashboard")
        found += [("country", "dashboard", dashboard, {}, False), ("province", "dashboard", dashboard, {}, False)]
    except NoReverseMatch:
        print("note: no dashboard (report-dashboard) in this tree: not measured")
    return [
        {"scope": scope, "label": label, "path": path, "params": params, "cold": cold, "user": users[scope]}
        for scope, label, path, params, cold in found
    ]


def measure(scenario: dict, url: str, repeat: int, warmup: int) -> dict:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    client = Client()
    client.force_login(scenario["user"])
    repeat = max(3, repeat // 4) if scenario["cold"] else repeat

    def request():
        if scenario["cold"]:
            cache.clear()
        started = time.perf_counter()
        response = client.get(scenario["path"], scenario["params"])
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (scenario["label"], response.status_code, response.content[:300])
        return elapsed, response

    for _ in range(warmup):
        request()
    samples = [request()[0] for _ in range(repeat)]
    p50, p95 = percentiles(samples)

    statements = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params, many))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):  # a cold scenario clears the cache first, as measured
        _elapsed, response = request()
    raw = raw_replay(url, statements, repeat, warmup)
    client.logout()
    return {
        **scenario,
        "p50": p50,
        "p95": p95,
        "bytes": len(response.content),
        "statements": len(statements),
        "raw_p50": raw[0],
        "raw_p95": raw[1],
    }


def raw_replay(url: str, statements, repeat: int, warmup: int) -> tuple[float, float]:
    """The captured statements through plain psycopg, one transaction per run: p50, p95 in ms."""
    import psycopg

    with raw_connect(url, options="-c jit=off", cursor_factory=psycopg.ClientCursor) as conn:

        def run():
            started = time.perf_counter()
            with conn.cursor() as cursor:
                for sql, params, many in statements:
                    if many:
                        cursor.executemany(sql, params)
                        continue
                    cursor.execute(sql, params or None)
                    if cursor.description is not None:
                        cursor.fetchall()
            conn.rollback()
            return (time.perf_counter() - started) * 1000

        for _ in range(warmup):
            run()
        return percentiles([run() for _ in range(repeat)])


# --- 4. bytes ----------------------------------------------------------------------------------


def start_gunicorn(url: str, workers: int) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _server_env(url, SITE_URL=f"http://127.0.0.1:{port}")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "alokon.wsgi", "--workers", str(workers), "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(server, base)
    return server, base


# What the page loaded, from the browser's Resource Timing: bytes on the wire (headers and
# compressed body; 0 when the browser cache answered) and bytes after decompression.
RESOURCES = """() => [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]
    .map(e => ({name: e.name, transfer: e.transferSize, decoded: e.decodedBodySize}))"""


def page_bytes(base: str, chromium: str) -> list[dict]:
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            for scope in ("country", "province"):
                context = browser.new_context(viewport={"width": 360, "height": 740}, locale="id-ID")
                page = context.new_page()
                page.goto(f"{base}/accounts/login/")
                page.fill("input[name=username]", USERS[scope])
                page.fill("input[name=password]", PASSWORD)
                page.locator("form:has(input[name=password]) button").click()
                page.wait_for_url(f"{base}/")
                # A first visit: the login page's stylesheet and everything else out of the cache.
                context.new_cdp_session(page).send("Network.clearBrowserCache")
                for visit in ("first", "repeat"):
                    page.goto(f"{base}/reports/map/")
                    page.wait_for_selector("#map[data-state=ready]", timeout=60_000)
                    entries = page.evaluate(RESOURCES)
                    network = [e for e in entries if e["transfer"] > 0]
                    results.append(
                        {
                            "scope": scope,
                            "visit": visit,
                            "bytes": sum(e["transfer"] for e in network),
                            "decoded": sum(e["decoded"] for e in entries),
                            "requests": len(network),
                            "from_cache": len(entries) - len(network),
                            "items": sorted(
                                ((Path(e["name"].split("?")[0]).name or "/", e["transfer"]) for e in network),
                                key=lambda item: -item[1],
                            ),
                        }
                    )
                context.close()
        finally:
            browser.close()
    return results


# --- main -----------------------------------------------------------------------------------


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_REPORTS_URL)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--skip-bytes", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for the bytes measurement")
    parser.add_argument("--chromium", default=os.environ.get("ALOKON_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args(argv)
    url = args.database_url

    print_facts(url)
    changed = prepare(url)
    print(f"prepared: rows changed {changed}")
    collectstatic(url)
    os.environ.update(_server_env(url))
    from bench.common import django_setup

    django_setup(url)
    users = create_users()
    ok = True
    try:
        results, failed = [], []
        for scenario in scenarios(users):
            try:
                results.append(measure(scenario, url, args.repeat, args.warmup))
            except Exception as error:  # reported, and the run goes on
                failed.append((scenario, f"{type(error).__name__}: {str(error).splitlines()[0]}"))
        print()
        print(
            "| scope | request | p50 ms | p95 ms | SQL p50 ms | SQL p95 ms | request ÷ SQL (p50) | statements"
            " | bytes, uncompressed |"
        )
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for scenario, reason in failed:
            print(f"| {scenario['scope']} | {scenario['label']}: NOT MEASURED ({reason}) | | | | | | | |")
        for r in results:
            print(
                f"| {r['scope']} | {r['label']} | {r['p50']:.0f} | {r['p95']:.0f} | {r['raw_p50']:.0f} | "
                f"{r['raw_p95']:.0f} | {r['p50'] / r['raw_p50']:.2f} | {r['statements']} | {r['bytes']:,} |"
            )
        print()
        for r in results:
            if r["path"].endswith("data.json") and not r["cold"]:
                goal = GOALS_MS[r["scope"]]
                met = r["p95"] < goal
                ok &= met
                print(f"goal p95 < {goal} ms, {r['scope']}, {r['label']}: {'met' if met else 'MISSED'}")

        if not args.skip_bytes:
            server, base = start_gunicorn(url, args.workers)
            try:
                visits = page_bytes(base, args.chromium)
            finally:
                server.terminate()
                server.wait(timeout=30)
            print()
            print(
                "| scope | visit | bytes on the wire | requests over the network | from the browser cache"
                " | bytes decoded |"
            )
            print("| --- | --- | ---: | ---: | ---: | ---: |")
            for v in visits:
                print(
                    f"| {v['scope']} | {v['visit']} | {v['bytes']:,} | {v['requests']} | {v['from_cache']} |"
                    f" {v['decoded']:,} |"
                )
            for v in visits:
                items = ", ".join(f"{name} {size:,}" for name, size in v["items"])
                print(f"{v['scope']}, {v['visit']} visit, over the network: {items}")
    finally:
        delete_users()
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
