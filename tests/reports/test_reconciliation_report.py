"""The reconciliation report: its figures equal the ledger's and the documents', computed
here independently (plain Python over the rows); the exports hold the page's rows; every
view of it stays in the user's scope."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import (
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    LedgerEntry,
    Location,
    Receipt,
    Resolution,
    Shipment,
    ShipmentStatus,
    VirtualRole,
)
from inventory.services.ledger_check import ledger_check
from inventory.services.receipts import in_transit_by_lot
from reports.selectors import reconciliation as rec
from reports.views import current_month
from tests.reports import scenario

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

URL = "/reports/reconciliation/"


@pytest.fixture
def history(stocked, make_user, lot):
    data = scenario.build(stocked, make_user, lot)
    assert ledger_check().ok
    return data


@pytest.fixture
def month():
    return current_month(timezone.localdate())


# --- independent figures --------------------------------------------------------------------


def in_scope(shipment, root):
    return root is None or shipment.origin.is_within(root) or shipment.destination.is_within(root)


def expected_states(root, start, end):
    counts = defaultdict(int)
    for s in Shipment.objects.select_related("origin", "destination"):
        if in_scope(s, root) and start <= timezone.localdate(s.created_at) <= end:
            counts[s.status] += 1
    return {status: counts[status] for status in ShipmentStatus.values}


def expected_transit(root):
    """(origin level, destination level, product) → quantity, from the receipts service's own sum."""
    by_level, by_pair = defaultdict(int), defaultdict(int)
    for s in Shipment.objects.select_related("origin", "destination").prefetch_related("lines__lot__product"):
        if not in_scope(s, root) or s.status not in (ShipmentStatus.DISPATCHED, ShipmentStatus.PARTIALLY_RECEIVED):
            continue
        lots = {line.lot_id: line.lot for line in s.lines.all()}
        for lot_id, quantity in in_transit_by_lot(s).items():
            product = lots[lot_id].product.code
            by_level[(s.origin.level, s.destination.level, product)] += quantity
            by_pair[(s.origin.code, s.destination.code, product)] += quantity
    return dict(by_level), dict(by_pair)


def expected_rates(root, start, end):
    """By route and by origin: [received, with discrepancy, shipped, short + damaged]."""
    by_route, by_origin = defaultdict(lambda: [0, 0, 0, 0]), defaultdict(lambda: [0, 0, 0, 0])
    for s in Shipment.objects.select_related("origin", "destination"):
        if not in_scope(s, root) or not any(start <= r.business_date <= end for r in s.receipts.all()):
            continue
        discrepancies = [d for d in s.discrepancies.all() if d.resolution != Resolution.RECEIVED]
        lost = sum(
            d.quantity
            for d in discrepancies
            if d.kind == DiscrepancyKind.DAMAGED
            or (d.kind == DiscrepancyKind.SHORT and d.resolution != Resolution.LATE_RECEIPT and d.mixup_lot_id is None)
            or (d.kind == DiscrepancyKind.OVERDUE and d.resolution == Resolution.WRITE_OFF)
        )
        figures = [1, 1 if discrepancies else 0, sum(line.quantity for line in s.lines.all()), lost]
        for table, key in ((by_route, (s.origin.level, s.destination.level)), (by_origin, s.origin.code)):
            table[key] = [x + y for x, y in zip(table[key], figures, strict=True)]
    return dict(by_route), dict(by_origin)


def expected_ages(root):
    today = timezone.localdate()
    buckets = [[0, 0] for _ in rec.AGE_BUCKETS]
    for d in Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN).select_related(
        "shipment__origin", "shipment__destination"
    ):
        if not in_scope(d.shipment, root):
            continue
        days = (today - timezone.localdate(d.created_at)).days
        i = 0 if days <= 7 else 1 if days <= 30 else 2 if days <= 90 else 3
        buckets[i][0] += 1
        buckets[i][1] += d.quantity
    return buckets


def expected_write_offs(root, start, end):
    loss = Location.objects.get(virtual_role=VirtualRole.LOSS)
    totals = defaultdict(int)
    for entry in LedgerEntry.objects.filter(location=loss).select_related("movement", "product"):
        if not entry.reason or not start <= entry.business_date <= end:
            continue
        movement = entry.movement
        shipments = [r.shipment for r in Receipt.objects.filter(movement=movement)]
        shipments += [d.shipment for d in movement.resolved_discrepancies.all()]
        real = [e.location for e in movement.entries.select_related("location") if not e.location.is_virtual]
        if root is None or any(loc.is_within(root) for loc in real) or any(in_scope(s, root) for s in shipments):
            totals[(entry.reason, entry.product.code)] += entry.quantity
    return dict(totals)


