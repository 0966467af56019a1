"""The distribution report: shipments per route and period with quantities, fill rate, lead
time and what is still in transit. The figures are computed here independently from the
documents (shipment lines, receipt lines, late receipts) and the receipts service's own
in-transit sum; the exports hold the page's rows; every view stays in the user's scope. By
default the page shows the last complete month (the consumption and CYP reports keep twelve);
a long page shows its first rows by pair, and every row by level."""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pytest
from django.utils import timezone
from django.utils.formats import date_format

from alokon.models import Role
from inventory.models import (
    Discrepancy,
    DiscrepancyKind,
    ReceiptLine,
    Resolution,
    Shipment,
)
from inventory.services.discrepancies import discrepancy_resolve
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.receipts import ReceiptLineSpec, in_transit_by_lot, receipt_record
from inventory.services.service_figures import add_months
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from reports.models import ExportJob, ExportStatus
from reports.resources_trends import MAX_DAYS
from reports.selectors.distribution import distribution
from reports.services.exports import export_run
from tests.factories import LocationFactory, LotFactory
from tests.reports.test_report_consumption import csv_cells, export, same_as_page, xlsx_cells

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

TODAY = timezone.localdate()
FROM, TO = TODAY - dt.timedelta(days=100), TODAY
PERIOD = {"from": FROM.isoformat(), "to": TO.isoformat()}
URL = "/reports/distribution/"
LEVELS = {"national": "National", "province": "Province", "district": "District", "clinic": "Clinic"}
THIS_MONTH = TODAY.replace(day=1)
# the default period: the last complete month
LAST_MONTH = (add_months(THIS_MONTH, -1), THIS_MONTH - dt.timedelta(days=1))


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


@pytest.fixture
def world(tree, products, make_user):
    tree["c4"] = LocationFactory(code="73.71-001", name="Puskesmas Makassar", parent=tree["other_district"])
    lots = {
        code: LotFactory(product=products[code], batch=f"{code}-D", expiry=TODAY + dt.timedelta(days=900))
        for code in ("PIL-KOMB", "SUNTIK-3", "KONDOM")
    }
    pk, s3, kondom = lots["PIL-KOMB"], lots["SUNTIK-3"], lots["KONDOM"]
    opening_balance_post(
        location=tree["prov"], lines=[(pk, 1000), (s3, 1000), (kondom, 5000)], business_date=days_ago(300)
    )
    opening_balance_post(location=tree["palu"], lines=[(pk, 200)], business_date=days_ago(300))
    opening_balance_post(location=tree["other"], lines=[(pk, 300)], business_date=days_ago(300))
    staff = {
        name: make_user(f"gudang-{name}", tree[name])
        for name in ("prov", "palu", "sigi", "c1", "c2", "other", "other_district")
    }

    def ship(origin, destination, lines, dispatched):
        shipment = shipment_create(
            origin=tree[origin],
            destination=tree[destination],
            lines=[LineSpec(lot.product, quantity, lot) for lot, quantity in lines],
            actor=staff[origin],
        )
        if dispatched is not None:
            shipment_dispatch(shipment=shipment, actor=staff[origin], business_date=days_ago(dispatched))
        shipment.refresh_from_db()
        return shipment

    def receive(shipment, destination, lines, day):
        receipt_record(
            shipment=shipment,
            lines=[ReceiptLineSpec(lot.product, lot, good, damaged) for lot, good, damaged in lines],
            client_uuid=uuid.uuid4(),
            actor=staff[destination],
            business_date=days_ago(day),
        )

    # A: province → Palu, 40 PK + 100 S3: 30 PK good + 5 damaged, 5 short still in transit; S3 whole. Lead 5.
    a = ship("prov", "palu", [(pk, 40), (s3, 100)], 60)
    receive(a, "palu", [(pk, 30, 5), (s3, 100, 0)], 55)
    # B: province → Sigi, 20 PK, whole, lead 9.
    b = ship("prov", "sigi", [(pk, 20)], 50)
    receive(b, "sigi", [(pk, 20, 0)], 41)
    # C: province → Palu, 500 condoms on the road.
    c = ship("prov", "palu", [(kondom, 500)], 20)
    # D: Palu → clinic 1, 6 PK: 4 came after 2 days, the short 2 came late (late receipt).
    d = ship("palu", "c1", [(pk, 6)], 30)
    receive(d, "c1", [(pk, 4, 0)], 28)
    discrepancy_resolve(
        discrepancy=d.discrepancies.get(kind=DiscrepancyKind.SHORT),
        resolution=Resolution.LATE_RECEIPT,
        actor=staff["c1"],
        business_date=days_ago(20),
    )
    # E: Palu → clinic 2, 10 PK: 12 counted (an over-receipt), lead 7; then a second, later receipt day.
    e = ship("palu", "c2", [(pk, 10)], 10)
    receive(e, "c2", [(pk, 12, 0)], 3)
    # F: Palu → clinic 1, 8 PK, lead 0.
    f = ship("palu", "c1", [(pk, 8)], 15)
    receive(f, "c1", [(pk, 8, 0)], 15)
    # Out of the period, a draft, and another province.
    old = ship("prov", "palu", [(pk, 10)], 200)
    receive(old, "palu", [(pk, 10, 0)], 190)
    draft = ship("prov", "sigi", [(pk, 5)], None)
    g = ship("other", "other_district", [(pk, 50)], 40)
    receive(g, "other_district", [(pk, 45, 0)], 30)
    assert ledger_check().ok
    users = {
        "prov": make_user("kabid72", tree["prov"], role=Role.MANAGER),
        "palu": make_user("kepala7271", tree["palu"], role=Role.MANAGER),
        "c1": staff["c1"],
        "other": make_user("kabid73", tree["other"], role=Role.MANAGER),
        "admin": make_user("root", None, role=Role.ADMIN, is_superuser=True, is_staff=True),
    }
    return {
        **tree,
        "lots": lots,
        "users": users,
        "shipments": {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "old": old, "draft": draft, "g": g},
    }


