"""The stock status report: its figures against the ledger summed here, its filters, its
scope, and its Excel and CSV exports holding the page's rows."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from alokon.models import Role
from inventory.models import LedgerEntry, MovementKind, Product, ShipmentLine, ShipmentStatus, StockBalance
from inventory.selectors.stock import consumption_window
from tests.factories import LotFactory
from tests.reports.test_exports import csv_table, export, xlsx_table
from tests.reports.test_indicators import dispense, months, ship, stock

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

#: the clinic policy of the reference data: emergency 0.5, min 1, max 3 months
CLINIC_POLICY = (Decimal("0.5"), Decimal(1), Decimal(3))
COLUMNS = [
    "location",
    "location name",
    "level",
    "product",
    "stock on hand",
    "in transit",
    "AMC",
    "months of stock",
    "min (months)",
    "max (months)",
    "status",
    "suggested order",
]


@pytest.fixture
def status_scenario(tree, make_user):
    """Pill stock at three clinics (within plan, below the emergency point, stocked out), two
    districts with stock and no consumption, an injectable at one clinic, a shipment on its way."""
    pill = Product.objects.get(code="PIL-KOMB")
    inj = Product.objects.get(code="SUNTIK-3")
    far = timezone.localdate() + dt.timedelta(days=900)
    pill_lot = LotFactory(product=pill, batch="PK-S", expiry=far)
    inj_lot = LotFactory(product=inj, batch="S3-S", expiry=far)
    m1, m2, m3 = months()
    before = m1 - dt.timedelta(days=5)
    for clinic, opening, monthly in ((tree["c1"], 300, (30, 60, 90)), (tree["c2"], 100, (30, 30, 30))):
        stock(clinic, pill_lot, opening, before)
        for month, quantity in zip((m1, m2, m3), monthly, strict=True):
            dispense(clinic, pill_lot, quantity, month + dt.timedelta(days=4))
    stock(tree["c3"], pill_lot, 90, before)
    for month in (m1, m2, m3):
        dispense(tree["c3"], pill_lot, 30, month + dt.timedelta(days=4))  # out from m3 + 4
    stock(tree["c1"], inj_lot, 40, before)
    for month in (m1, m2, m3):
        dispense(tree["c1"], inj_lot, 10, month + dt.timedelta(days=4))
    stock(tree["palu"], pill_lot, 1000, before)
    stock(tree["sigi"], pill_lot, 500, before)
    users = {
        "palu": make_user("gudang7271", tree["palu"]),
        "sigi": make_user("gudang7210", tree["sigi"]),
        "prov": make_user("kabid72", tree["prov"], role=Role.MANAGER),
    }
    ship(tree["palu"], tree["c2"], pill, 20, timezone.localdate(), users["palu"])  # in transit to c2
    return {**tree, "pill": pill, "inj": inj, "users": users}


# --- the figures, from the ledger ---------------------------------------------------------------


def expected_row(location, product) -> dict:
    """The indicators of (location, product) summed here from the ledger, balances and shipments.

    Valid for locations whose stock never ran out in the window (no stockout adjustment) and
    with no issues to their subtree in it (the scenario's warehouses ship only today)."""
    start, end = consumption_window(timezone.localdate())
    soh = StockBalance.objects.filter(location=location, product=product).aggregate(q=Sum("quantity"))["q"] or 0
    consumed = -(
        LedgerEntry.objects.filter(
            location=location,
            product=product,
            kind=MovementKind.DISPENSING,
            quantity__lt=0,
            business_date__gte=start,
            business_date__lt=end,
        ).aggregate(q=Sum("quantity"))["q"]
        or 0
    )
    in_transit = (
        ShipmentLine.objects.filter(
            shipment__destination=location, shipment__status=ShipmentStatus.DISPATCHED, product=product
        ).aggregate(q=Sum("quantity"))["q"]
        or 0
    )
    amc = (Decimal(consumed) / 3).quantize(Decimal("0.01"))
    mos = (Decimal(soh) / amc).quantize(Decimal("0.01")) if amc else None
    emergency, low, high = CLINIC_POLICY
    if mos is None:
        status = "No consumption"
    elif mos < emergency:
        status = "Below emergency order point"
    elif mos < low:
        status = "Below minimum"
    elif mos > high:
        status = "Above maximum"
    else:
        status = "Within plan"
    return {
        "stock": soh,
        "in_transit": in_transit,
        "amc": amc,
        "mos": mos,
        "status": status,
        "suggested_order": max(0, math.ceil(high * amc - soh - in_transit)),
    }


FIGURES = ("stock", "in_transit", "amc", "mos", "status", "suggested_order")


def page(client, user, **query):
    client.force_login(user)
    return client.get(reverse("report-stock-status"), query)


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response.content.decode()[:2000]
    return list(response.context["page"].object_list)


def by_key(rows) -> dict[tuple[str, str], dict]:
    return {(r["location"], r["product"]): r for r in rows}


def test_figures_equal_the_ledger(client, status_scenario):
    s = status_scenario
    rows = by_key(rows_of(page(client, s["users"]["prov"])))
    for location, product, status in (
        (s["c1"], s["pill"], "Within plan"),
        (s["c2"], s["pill"], "Below emergency order point"),
        (s["c1"], s["inj"], "Within plan"),
    ):
        expected = expected_row(location, product)
        assert expected["status"] == status  # the scenario is what it says
        shown = rows[(location.code, product.code)]
        assert {key: shown[key] for key in FIGURES} == expected, (location.code, product.code)
        assert (shown["min_months"], shown["max_months"]) == CLINIC_POLICY[1:]
    # By hand: c1 pill 300 − 180 = 120 at AMC 60 → 2 months; c2 10 at AMC 30 plus 20 on the way.
    assert (rows[("72.71-001", "PIL-KOMB")]["mos"], rows[("72.71-001", "PIL-KOMB")]["suggested_order"]) == (2, 60)
    assert (rows[("72.71-002", "PIL-KOMB")]["in_transit"], rows[("72.71-002", "PIL-KOMB")]["suggested_order"]) == (
        20,
        90 - 10 - 20,
    )
    # c3 ran out: nothing on hand, but it held the product; warehouses with stock and no consumption.
    assert (rows[("72.10-001", "PIL-KOMB")]["stock"], rows[("72.10-001", "PIL-KOMB")]["status"]) == (0, "Stocked out")
    assert (rows[("72.71", "PIL-KOMB")]["stock"], rows[("72.71", "PIL-KOMB")]["status"]) == (
        1000 - 20,
        "No consumption",
    )
    # A product a location never held.
    assert rows[("72.10-001", "SUNTIK-3")]["status"] == "Not stocked"
    # Every active location of the scope × every active product, nothing outside it.
    products = Product.objects.filter(is_active=True).count()
    assert len(rows) == 6 * products  # province, 2 districts, 3 clinics
    assert not any(code.startswith("73") for code, _p in rows)


def test_filters_narrow_the_rows(client, status_scenario):
    s = status_scenario
    manager = s["users"]["prov"]
    out = rows_of(page(client, manager, status="stocked_out"))
    assert [(r["location"], r["product"]) for r in out] == [("72.10-001", "PIL-KOMB")]
    clinics = rows_of(page(client, manager, level="clinic", product="PIL-KOMB"))
    assert [r["location"] for r in clinics] == ["72.10-001", "72.71-001", "72.71-002"]  # tree order
    palu = rows_of(page(client, manager, location="72.71", product="PIL-KOMB"))
    assert {r["location"] for r in palu} == {"72.71", "72.71-001", "72.71-002"}


def test_scope_and_bad_filters(client, status_scenario):
    s = status_scenario
    sigi = s["users"]["sigi"]
    rows = rows_of(page(client, sigi))
    assert {r["location"] for r in rows} == {"72.10", "72.10-001"}
    # Another district's code reads as unknown, like one that does not exist.
    response = page(client, sigi, location="72.71")
    assert response.status_code == 400
    assert "Location 72.71 was not found." in response.content.decode()
    for query in ({"status": "bogus"}, {"level": "planet"}, {"product": "NOPE"}):
        assert page(client, sigi, **query).status_code == 400


def test_a_user_without_a_location_sees_no_report(client, make_user, db):
    response = page(client, make_user("nowhere", None))
    assert response.status_code == 403
    client.logout()
    response = client.get(reverse("report-stock-status"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def page_cells(rows) -> list[list]:
    return [
        [
            r["location"],
            r["location_name"],
            r["level"],
            r["product"],
            r["stock"],
            r["in_transit"],
            r["amc"],
            r["mos"],
            r["min_months"],
            r["max_months"],
            r["status"],
            r["suggested_order"],
        ]
        for r in rows
    ]


def test_xlsx_and_csv_hold_the_pages_rows(client, status_scenario):
    manager = status_scenario["users"]["prov"]
    query = {"location": "72.71", "level": "clinic"}
    shown = page_cells(rows_of(page(client, manager, **query)))
    assert len(shown) == 2 * Product.objects.filter(is_active=True).count()

    response = export(client, "stock-status", "xlsx", query)
    assert response["Content-Disposition"].startswith('attachment; filename="stock-status_72.71_')
    header, rows = xlsx_table(response.content)
    assert header == COLUMNS
    # Numbers stay numbers in the spreadsheet (openpyxl reads them back as int or float).
    assert rows == [[float(v) if isinstance(v, Decimal) else v for v in row] for row in shown]

    header, rows = csv_table(export(client, "stock-status", "csv", query).content)
    assert header == COLUMNS
    assert rows == [["" if v is None else str(v) for v in row] for row in shown]


def test_export_stays_in_the_users_scope(client, status_scenario):
    client.force_login(status_scenario["users"]["sigi"])
    header, rows = xlsx_table(export(client, "stock-status", "xlsx", {}).content)
    assert {row[0] for row in rows} == {"72.10", "72.10-001"}
    response = export(client, "stock-status", "xlsx", {"location": "72.71"}, expect=400)
    assert "Location 72.71 was not found." in response.content.decode()


def test_page_links_each_row_to_its_stock_card(client, status_scenario):
    html = page(client, status_scenario["users"]["palu"], product="PIL-KOMB").content.decode()
    assert reverse("stock-card", args=["72.71-001", "PIL-KOMB"]) in html
    assert f'action="{reverse("report-export", args=["stock-status"])}?product=PIL-KOMB"' in html