def rate(part, whole):
    return (Decimal(100) * part / whole).quantize(Decimal("0.1")) if whole else None


# --- the selectors against the independent figures -----------------------------------------


@pytest.mark.parametrize("root_code", ["72", "72.71", "72.10", "72.71-001", None])
def test_report_figures_equal_the_ledger_and_documents(history, month, root_code):
    root = Location.objects.get(code=root_code) if root_code else None
    start, end = month

    states = rec.shipments_by_state(root=root, date_from=start, date_to=end)
    assert {r["status"]: r["shipments"] for r in states} == expected_states(root, start, end)

    levels, pairs = rec.in_transit_by_route(root=root)
    want_levels, want_pairs = expected_transit(root)
    assert {
        (lv.value, dv.value, r["product"]): r["quantity"]
        for r in levels
        for lv in rec.Level
        for dv in rec.Level
        if str(lv.label) == r["origin_level"] and str(dv.label) == r["destination_level"]
    } == want_levels
    assert {(r["origin"], r["destination"], r["product"]): r["quantity"] for r in pairs} == want_pairs

    routes, origins = rec.discrepancy_rates(root=root, date_from=start, date_to=end)
    want_routes, want_origins = expected_rates(root, start, end)
    assert {r["key"]: [r["received"], r["with_discrepancy"], r["shipped"], r["short_damaged"]] for r in routes} == (
        want_routes
    )
    assert {r["origin"]: [r["received"], r["with_discrepancy"], r["shipped"], r["short_damaged"]] for r in origins} == (
        want_origins
    )
    for r in origins:
        assert r["shipment_rate"] == rate(r["with_discrepancy"], r["received"])
        assert r["quantity_rate"] == rate(r["short_damaged"], r["shipped"])

    ages = rec.open_discrepancy_ages(root=root)
    assert [[r["discrepancies"], r["quantity"]] for r in ages] == expected_ages(root)

    write_offs = rec.write_offs_by_reason(root=root, date_from=start, date_to=end)
    assert {(r["reason"], r["product"]): r["quantity"] for r in write_offs} == expected_write_offs(root, start, end)


def test_the_scenarios_figures_by_hand(history, month):
    """The same figures written out, so the independent computation cannot share a mistake."""
    start, end = month
    prov, palu, sigi = history["prov"], history["palu"], history["sigi"]
    levels, _pairs = rec.in_transit_by_route(root=prov)
    assert [(r["product"], r["shipments"], r["quantity"]) for r in levels] == [
        ("PIL-KOMB", 1, 5),  # A's short
        ("SUNTIK-3", 2, 102),  # C on the road, E's short
    ]
    sigi_levels, _pairs = rec.in_transit_by_route(root=sigi)
    assert [(r["product"], r["shipments"], r["quantity"]) for r in sigi_levels] == [("SUNTIK-3", 1, 2)]
    assert rec.in_transit_by_route(root=history["c1"]) == ([], [])  # D's short was written off

    _routes, origins = rec.discrepancy_rates(root=prov, date_from=start, date_to=end)
    # Palu loses most: D lost 2 of 6; the province 10 of 70 (A: 5 short + 5 damaged; B whole; F's
    # short came late; E outside the period).
    assert [(r["origin"], r["received"], r["with_discrepancy"], r["quantity_rate"]) for r in origins] == [
        ("72.71", 1, 1, Decimal("33.3")),
        ("72", 3, 2, Decimal("14.3")),
    ]
    ages = rec.open_discrepancy_ages(root=prov)
    assert [(r["discrepancies"], r["quantity"]) for r in ages] == [(2, 10), (1, 2), (0, 0), (1, 100)]
    assert [(r["discrepancies"], r["quantity"]) for r in rec.open_discrepancy_ages(root=palu)] == [
        (2, 10),
        (0, 0),
        (0, 0),
        (1, 100),
    ]
    write_offs = rec.write_offs_by_reason(root=palu, date_from=start, date_to=end)
    assert [(r["reason"], r["quantity"]) for r in write_offs] == [("lost", 2), ("expired", 1), ("damaged", 5)]
    write_offs = rec.write_offs_by_reason(root=sigi, date_from=start, date_to=end)
    assert [(r["reason"], r["quantity"]) for r in write_offs] == [("stolen", 3)]
    older = rec.write_offs_by_reason(root=sigi, date_from=start - dt.timedelta(days=90), date_to=end)
    assert [(r["reason"], r["quantity"]) for r in older] == [("lost", 1), ("stolen", 3)]