# --- independent figures --------------------------------------------------------------------


def in_scope(shipment, root):
    return root is None or shipment.origin.is_within(root) or shipment.destination.is_within(root)


def per_shipment(root, start=FROM, end=TO, product=None):
    """(shipment, product code) → shipped, received, in transit; and shipment → lead days,
    from the documents: lines, receipt lines (good units), late receipts, the receipts service."""
    figures = {}
    leads = {}
    for s in Shipment.objects.select_related("origin", "destination").prefetch_related("lines__product"):
        if s.dispatch_date is None or not (start <= s.dispatch_date <= end) or not in_scope(s, root):
            continue
        codes = {line.product.code for line in s.lines.all()}
        if product and product not in codes:
            continue
        shipped, received = defaultdict(int), defaultdict(int)
        for line in s.lines.all():
            shipped[line.product.code] += line.quantity
        for line in ReceiptLine.objects.filter(receipt__shipment=s).select_related("product"):
            received[line.product.code] += line.received
        for record in Discrepancy.objects.filter(shipment=s, resolution=Resolution.LATE_RECEIPT):
            received[record.product.code] += record.quantity
        transit = defaultdict(int)
        lots = {line.lot_id: line.lot.product.code for line in s.lines.select_related("lot__product")}
        for lot_id, quantity in in_transit_by_lot(s).items():
            transit[lots[lot_id]] += quantity
        dates = [r.business_date for r in s.receipts.all()]
        leads[s] = (min(dates) - s.dispatch_date).days if dates else None
        for code in shipped:
            if product and code != product:
                continue
            figures[(s, code)] = (shipped[code], received[code], transit[code])
    return figures, leads


def rate(part, whole):
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) if whole else None


def expected_rows(root, start=FROM, end=TO, product=None) -> dict[tuple, dict]:
    """(kind, origin level, destination level, origin code, destination code, product or "*") →
    shipments, shipped, received, fill rate, median and longest lead time, in transit."""
    figures, leads = per_shipment(root, start, end, product)
    groups = defaultdict(lambda: {"ships": set(), "shipped": 0, "received": 0, "transit": 0})
    for (s, code), (shipped, received, transit) in figures.items():
        levels = (s.origin.level, s.destination.level)
        for key in (
            ("level", *levels, "", "", code),
            ("level", *levels, "", "", "*"),
            ("pair", *levels, s.origin.code, s.destination.code, code),
            ("pair", *levels, s.origin.code, s.destination.code, "*"),
        ):
            if product and key[-1] == "*":
                continue
            group = groups[key]
            group["ships"].add(s)
            group["shipped"] += shipped
            group["received"] += received
            group["transit"] += transit
    result = {}
    for key, group in groups.items():
        lead = [leads[s] for s in group["ships"] if leads[s] is not None]
        result[key] = {
            "shipments": len(group["ships"]),
            "shipped": group["shipped"],
            "received": group["received"],
            "fill_rate": rate(group["received"], group["shipped"]),
            "lead_median": Decimal(str(statistics.median(lead))).quantize(Decimal("0.1")) if lead else None,
            "lead_max": max(lead) if lead else None,
            "in_transit": group["transit"],
        }
    return result


