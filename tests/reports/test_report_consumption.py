"""The consumption and CYP reports: figures equal what the ledger moved to the virtual
"dispensed" location, summed here independently (the dispensed side of each movement,
attributed to its clinic through the Dispensing document); the exports hold the page's
rows; every page and export stays in the user's scope; bad input is a 400."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

import openpyxl
import pytest
from django.utils import timezone

from alokon.models import Role
from inventory.models import Dispensing, LedgerEntry, Movement, MovementKind, Product, VirtualRole
from inventory.services.dispensing import DispensingLineSpec, dispensing_record
from inventory.services.opening import opening_balance_post
from inventory.services.posting import EntrySpec, movement_post, movement_reverse, virtual_location
from inventory.services.service_figures import add_months
from reports.selectors.consumption import consumption_by_month, cyp_by_area
from tests.browser_fixtures import browser_login
from tests.factories import LocationFactory, LotFactory
from tests.reports import scenario

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

TODAY = timezone.localdate()
THIS_MONTH = TODAY.replace(day=1)
FIRST, LAST = add_months(THIS_MONTH, -12), THIS_MONTH - dt.timedelta(days=1)  # the default period


def month(n: int) -> dt.date:
    """The first day of the month ``n`` months before this one."""
    return add_months(THIS_MONTH, -n)


@pytest.fixture
def world(tree, products, make_user):
    """Dispensing at four clinics (one in another province), with what must not count: a
    reversed record, a loss, a month before the period and the current month."""
    tree["c4"] = LocationFactory(code="73.71-001", name="Puskesmas Makassar", parent=tree["other_district"])
    lots = {
        code: LotFactory(product=products[code], batch=f"{code}-C", expiry=TODAY + dt.timedelta(days=900))
        for code in ("PIL-KOMB", "KONDOM", "SUNTIK-3", "IUD", "IMPLAN-1")
    }
    staff = {name: make_user(f"staff-{name}", tree[name]) for name in ("c1", "c2", "c3", "c4")}
    for name in staff:
        opening_balance_post(location=tree[name], lines=[(lot, 5000) for lot in lots.values()], business_date=month(14))

    def dispense(clinic, code, n, quantity, day=None):
        return dispensing_record(
            location=tree[clinic],
            date=day or month(n),
            period="day" if day else "month",
            lines=[DispensingLineSpec(products[code], quantity)],
            actor=staff[clinic],
        ).dispensing

    dispense("c1", "PIL-KOMB", 1, 30)
    dispense("c1", "PIL-KOMB", 1, 4, day=month(1) + dt.timedelta(days=3))  # a day's record beside the month's
    dispense("c1", "PIL-KOMB", 3, 20)
    dispense("c1", "KONDOM", 2, 100)
    dispense("c1", "IUD", 12, 2)  # the period's first month
    dispense("c1", "PIL-KOMB", 0, 7, day=TODAY)  # this month: after the period
    dispense("c2", "SUNTIK-3", 1, 12)
    dispense("c2", "IUD", 5, 3)
    mistake = dispense("c2", "PIL-KOMB", 1, 5)
    movement_reverse(movement=mistake.movement, actor=staff["c2"])  # reversed: never happened
    dispense("c3", "IMPLAN-1", 2, 3)
    dispense("c3", "PIL-KOMB", 1, 10)
    dispense("c4", "PIL-KOMB", 1, 1000)  # another province
    # Before the period (older than the dispensing service accepts: posted as the service would).
    dispensed = virtual_location(VirtualRole.DISPENSED)
    old = movement_post(
        kind=MovementKind.DISPENSING,
        entries=[
            EntrySpec(location=tree["c1"], lot=lots["PIL-KOMB"], quantity=-50),
            EntrySpec(location=dispensed, lot=lots["PIL-KOMB"], quantity=50),
        ],
        business_date=month(13),
        document="DSP-72.71-001-OLD",
        actor=staff["c1"],
    )
    Dispensing.objects.create(location=tree["c1"], date=month(13), recorded_by=staff["c1"], movement=old)
    # A loss at the clinic is not consumption.
    scenario.lose(tree["c1"], lots["KONDOM"], 9, "damaged", staff["c1"], "LOSS-72.71-001-1", month(2))

    users = {
        "prov": make_user("kabid72", tree["prov"], role=Role.MANAGER),
        "palu": make_user("kepala7271", tree["palu"], role=Role.MANAGER),
        "other": make_user("kabid73", tree["other"], role=Role.MANAGER),
    }
    return {**tree, "lots": lots, "users": users}


# --- independent figures --------------------------------------------------------------------


def expected_units(root, first=FIRST, last=LAST) -> dict[tuple[str, str], int]:
    """(product code, "YYYY-MM") → units: the dispensed location's entries of every dispensing
    movement not reversed since, attributed to the clinic of its Dispensing record."""
    dispensed = virtual_location(VirtualRole.DISPENSED)
    reversed_ids = set(Movement.objects.filter(reverses__isnull=False).values_list("reverses_id", flat=True))
    clinic_of = {d.movement_id: d.location for d in Dispensing.objects.select_related("location")}
    end = last + dt.timedelta(days=1)
    units: dict[tuple[str, str], int] = defaultdict(int)
    for entry in LedgerEntry.objects.filter(location=dispensed, kind=MovementKind.DISPENSING).select_related("product"):
        clinic = clinic_of[entry.movement_id]
        if entry.movement_id in reversed_ids or not (first <= entry.business_date < end):
            continue
        if root is not None and not clinic.is_within(root):
            continue
        units[(entry.product.code, f"{entry.business_date:%Y-%m}")] += entry.quantity
    return dict(units)


def expected_cyp(areas, first=FIRST, last=LAST) -> dict[str, dict[str, Decimal]]:
    """area code → method → exact CYP (units × the product's factor)."""
    factors = {p.code: (p.method, p.cyp_factor) for p in Product.objects.all()}
    result: dict[str, dict[str, Decimal]] = {}
    for area in areas:
        by_method: dict[str, Decimal] = defaultdict(Decimal)
        for (code, _month), units in expected_units(area, first, last).items():
            method, factor = factors[code]
            by_method[method] += units * factor
        result[area.code] = dict(by_method)
    return result


def q1(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def page_cells(response, key="table") -> list[list]:
    table = response.context[key]
    return [table["headers"], *[[value for value, _numeric in row] for row in table["rows"]]]


def xlsx_cells(response) -> list[list]:
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def csv_cells(response) -> list[list]:
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def export(client, key: str, params: dict, file_format: str):
    """What the page's Excel/CSV buttons do: post the page's filters to the report's export."""
    return client.post(f"/reports/exports/new/{key}/?{urlencode(params)}", {"format": file_format})


def same_as_page(page, xlsx, csv_rows):
    """The page's cells, the spreadsheet's and the CSV's: the same rows, values equal."""
    assert len(page) == len(xlsx) == len(csv_rows)
    assert xlsx[0] == page[0] == csv_rows[0]
    for shown, sheet, text in zip(page[1:], xlsx[1:], csv_rows[1:], strict=True):
        assert len(shown) == len(sheet) == len(text)
        for value, cell, field in zip(shown, sheet, text, strict=True):
            if isinstance(value, int | Decimal):
                assert Decimal(str(cell)) == value
                assert Decimal(field) == value
            else:
                assert (cell or "") == (value or "")
                assert field == (value or "")


# --- consumption ----------------------------------------------------------------------------


def test_consumption_selector_matches_the_ledger(world):
    for root in (None, world["prov"], world["palu"], world["c2"], world["sigi"]):
        table = consumption_by_month(root=root, date_from=FIRST, date_to=LAST)
        expected = expected_units(root)
        assert [f"{m:%Y-%m}" for m in table.months] == [f"{month(n):%Y-%m}" for n in range(12, 0, -1)]
        got = {(p.code, f"{m:%Y-%m}"): table.value(p, m) for p in table.products for m in table.months}
        assert {k: v for k, v in got.items() if v} == expected
    # the figures the fixture describes, by hand
    palu = consumption_by_month(root=world["palu"], date_from=FIRST, date_to=LAST)
    pk = Product.objects.get(code="PIL-KOMB")
    assert palu.value(pk, month(1)) == 34  # 30 + 4; c2's reversed 5 left out
    assert palu.value(pk, month(3)) == 20
    assert palu.total(pk) == 54  # not the 50 before the period nor the 7 of this month
    assert palu.total(Product.objects.get(code="KONDOM")) == 100  # the loss of 9 is not consumption


def test_consumption_page_and_exports(client, world):
    client.force_login(world["users"]["prov"])
    response = client.get("/reports/consumption/")
    assert response.status_code == 200
    page = page_cells(response)
    products = [p.code for p in Product.objects.filter(is_active=True).order_by("code")]
    assert page[0] == [
        "Month",
        *[f"{p.code} ({p.get_unit_display()})" for p in Product.objects.filter(code__in=products).order_by("code")],
    ]
    expected = expected_units(world["prov"])
    assert len(page) == 13
    for row in page[1:]:
        for code, value in zip(products, row[1:], strict=True):
            assert value == expected.get((code, row[0]), 0)
    # the chart is drawn from the same figures
    chart = response.context["chart"]
    assert chart["x"] == [row[0] for row in page[1:]]
    assert [s["y"] for s in chart["series"]] == [[row[i + 1] for row in page[1:]] for i in range(len(products))]
    html = response.content.decode()
    assert "plotly-basic.min.js" in html and 'id="chart-data"' in html

    xlsx = xlsx_cells(export(client, "consumption", {}, "xlsx"))
    text = csv_cells(export(client, "consumption", {}, "csv"))
    same_as_page(page, xlsx, text)


def month_end(first_day: dt.date) -> dt.date:
    return add_months(first_day, 1) - dt.timedelta(days=1)


def test_consumption_filters_product_location_and_period(client, world):
    client.force_login(world["users"]["prov"])
    query = {
        "product": "PIL-KOMB",
        "location": "72.71",
        "from": month(3).isoformat(),
        "to": month_end(month(1)).isoformat(),
    }
    response = client.get("/reports/consumption/", query)
    assert response.status_code == 200
    page = page_cells(response)
    assert page == [
        ["Month", "PIL-KOMB (cycle)"],
        [f"{month(3):%Y-%m}", 20],
        [f"{month(2):%Y-%m}", 0],
        [f"{month(1):%Y-%m}", 34],
    ]
    assert "starts or ends inside a month" not in response.content.decode()
    assert xlsx_cells(export(client, "consumption", query, "xlsx")) == page
    # A period that ends inside a month counts that month's days inside it only: the day's
    # record of 4 is dated the 4th, the month's 30 the month's last day.
    query["to"] = (month(1) + dt.timedelta(days=3)).isoformat()
    response = client.get("/reports/consumption/", query)
    assert page_cells(response)[-1] == [f"{month(1):%Y-%m}", 4]
    assert "starts or ends inside a month" in response.content.decode()
    # The current month can be asked for: this month's record shows.
    now = page_cells(
        client.get(
            "/reports/consumption/", {"product": "PIL-KOMB", "from": THIS_MONTH.isoformat(), "to": TODAY.isoformat()}
        )
    )
    assert now[1:] == [[f"{THIS_MONTH:%Y-%m}", 7]]


def test_consumption_scope(client, world):
    # A district manager sees their district only, by default and in the exports.
    client.force_login(world["users"]["palu"])
    page = page_cells(client.get("/reports/consumption/", {"product": "PIL-KOMB"}))
    assert sum(row[1] for row in page[1:]) == 54
    csv_rows = csv_cells(export(client, "consumption", {"product": "PIL-KOMB"}, "csv"))
    assert sum(int(row[1]) for row in csv_rows[1:]) == 54
    # A location outside the scope is "not found", page and export alike: no figures leak.
    for params in ({"location": "72.10"}, {"location": "73"}):
        response = client.get("/reports/consumption/", params)
        assert response.status_code == 400
        assert f"Location {params['location']} was not found." in response.content.decode()
        assert "table" not in response.context
        response = export(client, "consumption", params, "xlsx")
        assert response.status_code == 400
        assert f"Location {params['location']} was not found." in response.content.decode()
        assert not response.get("Content-Disposition")
    # The other province's manager sees the 1000 of Makassar and nothing of 72.
    client.force_login(world["users"]["other"])
    page = page_cells(client.get("/reports/consumption/", {"product": "PIL-KOMB"}))
    assert sum(row[1] for row in page[1:]) == 1000


@pytest.mark.parametrize(
    "params, message",
    [
        ({"from": "2025-13-01"}, "Enter a valid date."),
        ({"to": "last year"}, "Enter a valid date."),
        ({"from": "2025-06-01", "to": "2025-01-31"}, "The start date must not be after the end date."),
        ({"from": "2099-01-01"}, "The start date must not be after the end date."),  # the default end is before it
        ({"from": "2015-01-01", "to": "2025-01-31"}, "A report covers at most 1830 days"),
        ({"product": "VIAGRA"}, "Select a valid choice."),
        ({"location": "x" * 40}, "Ensure this value has at most 32 characters"),
    ],
)
def test_bad_input_is_a_400_with_a_message(client, world, params, message):
    client.force_login(world["users"]["prov"])
    for url in ("/reports/consumption/", "/reports/cyp/"):
        response = client.get(url, params)
        assert response.status_code == 400
        assert message in response.content.decode()


def test_user_without_location_is_refused(client, world, make_user):
    client.force_login(make_user("nobody", None, role=Role.MANAGER))
    for url in ("/reports/consumption/", "/reports/cyp/"):
        assert client.get(url).status_code == 403


def test_login_required(client, world):
    response = client.get("/reports/consumption/")
    assert response.status_code == 302 and "login" in response["Location"]


# --- CYP ------------------------------------------------------------------------------------


def test_cyp_selector_matches_the_ledger(world):
    table = cyp_by_area(root=world["prov"], date_from=FIRST, date_to=LAST)
    assert [row.location.code for row in table.rows] == ["72.10", "72.71"]
    expected = expected_cyp([world["sigi"], world["palu"]])
    for row in table.rows:
        assert row.by_method == expected[row.location.code]
    assert table.total.by_method == {
        m: expected["72.10"].get(m, 0) + expected["72.71"].get(m, 0) for m in {*expected["72.10"], *expected["72.71"]}
    }
    # by hand: Palu's pills are 54 cycles of 1/15 CYP; its IUDs 2 + 3 at 4.6 CYP each
    palu = next(row for row in table.rows if row.location.code == "72.71")
    assert q1(palu.by_method["pill"]) == q1(Decimal(54) / 15)
    assert palu.by_method["iud"] == Decimal("23.000000")
    assert palu.units == {"pill": 54, "condom": 100, "injectable": 12, "iud": 5}


def test_cyp_page_and_exports(client, world):
    client.force_login(world["users"]["prov"])
    response = client.get("/reports/cyp/")
    assert response.status_code == 200
    page = page_cells(response)
    assert page[0] == [
        "Code",
        "Area",
        "CYP Pill",
        "CYP Injectable",
        "CYP Condom",
        "CYP IUD",
        "CYP Implant",
        "CYP total",
    ]
    expected = expected_cyp([world["sigi"], world["palu"], world["prov"]])
    methods = ["pill", "injectable", "condom", "iud", "implant"]
    rows = {row[0] or "total": row for row in page[1:]}
    assert list(rows) == ["72.10", "72.71", "total"]
    assert rows["total"][1] == "Total: Sulawesi Tengah"
    for code, row in rows.items():
        figures = expected["72" if code == "total" else code]
        assert row[2:7] == [q1(figures.get(m, 0)) for m in methods]
        assert row[7] == q1(sum(figures.values(), Decimal(0)))
    chart = response.context["chart"]
    assert chart["x"] == ["Sigi", "Kota Palu"]
    assert [s["y"] for s in chart["series"]] == [[float(rows[c][2 + i]) for c in ("72.10", "72.71")] for i in range(5)]

    same_as_page(
        page,
        xlsx_cells(export(client, "cyp", {}, "xlsx")),
        csv_cells(export(client, "cyp", {}, "csv")),
    )


def test_cyp_areas_follow_the_chosen_location(client, world, make_user):
    client.force_login(world["users"]["prov"])
    page = page_cells(client.get("/reports/cyp/", {"location": "72.71"}))
    assert [row[0] for row in page[1:]] == ["72.71-001", "72.71-002", ""]
    expected = expected_cyp([world["c1"], world["c2"]])
    assert page[1][7] == q1(sum(expected["72.71-001"].values(), Decimal(0)))
    # a clinic: its own row and the total
    page = page_cells(client.get("/reports/cyp/", {"location": "72.71-002", "product": "IUD"}))
    assert page[0] == ["Code", "Area", "CYP IUD", "CYP total"]
    assert page[1:] == [
        ["72.71-002", "Puskesmas Kamonji", q1(Decimal("13.8")), q1(Decimal("13.8"))],
        ["", "Total: Puskesmas Kamonji", Decimal("13.8"), Decimal("13.8")],
    ]
    # a superuser without a location: the country, by province
    admin = make_user("root", None, role=Role.ADMIN, is_superuser=True, is_staff=True)
    client.force_login(admin)
    page = page_cells(client.get("/reports/cyp/", {"product": "PIL-KOMB"}))
    assert [row[0] for row in page[1:]] == ["72", "73", ""]
    assert page[2][2] == q1(Decimal(1000) / 15)
    assert page[3][1] == "Total: Nasional"


def test_cyp_scope(client, world):
    client.force_login(world["users"]["palu"])
    page = page_cells(client.get("/reports/cyp/"))
    assert [row[0] for row in page[1:]] == ["72.71-001", "72.71-002", ""]
    response = export(client, "cyp", {"location": "72"}, "csv")
    assert response.status_code == 400
    assert not response.get("Content-Disposition")


def test_export_refuses_a_bad_format(client, world):
    client.force_login(world["users"]["prov"])
    for key in ("consumption", "cyp"):
        response = export(client, key, {}, "pdf")
        assert response.status_code == 400
        assert "Choose the file format: Excel (XLSX) or CSV." in response.content.decode()


def test_consumption_reads_only_a_few_queries(world, django_assert_max_num_queries):
    # set-based: the statement count does not depend on the number of clinics or months
    with django_assert_max_num_queries(40):
        consumption_by_month(root=None, date_from=FIRST, date_to=LAST)
    with django_assert_max_num_queries(40):
        cyp_by_area(root=world["national"], date_from=FIRST, date_to=LAST)


# --- in a real browser: the charts are drawn ---------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_charts_are_drawn_in_a_browser(live_server, world, page, artifacts, password):
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    browser_login(page, live_server, "kabid72", password, "/reports/consumption/?product=PIL-KOMB")
    page.wait_for_selector("#charts .chart .main-svg")
    assert page.locator("#charts .chart").count() == 1  # one line chart per product shown
    assert page.locator("#charts .chart .scatterlayer .point").count() == 12  # a marker per month
    page.screenshot(path=str(artifacts / "consumption-72-phone.png"), full_page=True)

    page.goto(f"{live_server.url}/reports/consumption/")
    page.wait_for_selector("#charts .chart .main-svg")
    series = page.evaluate("JSON.parse(document.getElementById('chart-data').textContent).series.length")
    assert page.locator("#charts .chart").count() == series == 8

    page.goto(f"{live_server.url}/reports/cyp/")
    page.wait_for_selector("#charts .chart .main-svg")
    assert page.locator("#charts .chart").count() == 1
    assert page.locator("#charts .barlayer .trace").count() == 5  # a stack per method
    page.screenshot(path=str(artifacts / "cyp-72-phone.png"), full_page=True)
    assert errors == []