# --- the page and its exports ----------------------------------------------------------------


def login(client, username, password):
    client.login(username=username, password=password)
    return client


def page_rows(response):
    return {s.title: [s.columns, *[list(r) for r in s.rows]] for s in response.context["sections"]}


def as_text(value):
    return "" if value is None else str(value)


def test_page_defaults_to_the_current_month_and_the_users_scope(client, history, password, month):
    response = login(client, "gudang7271", password).get(URL)
    assert response.status_code == 200
    assert (response.context["date_from"], response.context["date_to"]) == month
    assert response.context["root"] == history["palu"]
    expected = rec.report_sections(root=history["palu"], date_from=month[0], date_to=month[1])
    assert page_rows(response) == {s.title: [s.columns, *s.rows] for s in expected}
    content = response.content.decode()
    assert "Write-offs by reason" in content and "Discrepancy rate by origin" in content
    assert history["shipments"]["e"].number not in content


def test_xlsx_export_holds_the_pages_rows(client, history, password, month):
    login(client, "gudang72", password)
    page = page_rows(client.get(URL))
    response = client.get(URL, {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert f"{month[0].isoformat()}_{month[1].isoformat()}.xlsx" in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert len(workbook.sheetnames) == len(page)
    for (title, rows), sheet in zip(page.items(), workbook.worksheets, strict=True):
        assert sheet.title == title[:31]
        cells = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert cells == [[float(v) if isinstance(v, Decimal) else v for v in row] for row in rows]


def test_csv_export_holds_the_pages_rows(client, history, password):
    login(client, "gudang72", password)
    page = page_rows(client.get(URL))
    response = client.get(URL, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert ".csv" in response["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    sections = defaultdict(list)
    for line in lines:
        sections[line[0]].append(line[1:])
    # The first line of each section is its header; a section without rows has only that.
    assert list(sections) == list(page)
    assert dict(sections) == {
        title: [rows[0], *[[as_text(v) for v in row] for row in rows[1:]]] for title, rows in page.items()
    }


def test_district_export_and_page_stay_in_the_district(client, history, password, month):
    login(client, "gudang7210", password)
    response = client.get(URL, {"format": "csv"})
    text = response.content.decode("utf-8-sig")
    assert "72.71" not in text  # Palu's routes, write-offs and discrepancies are not Sigi's business
    assert "Stolen" in text
    xlsx = openpyxl.load_workbook(io.BytesIO(client.get(URL, {"format": "xlsx"}).content))
    values = {str(v) for sheet in xlsx.worksheets for row in sheet.iter_rows(values_only=True) for v in row}
    assert "72.71" not in values
    # A location outside the scope is a form error, never someone else's figures.
    for fmt in ("", "csv", "xlsx"):
        response = client.get(URL, {"location": "72.71", "format": fmt})
        assert response.status_code == 400
        assert "72.71" not in "".join(str(r) for s in response.context.get("sections") or [] for r in s.rows)


def test_location_filter_narrows_inside_the_scope(client, history, password, month):
    login(client, "gudang72", password)
    narrowed = page_rows(client.get(URL, {"location": "72.71"}))
    as_palu = page_rows(login(client, "gudang7271", password).get(URL))
    assert narrowed == as_palu


def test_period_filter(client, history, password):
    login(client, "gudang72", password)
    today = timezone.localdate()
    partial = str(ShipmentStatus.PARTIALLY_RECEIVED.label)
    assert dict(client.get(URL).context["sections"][0].rows)[partial] == 3  # A, D and F
    response = client.get(URL, {"from": (today - dt.timedelta(days=60)).isoformat(), "to": today.isoformat()})
    assert dict(response.context["sections"][0].rows)[partial] == 4  # and E, created 50 days ago
    assert client.get(URL, {"from": "2026-02-01", "to": "2026-01-01"}).status_code == 400
    assert client.get(URL, {"from": "yesterday"}).status_code == 400


def test_anonymous_goes_to_login_and_users_without_a_location_are_refused(client, history, make_user, password):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    make_user("nowhere", None)
    assert login(client, "nowhere", password).get(URL).status_code == 403