def selector_rows(report) -> dict[tuple, dict]:
    result = {}
    for kind, rows in (("level", report.by_level), ("pair", report.by_pair)):
        for r in rows:
            key = (
                kind,
                r.origin_level,
                r.destination_level,
                r.origin.code if r.origin else "",
                r.destination.code if r.destination else "",
                r.product.code if r.product else "*",
            )
            assert key not in result
            result[key] = {
                "shipments": r.shipments,
                "shipped": r.shipped,
                "received": r.received,
                "fill_rate": r.fill_rate,
                "lead_median": r.lead_median,
                "lead_max": r.lead_max,
                "in_transit": r.in_transit,
            }
    return result


def page_cells(response) -> list[list]:
    """The page's table as the exports write it: the headers, the rows by level, the rows by pair."""
    by_level, by_pair = response.context["by_level"], response.context["by_pair"]
    return [by_level["headers"]] + [[v for v, _n in row] for row in by_level["rows"] + by_pair["rows"]]


def page_rows(response) -> dict[tuple, dict]:
    """The page's rows keyed and valued as ``expected_rows``."""
    headers, *rows = page_cells(response)
    levels = {label: level for level, label in LEVELS.items()}
    result = {}
    for row in rows:
        cells = dict(zip(headers, row, strict=True))
        key = (
            "pair" if cells["Origin"] else "level",
            levels[cells["From level"]],
            levels[cells["To level"]],
            cells["Origin"],
            cells["Destination"],
            "*" if cells["Product"] == "All products" else cells["Product"],
        )
        assert key not in result
        result[key] = {
            "shipments": cells["Shipments"],
            "shipped": cells["Quantity shipped"],
            "received": cells["Quantity received"],
            "fill_rate": cells["Fill rate (%)"],
            "lead_median": cells["Lead time, median (days)"],
            "lead_max": cells["Lead time, longest (days)"],
            "in_transit": cells["In transit now"],
        }
    return result


# --- the selector -----------------------------------------------------------------------------


def test_figures_equal_the_documents(world):
    for root in (None, world["prov"], world["palu"], world["c1"], world["sigi"], world["other"]):
        report = distribution(root=root, date_from=FROM, date_to=TO)
        assert selector_rows(report) == expected_rows(root), root
    # product filter
    for code in ("PIL-KOMB", "KONDOM"):
        product = world["lots"][code].product
        report = distribution(root=world["prov"], date_from=FROM, date_to=TO, product=product)
        assert selector_rows(report) == expected_rows(world["prov"], product=code)


def test_figures_by_hand(world):
    rows = selector_rows(distribution(root=world["prov"], date_from=FROM, date_to=TO))
    # province → district, all products: A (lead 5), B (lead 9), C (not received)
    assert rows[("level", "province", "district", "", "", "*")] == {
        "shipments": 3,
        "shipped": 40 + 100 + 20 + 500,
        "received": 30 + 100 + 20,
        "fill_rate": Decimal("22.7"),
        "lead_median": Decimal("7.0"),
        "lead_max": 9,
        "in_transit": 5 + 500,
    }
    # district → clinic, PK: D (6 shipped, 6 received late, lead 2), E (over: 12 of 10, lead 7), F (lead 0)
    assert rows[("level", "district", "clinic", "", "", "PIL-KOMB")] == {
        "shipments": 3,
        "shipped": 24,
        "received": 26,
        "fill_rate": Decimal("108.3"),
        "lead_median": Decimal("2.0"),
        "lead_max": 7,
        "in_transit": 0,
    }
    assert rows[("pair", "district", "clinic", "72.71", "72.71-001", "PIL-KOMB")]["lead_median"] == Decimal("1.0")
    # the 200-day-old shipment, the draft and the other province's do not count
    assert not any(key[3] == "73" or key[4] == "73.71" for key in rows)


