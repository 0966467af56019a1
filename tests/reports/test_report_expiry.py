"""The expiry report: lots in stock expiring within N months, by location, against the balance
rows filtered here; filters, scope and the Excel/CSV exports."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from alokon.models import Role
from inventory.models import Product, StockBalance
from inventory.services.opening import opening_balance_post
from tests.factories import LotFactory
from tests.reports.test_exports import csv_table, export, xlsx_table
from tests.reports.test_indicators import dispense

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

COLUMNS = [
    "location",
    "location name",
    "level",
    "product",
    "batch number",
    "expiry date",
    "days left",
    "quantity",
    "state",
]


def months_ahead(day: dt.date, months: int) -> dt.date:
    """``day`` plus calendar months, on the month's last day when it is shorter (31 Aug + 6 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


@pytest.fixture
def expiry_scenario(tree, make_user):
    today = timezone.localdate()
    condom = Product.objects.get(code="KONDOM")
    pill = Product.objects.get(code="PIL-KOMB")
    lots = {
        "expired": LotFactory(product=condom, batch="K-EXP", expiry=today - dt.timedelta(days=10)),
        "today": LotFactory(product=condom, batch="K-TODAY", expiry=today),
        "soon": LotFactory(product=condom, batch="K-SOON", expiry=today + dt.timedelta(days=20)),
        "edge": LotFactory(product=condom, batch="K-6M", expiry=months_ahead(today, 6)),
        "after": LotFactory(product=condom, batch="K-6M1", expiry=months_ahead(today, 6) + dt.timedelta(days=1)),
        "seven": LotFactory(product=condom, batch="K-7M", expiry=months_ahead(today, 7)),
        "pill": LotFactory(product=pill, batch="P-SOON", expiry=today + dt.timedelta(days=30)),
    }
    start = today - dt.timedelta(days=60)
    opening = {
        "c1": [("expired", 5), ("soon", 30), ("pill", 12), ("after", 7)],
        "c2": [("soon", 20), ("edge", 15), ("today", 3)],
        "c3": [("soon", 10), ("seven", 50)],
        "palu": [("edge", 100)],
    }
    for code, lines in opening.items():
        opening_balance_post(location=tree[code], lines=[(lots[k], q) for k, q in lines], business_date=start)
    dispense(tree["c2"], lots["soon"], 20, today)  # c2's K-SOON is gone: a zero balance row, not listed
    users = {
        "palu": make_user("gudang7271", tree["palu"]),
        "sigi": make_user("gudang7210", tree["sigi"]),
        "prov": make_user("kabid72", tree["prov"], role=Role.MANAGER),
    }
    return {**tree, "lots": lots, "users": users, "today": today}


def expected(root, months: int, product: str | None = None) -> list[tuple]:
    """(location, batch, quantity, days left) of every balance with stock under ``root`` whose lot
    expires by today + ``months``, filtered here in Python, soonest first then tree order."""
    today = timezone.localdate()
    until = months_ahead(today, months)
    rows = [
        b
        for b in StockBalance.objects.select_related("location", "lot", "product")
        if b.quantity > 0
        and b.location.path.startswith(root.path)
        and b.lot.expiry <= until
        and (product is None or b.product.code == product)
    ]
    rows.sort(key=lambda b: (b.lot.expiry, b.location.path, b.product.code, b.lot.batch))
    return [(b.location.code, b.lot.batch, b.quantity, (b.lot.expiry - today).days) for b in rows]


def page(client, user, **query):
    client.force_login(user)
    return client.get(reverse("report-expiry"), query)


def shown(response) -> list[tuple]:
    assert response.status_code == 200, response.content.decode()[:2000]
    return [(r["location"], r["batch"], r["quantity"], r["days_left"]) for r in response.context["page"].object_list]


def test_lots_expiring_within_six_months_by_default(client, expiry_scenario):
    s = expiry_scenario
    rows = shown(page(client, s["users"]["palu"]))
    assert rows == expected(s["palu"], 6)
    # By hand: expired first, then today's, then the soonest; the six-month edge is in, a day later is out.
    assert [(location, batch, quantity) for location, batch, quantity, _d in rows] == [
        ("72.71-001", "K-EXP", 5),
        ("72.71-002", "K-TODAY", 3),
        ("72.71-001", "K-SOON", 30),
        ("72.71-001", "P-SOON", 12),
        ("72.71", "K-6M", 100),
        ("72.71-002", "K-6M", 15),
    ]
    assert rows[0][3] == -10 and rows[1][3] == 0
    states = [r["state"] for r in page(client, s["users"]["palu"]).context["page"].object_list]
    assert states == ["Expired"] + ["Expiring"] * 5


def test_months_product_and_location_filters(client, expiry_scenario):
    s = expiry_scenario
    manager = s["users"]["prov"]
    assert shown(page(client, manager, months=7)) == expected(s["prov"], 7)
    assert ("72.10-001", "K-7M", 50, (s["lots"]["seven"].expiry - s["today"]).days) in shown(
        page(client, manager, months=7)
    )
    assert ("72.71-001", "K-6M1", 7) in [r[:3] for r in shown(page(client, manager, months=7))]
    assert shown(page(client, manager, months=1, product="KONDOM")) == expected(s["prov"], 1, "KONDOM")
    assert [r[:2] for r in shown(page(client, manager, location="72.10"))] == [("72.10-001", "K-SOON")]


def test_scope_and_bad_filters(client, expiry_scenario):
    s = expiry_scenario
    sigi = s["users"]["sigi"]
    assert shown(page(client, sigi, months=12)) == expected(s["sigi"], 12)
    assert {r[0] for r in shown(page(client, sigi, months=12))} == {"72.10-001"}
    response = page(client, sigi, location="72.71")
    assert response.status_code == 400 and "Location 72.71 was not found." in response.content.decode()
    for months in ("0", "37", "six"):
        assert page(client, sigi, months=months).status_code == 400


def test_xlsx_and_csv_hold_the_pages_rows(client, expiry_scenario):
    s = expiry_scenario
    query = {"months": "6"}
    rows = list(page(client, s["users"]["palu"], **query).context["page"].object_list)
    keys = ("location", "location_name", "level", "product", "batch", "expiry", "days_left", "quantity", "state")
    cells = [[r[k] for k in keys] for r in rows]

    header, xlsx_rows = xlsx_table(export(client, "expiry", "xlsx", query).content)
    assert header == COLUMNS
    # Dates come back as dates (openpyxl reads a datetime at midnight).
    assert xlsx_rows == [
        [v if not isinstance(v, dt.date) else dt.datetime.combine(v, dt.time()) for v in c] for c in cells
    ]

    header, csv_rows = csv_table(export(client, "expiry", "csv", query).content)
    assert header == COLUMNS
    assert csv_rows == [[v.isoformat() if isinstance(v, dt.date) else str(v) for v in c] for c in cells]

    # Another district's export holds only its own lots.
    client.force_login(s["users"]["sigi"])
    _header, xlsx_rows = xlsx_table(export(client, "expiry", "xlsx", {"months": "12"}).content)
    assert [(r[0], r[4]) for r in xlsx_rows] == [("72.10-001", "K-SOON"), ("72.10-001", "K-7M")]
