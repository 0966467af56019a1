"""The MOBIYA report: clinics with users at dropout risk, grouped by district, most users at
risk first. The alerts come from the real computation over a ledger and service figures
built here; users at risk are worked out by hand from the rules, active users read from
the service figures independently; the exports hold the page's rows; scope everywhere."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from alokon.models import Role
from inventory.models import ServiceFigure
from inventory.services.dispensing import DispensingLineSpec, dispensing_record
from inventory.services.opening import opening_balance_post
from inventory.services.service_figures import add_months
from reports.models import Alert, AlertKind, AlertSettings, AlertStatus
from reports.selectors.mobiya import mobiya_report
from reports.services import dropout_alerts
from reports.services.alert_sync import sync_alerts
from tests.factories import LocationFactory, LotFactory
from tests.reports.alert_rows import make_alert
from tests.reports.test_report_consumption import csv_cells, export, xlsx_cells

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

TODAY = timezone.localdate()
THIS_MONTH = TODAY.replace(day=1)
M1, M2, M3, M4 = (add_months(THIS_MONTH, -n) for n in (1, 2, 3, 4))
URL = "/reports/mobiya/"


def recompute():
    found = dropout_alerts.candidates(None, TODAY, AlertSettings.current())
    return sync_alerts(dropout_alerts.KINDS, found, location_ids=None)


def figure(clinic, product, month, active, *, current=True, by):
    return ServiceFigure.objects.create(
        location=clinic,
        product=product,
        month=month,
        active_users=active,
        new_users=0,
        is_current=current,
        recorded_by=by,
    )


@pytest.fixture
def world(tree, products, make_user):
    """Dropout risk computed by the alert service (AlertSettings defaults: share 0.70 over 2
    months, resupply in 30 days):

    - c1 (Palu), PIL-KOMB, revisit 28: 200 opened, 60 dispensed in each of the last 3 months →
      20 on hand, AMC 60, 10 days of stock; 56 active users (50 the month before) → stock gap,
      users at risk = ceil(56 × (30 − 10) ÷ 28) = 40;
    - c2 (Palu), KONDOM, revisit 30: 10 opened, nothing dispensed, 30 active users → need
      1 a day, 10 days of stock → stock gap, ceil(30 × 20 ÷ 30) = 20 (and falling: nothing
      dispensed in either month);
    - c3 (Sigi), SUNTIK-1, revisit 30: plenty of stock; 50 then 60 dispensed for 90 active
      users (need 90, 70 % is 63) → falling dispensing, ceil(90 × (1 − 60 ÷ 90)) = 30;
    - c4 (another province, Makassar): a stock-gap alert of 7 users written directly.
    """
    tree["c4"] = LocationFactory(code="73.71-001", name="Puskesmas Makassar", parent=tree["other_district"])
    staff = {name: make_user(f"staff-{name}", tree[name]) for name in ("c1", "c2", "c3")}
    lots = {
        code: LotFactory(product=products[code], batch=f"{code}-M", expiry=TODAY + dt.timedelta(days=700))
        for code in ("PIL-KOMB", "KONDOM", "SUNTIK-1")
    }
    opening_balance_post(location=tree["c1"], lines=[(lots["PIL-KOMB"], 200)], business_date=M4)
    opening_balance_post(location=tree["c2"], lines=[(lots["KONDOM"], 10)], business_date=M4)
    opening_balance_post(location=tree["c3"], lines=[(lots["SUNTIK-1"], 1000)], business_date=M4)

    def dispense(clinic, code, month, quantity):
        dispensing_record(
            location=tree[clinic],
            date=month,
            period="month",
            lines=[DispensingLineSpec(products[code], quantity)],
            actor=staff[clinic],
        )

    for month in (M3, M2, M1):
        dispense("c1", "PIL-KOMB", month, 60)
    dispense("c3", "SUNTIK-1", M2, 50)
    dispense("c3", "SUNTIK-1", M1, 60)
    figure(tree["c1"], products["PIL-KOMB"], M2, 50, by=staff["c1"])
    figure(tree["c1"], products["PIL-KOMB"], M1, 56, by=staff["c1"])
    figure(tree["c1"], products["PIL-KOMB"], M1, 99, current=False, by=staff["c1"])  # replaced: ignored
    for month in (M2, M1):
        figure(tree["c2"], products["KONDOM"], month, 30, by=staff["c2"])
        figure(tree["c3"], products["SUNTIK-1"], month, 90, by=staff["c3"])
    recompute()
    make_alert(
        tree["c4"],
        AlertKind.DROPOUT_RISK,
        "KONDOM",
        quantity=7,
        figures={"rule": "stock_gap", "active_users": 12, "users_at_risk": 7, "stock_days": 3.0, "next_resupply": None},
    )
    # A resolved alert never shows.
    make_alert(
        tree["c2"],
        AlertKind.DROPOUT_RISK,
        "PIL-PROG",
        status=AlertStatus.RESOLVED,
        quantity=500,
        figures={"rule": "falling_dispensing", "users_at_risk": 500},
    )
    users = {
        "prov": make_user("kabid72", tree["prov"], role=Role.MANAGER),
        "palu": make_user("plkb7271", tree["palu"], role=Role.FIELD),
        "sigi": make_user("plkb7210", tree["sigi"], role=Role.FIELD),
        "other": make_user("kabid73", tree["other"], role=Role.MANAGER),
        "admin": make_user("root", None, role=Role.ADMIN, is_superuser=True, is_staff=True),
    }
    return {**tree, "products": products, "users": users}


def latest_active(clinic, product):
    """Active users of the latest current figure up to this month, read independently."""
    rows = ServiceFigure.objects.filter(location=clinic, product=product, is_current=True, month__lte=THIS_MONTH)
    latest = max(rows, key=lambda f: f.month, default=None)
    return latest.active_users if latest else None


def test_rows_are_the_alerts_worked_out_by_hand(world):
    report = mobiya_report(root=world["prov"])
    rows = report.rows()
    assert [(r["district"], r["clinic"], r["product"], r["users_at_risk"]) for r in rows] == [
        ("72.71", "72.71-001", "PIL-KOMB", 40),
        ("72.71", "72.71-002", "KONDOM", 20),
        ("72.10", "72.10-001", "SUNTIK-1", 30),
    ]
    # every figure agrees with the alert it comes from and with the service figures
    for row in rows:
        alert = Alert.objects.get(
            kind=AlertKind.DROPOUT_RISK,
            location__code=row["clinic"],
            product__code=row["product"],
            status=AlertStatus.OPEN,
        )
        assert row["users_at_risk"] == alert.quantity == alert.figures["users_at_risk"]
        assert row["active_users"] == latest_active(alert.location, alert.product)
        assert row["opened"] == timezone.localdate(alert.opened_at).isoformat()
    assert [r["active_users"] for r in rows] == [56, 30, 90]
    assert [r["reason"] for r in rows] == [
        "Stock will run out before resupply",
        # nothing dispensed for 30 active users in both months: dispensing is falling as well
        "Stock will run out before resupply; users are not coming back",
        "Users are not coming back",
    ]
    assert [r["stock_days"] for r in rows] == [10.0, 10.0, None]
    assert [r["method"] for r in rows] == ["Pill", "Condom", "Injectable"]
    # the district totals, and the clinic totals on every row
    assert [(d.district.code, d.users_at_risk) for d in report.districts] == [("72.71", 60), ("72.10", 30)]
    assert [r["clinic_users_at_risk"] for r in rows] == [40, 20, 30]
    assert report.users_at_risk == 90 and report.clinic_count == 3


def test_order_groups_by_district_then_users_at_risk(world):
    # Another method at risk at c2 lifts it above c1 (20 + 25 > 40): clinics re-order, and
    # c2's methods are listed most users first.
    make_alert(
        world["c2"],
        AlertKind.DROPOUT_RISK,
        "PIL-PROG",
        quantity=25,
        figures={"rule": "stock_gap", "also_falling": True, "users_at_risk": 25, "stock_days": 2.5},
    )
    rows = mobiya_report(root=world["prov"]).rows()
    assert [(r["clinic"], r["product"], r["clinic_users_at_risk"]) for r in rows] == [
        ("72.71-002", "PIL-PROG", 45),
        ("72.71-002", "KONDOM", 45),
        ("72.71-001", "PIL-KOMB", 40),
        ("72.10-001", "SUNTIK-1", 30),
    ]
    assert rows[0]["reason"] == "Stock will run out before resupply; users are not coming back"


def test_acknowledged_alerts_stay_and_filters(world):
    alert = Alert.objects.get(location=world["c3"], kind=AlertKind.DROPOUT_RISK)
    Alert.objects.filter(pk=alert.pk).update(
        status=AlertStatus.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=world["users"]["sigi"]
    )
    assert [r["clinic"] for r in mobiya_report(root=world["prov"]).rows()][-1] == "72.10-001"
    # product
    rows = mobiya_report(root=world["prov"], product=world["products"]["KONDOM"]).rows()
    assert [r["clinic"] for r in rows] == ["72.71-002"]
    # period: the alerts opened in it
    Alert.objects.filter(location=world["c1"]).update(opened_at=timezone.now() - dt.timedelta(days=40))
    rows = mobiya_report(root=world["prov"], opened_from=TODAY - dt.timedelta(days=10), opened_to=TODAY).rows()
    assert [(r["clinic"], r["clinic_users_at_risk"]) for r in rows] == [("72.10-001", 30), ("72.71-002", 20)]
    rows = mobiya_report(
        root=world["prov"], opened_from=TODAY - dt.timedelta(days=45), opened_to=TODAY - dt.timedelta(days=30)
    ).rows()
    assert [r["clinic"] for r in rows] == ["72.71-001"]


def page_rows(response) -> list[str]:
    return re.findall(r'data-row="([^"]+)"', response.content.decode())


def test_page_and_exports_hold_the_same_rows(client, world):
    client.force_login(world["users"]["prov"])
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "no villages" in html and "grouped by district" in html
    expected = mobiya_report(root=world["prov"]).rows()
    assert page_rows(response) == [f"{r['clinic']} {r['product']}" for r in expected]
    for name in ("Kota Palu", "Sigi", "Puskesmas Talise", "Puskesmas Kamonji", "Puskesmas Biromaru"):
        assert name in html
    assert "60 users at risk" in html and "40 users at risk" in html
    xlsx = xlsx_cells(export(client, "mobiya", {}, "xlsx"))
    text = csv_cells(export(client, "mobiya", {}, "csv"))
    assert (
        xlsx[0]
        == text[0]
        == [
            "District",
            "District name",
            "Clinic",
            "Clinic name",
            "Users at risk at the clinic",
            "Product",
            "Method",
            "Reason",
            "Users at risk",
            "Active users",
            "Days of stock",
            "Next resupply",
            "Alert opened",
        ]
    )
    keys = list(expected[0])
    assert [dict(zip(keys, row, strict=True)) for row in xlsx[1:]] == [
        {k: (v if v != "" else None) for k, v in r.items()} for r in expected
    ]
    assert [f"{row[2]} {row[5]}" for row in text[1:]] == page_rows(response)
    assert [int(row[8]) for row in text[1:]] == [40, 20, 30]


def test_scope(client, world):
    # A Palu field worker: Palu's clinics only, page and exports.
    client.force_login(world["users"]["palu"])
    response = client.get(URL)
    assert page_rows(response) == ["72.71-001 PIL-KOMB", "72.71-002 KONDOM"]
    assert [row[2] for row in csv_cells(export(client, "mobiya", {}, "csv"))[1:]] == ["72.71-001", "72.71-002"]
    for params in ({"location": "72.10"}, {"location": "73.71-001"}):
        assert client.get(URL, params).status_code == 400
        response = export(client, "mobiya", params, "xlsx")
        assert response.status_code == 400 and not response.get("Content-Disposition")
    # narrowing inside the scope
    assert page_rows(client.get(URL, {"location": "72.71-002"})) == ["72.71-002 KONDOM"]
    # the other province: its own clinic only
    client.force_login(world["users"]["other"])
    assert page_rows(client.get(URL)) == ["73.71-001 KONDOM"]
    # a superuser without a location: everything, most users at risk first
    client.force_login(world["users"]["admin"])
    assert page_rows(client.get(URL))[-1] == "73.71-001 KONDOM"
    assert len(page_rows(client.get(URL))) == 4


def test_empty_and_bad_input(client, world):
    client.force_login(world["users"]["prov"])
    response = client.get(URL, {"product": "IUD"})
    assert response.status_code == 200
    assert "No clinic has users at risk of dropping out." in response.content.decode()
    for params, message in (
        ({"from": "2026-02-30"}, "Enter a valid date."),
        ({"from": TODAY.isoformat(), "to": (TODAY - dt.timedelta(days=1)).isoformat()}, "must not be after"),
        ({"location": "nowhere"}, "Location nowhere was not found."),
    ):
        response = client.get(URL, params)
        assert response.status_code == 400
        assert message in response.content.decode()


def test_two_queries_whatever_the_number_of_alerts(world, django_assert_num_queries):
    with django_assert_num_queries(2):
        mobiya_report(root=world["prov"]).rows()


def test_a_long_list_shows_the_first_clinics_and_the_export_all(client, world, monkeypatch):
    monkeypatch.setattr("reports.views_trends.PAGE_ROWS", 1)
    client.force_login(world["users"]["prov"])
    response = client.get(URL)
    assert page_rows(response) == ["72.71-001 PIL-KOMB"]
    assert "The first 1 of 3 clinics; the downloads hold every one." in response.content.decode()
    assert len(csv_cells(export(client, "mobiya", {}, "csv"))) == 1 + 3