def test_the_first_rows_by_pair_and_every_row_by_level(world, make_user):
    """The page's selector call: only the first ``pair_limit`` rows by pair (the routes' order,
    decided in SQL, is the rows' order), every row by level, and the count of every pair row."""
    lot = world["lots"]["PIL-KOMB"]
    pk = lot.product
    # Routes whose order by origin differs from their order by destination: a return up the
    # tree (clinic → district after district → clinic) and two siblings (Sigi → Palu first).
    for origin, destination in (("c1", "palu"), ("palu", "sigi"), ("sigi", "palu")):
        keeper = world["users"]["c1"] if origin == "c1" else make_user(f"gudang-{origin}-2", world[origin])
        shipment = shipment_create(
            origin=world[origin], destination=world[destination], lines=[LineSpec(pk, 2, lot)], actor=keeper
        )
        shipment_dispatch(shipment=shipment, actor=keeper, business_date=days_ago(5))
    for root, product in ((None, None), (world["prov"], None), (world["palu"], None), (None, pk)):
        every = distribution(root=root, date_from=FROM, date_to=TO, product=product)
        assert every.pair_total == len(every.by_pair) > 2
        for limit in range(1, len(every.by_pair) + 2):
            first = distribution(root=root, date_from=FROM, date_to=TO, product=product, pair_limit=limit)
            assert first.by_level == every.by_level, (root, product, limit)
            assert first.by_pair == every.by_pair[:limit], (root, product, limit)
            assert first.pair_total == len(every.by_pair)
    # the rows by level are the documents' whatever the limit
    rows = selector_rows(distribution(root=None, date_from=FROM, date_to=TO, pair_limit=1))
    assert {k: v for k, v in rows.items() if k[0] == "level"} == {
        k: v for k, v in expected_rows(None).items() if k[0] == "level"
    }
    assert len([k for k in rows if k[0] == "pair"]) == 1


def test_period_is_the_dispatch_date(world):
    assert world["shipments"]["old"].dispatch_date == days_ago(200)
    rows = selector_rows(distribution(root=world["prov"], date_from=days_ago(365), date_to=days_ago(100)))
    assert rows == expected_rows(world["prov"], days_ago(365), days_ago(100))
    assert rows[("level", "province", "district", "", "", "PIL-KOMB")] == {
        "shipments": 1,
        "shipped": 10,
        "received": 10,
        "fill_rate": Decimal("100.0"),
        "lead_median": Decimal("10.0"),
        "lead_max": 10,
        "in_transit": 0,
    }


# --- the page and its exports -----------------------------------------------------------------


def test_page_and_exports_hold_the_same_rows(client, world):
    client.force_login(world["users"]["prov"])
    response = client.get(URL, PERIOD)
    assert response.status_code == 200
    html = response.content.decode()
    assert "plotly" not in html
    by_level = response.context["by_level"]
    page = page_cells(response)
    # the page's figures are the documents'
    assert page_rows(response) == expected_rows(world["prov"])
    assert f"Period shown: {date_format(FROM, 'SHORT_DATE_FORMAT')} – {date_format(TO, 'SHORT_DATE_FORMAT')}" in html
    assert "by default" not in html  # a period of the user's own
    # rows by level first, then by origin → destination; each route's all-products row first
    assert [row[:7] for row in page[1:5]] == [
        ["Province", "District", "", "", "", "", product]
        for product in ("All products", "KONDOM", "PIL-KOMB", "SUNTIK-3")
    ]
    assert page[len(by_level["rows"]) + 1][:7] == [
        "Province",
        "District",
        "72",
        "Sulawesi Tengah",
        "72.10",
        "Sigi",
        "All products",
    ]
    same_as_page(
        page,
        xlsx_cells(export(client, "distribution", PERIOD, "xlsx")),
        csv_cells(export(client, "distribution", PERIOD, "csv")),
    )


def test_the_default_period_is_the_last_complete_month(client, world, make_user):
    """Without dates the page, its form and its exports take the last complete month; the page
    says which period it shows; a longer one may be chosen, up to the maximum."""
    first, last = LAST_MONTH
    pk = world["lots"]["PIL-KOMB"]
    keeper = make_user("gudang-73", world["other"])
    for quantity, day in ((7, first), (11, last), (9, first - dt.timedelta(days=1)), (13, THIS_MONTH)):
        shipment = shipment_create(
            origin=world["other"],
            destination=world["other_district"],
            lines=[LineSpec(pk.product, quantity, pk)],
            actor=keeper,
        )
        shipment_dispatch(shipment=shipment, actor=keeper, business_date=day)
    client.force_login(world["users"]["admin"])
    response = client.get(URL)
    assert response.status_code == 200
    params, form = response.context["params"], response.context["form"]
    assert (params["from"], params["to"]) == (first, last)
    assert (form["from"].value(), form["to"].value()) == (first.isoformat(), last.isoformat())
    html = response.content.decode()
    period = f"{date_format(first, 'SHORT_DATE_FORMAT')} – {date_format(last, 'SHORT_DATE_FORMAT')}"
    assert f"Period shown: {period}" in html
    assert "(the last complete month, by default: choose other dates above" in html
    # the month's figures are the documents': its first and last days count, the days around it not
    rows = page_rows(response)
    assert rows == expected_rows(None, first, last)
    g = world["shipments"]["g"]  # 50 units on the same route, dispatched 40 days ago
    assert rows[("pair", "province", "district", "73", "73.71", "PIL-KOMB")]["shipped"] == 7 + 11 + (
        50 if first <= g.dispatch_date <= last else 0
    )
    # the exports without dates hold the same rows
    same_as_page(
        page_cells(response),
        xlsx_cells(export(client, "distribution", {}, "xlsx")),
        csv_cells(export(client, "distribution", {}, "csv")),
    )
    # a longer period, up to the maximum
    longest = {"from": (last - dt.timedelta(days=MAX_DAYS - 1)).isoformat(), "to": last.isoformat()}
    response = client.get(URL, longest)
    assert response.status_code == 200
    assert page_rows(response) == expected_rows(None, last - dt.timedelta(days=MAX_DAYS - 1), last)
    assert "by default" not in response.content.decode()
    too_long = {"from": (last - dt.timedelta(days=MAX_DAYS)).isoformat(), "to": last.isoformat()}
    response = client.get(URL, too_long)
    assert response.status_code == 400
    assert "A report covers at most" in response.content.decode()


@pytest.mark.parametrize("url", ["/reports/consumption/", "/reports/cyp/"])
def test_consumption_and_cyp_keep_the_last_twelve_months(client, world, url):
    client.force_login(world["users"]["prov"])
    response = client.get(url)
    assert response.status_code == 200
    first, last = add_months(THIS_MONTH, -12), THIS_MONTH - dt.timedelta(days=1)
    params, form = response.context["params"], response.context["form"]
    assert (params["from"], params["to"]) == (first, last)
    assert (form["from"].value(), form["to"].value()) == (first.isoformat(), last.isoformat())


def test_scope_on_page_and_exports(client, world):
    # A district manager: shipments from or to Palu only (A, C, D, E, F), not B (province → Sigi).
    client.force_login(world["users"]["palu"])
    response = client.get(URL, PERIOD)
    assert response.status_code == 200
    pairs = {(row[2][0], row[4][0]) for row in response.context["by_pair"]["rows"]}
    assert pairs == {("72", "72.71"), ("72.71", "72.71-001"), ("72.71", "72.71-002")}
    text = csv_cells(export(client, "distribution", PERIOD, "csv"))
    assert {(row[2], row[4]) for row in text[1:] if row[2]} == pairs
    for params in ({"location": "72.10"}, {"location": "73.71"}):
        response = client.get(URL, {**PERIOD, **params})
        assert response.status_code == 400
        assert "was not found" in response.content.decode()
        response = export(client, "distribution", {**PERIOD, **params}, "csv")
        assert response.status_code == 400
        assert "was not found" in response.content.decode()
        assert not response.get("Content-Disposition")
    # A clinic's staff see their clinic's shipments (D and F): Palu → clinic 1.
    client.force_login(world["users"]["c1"])
    response = client.get(URL, PERIOD)
    assert {(row[2][0], row[4][0]) for row in response.context["by_pair"]["rows"]} == {("72.71", "72.71-001")}
    # The other province sees its own shipment only.
    client.force_login(world["users"]["other"])
    response = client.get(URL, PERIOD)
    assert {(row[2][0], row[4][0]) for row in response.context["by_pair"]["rows"]} == {("73", "73.71")}
    # A superuser without a location: everything.
    client.force_login(world["users"]["admin"])
    response = client.get(URL, PERIOD)
    assert len({(row[2][0], row[4][0]) for row in response.context["by_pair"]["rows"]}) == 5


def test_product_filter_and_bad_input(client, world):
    client.force_login(world["users"]["prov"])
    response = client.get(URL, {**PERIOD, "product": "KONDOM"})
    rows = [[v for v, _n in row] for row in response.context["by_level"]["rows"]]
    assert rows == [["Province", "District", "", "", "", "", "KONDOM", 1, 500, 0, Decimal("0.0"), None, None, 500]]
    assert (
        "No shipment was dispatched"
        in client.get(URL, {"from": days_ago(5).isoformat(), "to": TODAY.isoformat()}).content.decode()
    )
    for params, message in (
        ({"from": "yesterday"}, "Enter a valid date."),
        ({"from": TODAY.isoformat(), "to": days_ago(1).isoformat()}, "The start date must not be after the end date."),
        ({"product": "nope"}, "Select a valid choice."),
    ):
        response = client.get(URL, params)
        assert response.status_code == 400
        assert message in response.content.decode()


def test_a_handful_of_queries(world, django_assert_max_num_queries):
    # one statement for the figures (in a savepoint with its work_mem), the in-transit location,
    # then the locations and the products: independent of the number of shipments and routes
    with django_assert_max_num_queries(7):
        distribution(root=world["prov"], date_from=FROM, date_to=TO)


def test_a_large_export_runs_as_a_job_with_the_same_rows(client, world, settings, tmp_path):
    """Above the sync limit (the estimate: routes × products) the export is queued; the job's
    file, built as the user, holds the page's rows."""
    settings.MEDIA_ROOT = tmp_path
    settings.ALOKON_EXPORT_SYNC_ROWS = 3
    client.force_login(world["users"]["palu"])
    page = client.get(URL, PERIOD)
    cells = page.context["by_level"]["rows"] + page.context["by_pair"]["rows"]
    response = export(client, "distribution", PERIOD, "xlsx")
    assert response.status_code == 302 and response["Location"] == "/reports/exports/"
    job = ExportJob.objects.get(user=world["users"]["palu"], report="distribution")
    job = export_run(job.pk, task_id="test", stale_after=dt.timedelta(minutes=11))
    assert job.status == ExportStatus.DONE and job.rows == len(cells)
    with job.file.open("rb") as stored:
        sheet = openpyxl.load_workbook(stored).active
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == page.context["by_level"]["headers"]
    assert [[(c if c is not None else "") for c in row] for row in rows[1:]] == [
        [("" if v is None else float(v) if isinstance(v, Decimal) else v) for v, _n in row] for row in cells
    ]


def test_a_long_page_shows_the_first_rows_and_the_export_all(client, world, monkeypatch):
    monkeypatch.setattr("reports.views_trends.PAGE_ROWS", 2)
    client.force_login(world["users"]["prov"])
    response = client.get(URL, PERIOD)
    by_pair = response.context["by_pair"]
    assert len(by_pair["rows"]) == 2 and by_pair["cut"]
    text = csv_cells(export(client, "distribution", PERIOD, "csv"))
    pair_rows = [row for row in text[1:] if row[2]]
    assert by_pair["total"] == len(pair_rows) > 2
    assert [["" if v is None else str(v) for v, _n in row] for row in by_pair["rows"]] == pair_rows[:2]
    html = response.content.decode()
    assert f"The first 2 of {len(pair_rows)} rows; the downloads hold every one." in html
    assert "The rows by level above count every shipment." in html
    # the rows by level stay whole: the download's, the documents'
    level_rows = [row for row in text[1:] if not row[2]]
    assert [["" if v is None else str(v) for v, _n in row] for row in response.context["by_level"]["rows"]] == (
        level_rows
    )
    rows = page_rows(response)
    assert {k: v for k, v in rows.items() if k[0] == "level"} == {
        k: v for k, v in expected_rows(world["prov"]).items() if k[0] == "level"
    }
