"""The dashboard: its figures against the ledger, documents and alerts counted here, per
scope; the links behind each figure; snapshots of large scopes."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from alokon.models import Role
from inventory.models import (
    Discrepancy,
    DiscrepancyKind,
    LedgerEntry,
    Level,
    Location,
    MovementKind,
    Product,
    Shipment,
    StockBalance,
)
from inventory.selectors.stock import consumption_window
from reports.models import Alert, AlertKind, AlertStatus, DashboardSnapshot
from reports.selectors import dashboard
from tests.reports.test_indicators import dispense, ship
from tests.reports.test_report_stock_status import expected_row, status_scenario  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def board(status_scenario, make_user):  # noqa: F811
    """The stock status scenario plus today's dispensing, shipments on the road, a discrepancy
    and dropout-risk alerts."""
    s = status_scenario
    today = timezone.localdate()
    pill_lot = StockBalance.objects.get(location=s["c1"], product=s["pill"]).lot
    dispense(s["c1"], pill_lot, 5, today)  # CYP this month
    to_c2 = Shipment.objects.get(destination=s["c2"])
    Shipment.objects.filter(pk=to_c2.pk).update(expected_arrival=today - dt.timedelta(days=1))  # overdue
    ship(s["sigi"], s["c3"], s["pill"], 50, today, s["users"]["sigi"])
    Discrepancy.objects.create(
        shipment=to_c2, kind=DiscrepancyKind.OVERDUE, product=s["pill"], lot=pill_lot, quantity=20
    )
    for clinic, users, status in (
        ("c1", 7, "open"),
        ("c2", 3, "acknowledged"),
        ("c3", 5, "open"),
        ("c2", 9, "resolved"),
    ):
        Alert.objects.create(
            kind=AlertKind.DROPOUT_RISK,
            location=s[clinic],
            product=s["pill"] if status != "resolved" else s["inj"],
            quantity=users,
            status=status,
            acknowledged_at=timezone.now() if status == "acknowledged" else None,
            acknowledged_by=s["users"]["prov"] if status == "acknowledged" else None,
            resolved_at=timezone.now() if status == "resolved" else None,
        )
    s["users"]["palu_manager"] = make_user("kepala7271", s["palu"], role=Role.MANAGER)
    return s


def figures_of(client, user, **query):
    client.force_login(user)
    response = client.get(reverse("report-dashboard"), query)
    assert response.status_code == 200, response.content.decode()[:2000]
    return response, response.context["figures"]


def cyp_from_the_ledger(root, start, end) -> Decimal:
    """Units dispensed at the clinics under ``root`` dated start..end × each product's CYP factor."""
    total = Decimal(0)
    entries = (
        LedgerEntry.objects.filter(
            kind=MovementKind.DISPENSING,
            quantity__lt=0,
            location__level=Level.CLINIC,
            location__path__startswith=root.path,
            business_date__gte=start,
            business_date__lte=end,
        )
        .values_list("product__cyp_factor")
        .annotate(units=Sum("quantity"))
    )
    for factor, units in entries:
        total += -units * factor
    return total.quantize(Decimal("0.1"))


def stocked_out_amc(location, product) -> Decimal:
    """AMC of a clinic that ran out in the window and stayed out, by the OpenLMIS adjustment:
    ceil(C × 90 ÷ (90 − days out)) ÷ 3, days out from the day its balance reached zero."""
    start, end = consumption_window(timezone.localdate())
    entries = LedgerEntry.objects.filter(location=location, product=product).order_by("id")
    balance, out_from = 0, None
    for entry in entries:
        balance += entry.quantity
        out_from = entry.business_date if balance == 0 else None
    assert out_from is not None and start <= out_from < end
    consumed = -entries.filter(kind=MovementKind.DISPENSING, business_date__gte=start, business_date__lt=end).aggregate(
        q=Sum("quantity")
    )["q"]
    days_out = (end - out_from).days
    return (Decimal(math.ceil(Decimal(consumed * 90) / (90 - days_out))) / 3).quantize(Decimal("0.01"))


def test_figures_of_the_province_equal_the_ledger(client, board):
    s = board
    today = timezone.localdate()
    _response, figures = figures_of(client, s["users"]["prov"])
    assert not figures.from_snapshot
    products = {p.code: p for p in figures.products}
    assert list(products) == sorted(Product.objects.filter(is_active=True).values_list("code", flat=True))
    # Pill: c1 within plan, c2 below the emergency point, c3 out: 1 of 3 clinics out, 1 of 3 within.
    pill = products["PIL-KOMB"]
    assert (pill.clinics, pill.stocked_out, pill.within) == (3, 1, 1)
    assert pill.stockout_rate == pill.within_share == Decimal("33.3")
    inj = products["SUNTIK-3"]
    assert (inj.clinics, inj.stocked_out, inj.within, inj.stockout_rate, inj.within_share) == (
        1,
        0,
        1,
        Decimal(0),
        Decimal(100),
    )
    assert (products["KONDOM"].clinics, products["KONDOM"].stockout_rate) == (0, None)

    # MOS of the clinics: their pill stock ÷ the sum of their AMCs (c3's adjusted for its days out).
    amcs = expected_row(s["c1"], s["pill"])["amc"] + expected_row(s["c2"], s["pill"])["amc"]
    amcs += stocked_out_amc(s["c3"], s["pill"])
    stock = StockBalance.objects.filter(location__level=Level.CLINIC, product=s["pill"]).aggregate(q=Sum("quantity"))
    mos = {(m.level, m.product): m for m in figures.mos}
    assert mos[("clinic", "PIL-KOMB")].stock == stock["q"] == 115 + 10 + 0
    assert mos[("clinic", "PIL-KOMB")].amc == amcs
    assert mos[("clinic", "PIL-KOMB")].mos == (Decimal(stock["q"]) / amcs).quantize(Decimal("0.1"))
    # Districts hold stock and consume nothing (no issues in the window): no MOS.
    assert (mos[("district", "PIL-KOMB")].stock, mos[("district", "PIL-KOMB")].mos) == (980 + 450, None)

    # CYP: this month (today's 5 cycles) and this year, from the ledger.
    assert figures.cyp_month == cyp_from_the_ledger(s["prov"], today.replace(day=1), today)
    assert figures.cyp_month == (5 * s["pill"].cyp_factor).quantize(Decimal("0.1"))
    assert figures.cyp_year == cyp_from_the_ledger(s["prov"], today.replace(month=1, day=1), today) > 0

    assert (figures.in_transit, figures.overdue, figures.open_discrepancies) == (2, 1, 1)
    # Active dropout alerts only (the resolved one at c2 is not counted).
    assert (figures.dropout_users, figures.dropout_clinics) == (7 + 3 + 5, 3)


def test_each_scope_sees_its_own_figures(client, board):
    s = board
    _r, palu = figures_of(client, s["users"]["palu_manager"])
    pill = next(p for p in palu.products if p.code == "PIL-KOMB")
    assert (pill.clinics, pill.stocked_out, pill.within) == (2, 0, 1)
    mos = {(m.level, m.product): m for m in palu.mos}
    assert mos[("clinic", "PIL-KOMB")].mos == (Decimal(115 + 10) / (60 + 30)).quantize(Decimal("0.1"))
    assert ("province", "PIL-KOMB") not in mos  # the province is above Palu
    assert (palu.in_transit, palu.overdue, palu.open_discrepancies) == (1, 1, 1)
    assert (palu.dropout_users, palu.dropout_clinics) == (10, 2)
    today = timezone.localdate()
    assert palu.cyp_year == cyp_from_the_ledger(s["palu"], today.replace(month=1, day=1), today)

    _r, sigi = figures_of(client, s["users"]["sigi"])
    pill = next(p for p in sigi.products if p.code == "PIL-KOMB")
    assert (pill.clinics, pill.stocked_out, pill.stockout_rate) == (1, 1, Decimal(100))
    assert (sigi.in_transit, sigi.overdue, sigi.open_discrepancies) == (1, 0, 0)
    assert (sigi.dropout_users, sigi.dropout_clinics) == (5, 1)
    assert sigi.cyp_month == Decimal(0)

    # A manager narrows to a district inside the scope; another district's user cannot.
    _r, narrowed = figures_of(client, s["users"]["prov"], location="72.10")
    assert (narrowed.in_transit, narrowed.dropout_users) == (1, 5)
    client.force_login(s["users"]["sigi"])
    response = client.get(reverse("report-dashboard"), {"location": "72.71"})
    assert response.status_code == 400 and "Location 72.71 was not found." in response.content.decode()


def test_every_figure_links_to_the_page_behind_it(client, board):
    response, _figures = figures_of(client, board["users"]["prov"], location="72.71")
    html = response.content.decode()
    stock_status = reverse("report-stock-status")
    assert f"{stock_status}?status=stocked_out&amp;level=clinic&amp;product=PIL-KOMB&amp;location=72.71" in html
    assert f"{stock_status}?status=within&amp;level=clinic&amp;product=PIL-KOMB&amp;location=72.71" in html
    assert f"{stock_status}?level=clinic&amp;product=PIL-KOMB&amp;location=72.71" in html
    assert f"{reverse('shipment-list')}?status=dispatched" in html
    assert f"{reverse('discrepancy-list')}?location=72.71" in html
    assert f"{reverse('alert-list')}?kind=dropout_risk&amp;location=72.71" in html
    for optional in ("report-mobiya", "report-cyp"):  # the other reports' pages, when installed
        try:
            url = reverse(optional)
        except NoReverseMatch:
            continue
        assert f"{url}?location=72.71" in html
    # The linked stock status page lists exactly the clinics the figure counts.
    listed = client.get(stock_status, {"status": "within", "level": "clinic", "product": "PIL-KOMB"})
    assert [r["location"] for r in listed.context["page"].object_list] == ["72.71-001"]


def test_warehouse_staff_get_no_link_to_alerts_they_do_not_receive(client, board):
    response, figures = figures_of(client, board["users"]["palu"])
    assert figures.dropout_users == 10
    assert "kind=dropout_risk" not in response.content.decode()


def test_the_menu_links_to_the_reports(client, board):
    client.force_login(board["users"]["palu"])
    html = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("report-dashboard")}"' in html


def test_users_without_a_location_and_anonymous_users(client, make_user, db):
    client.force_login(make_user("nowhere", None))
    assert client.get(reverse("report-dashboard")).status_code == 403
    client.logout()
    assert client.get(reverse("report-dashboard")).status_code == 302


# --- large scopes: snapshots -----------------------------------------------------------------------


def add_dropout(board, users, product_code):
    Alert.objects.create(
        kind=AlertKind.DROPOUT_RISK,
        location=board["c1"],
        product=Product.objects.get(code=product_code),
        quantity=users,
        status=AlertStatus.OPEN,
    )


def test_a_large_scope_reads_its_snapshot_refreshed_in_the_background(client, board, monkeypatch):
    monkeypatch.setattr(dashboard, "LIVE_LIMIT", 3)  # the province (6 locations) is "large"; a district is not
    manager = board["users"]["prov"]
    response, first = figures_of(client, manager)
    assert not first.from_snapshot and first.dropout_users == 15
    snapshot = DashboardSnapshot.objects.get()
    assert snapshot.root == board["prov"]

    add_dropout(board, 4, "SUNTIK-3")
    response, second = figures_of(client, manager)
    assert second.from_snapshot and second.dropout_users == 15  # as computed, not yet refreshed
    assert second.products == first.products and second.mos == first.mos and second.cyp_year == first.cyp_year
    assert "Figures of this large area as of" in response.content.decode()
    _r, district = figures_of(client, board["users"]["palu_manager"])
    assert not district.from_snapshot and district.dropout_users == 14  # small: computed now

    assert dashboard.snapshot_refresh() == 1
    _r, third = figures_of(client, manager)
    assert third.from_snapshot and third.dropout_users == 19

    # A snapshot older than the limit (the refresh stopped) is recomputed while the user waits.
    add_dropout(board, 1, "KONDOM")
    DashboardSnapshot.objects.update(computed_at=timezone.now() - dashboard.SNAPSHOT_MAX_AGE - dt.timedelta(1))
    _r, fourth = figures_of(client, manager)
    assert not fourth.from_snapshot and fourth.dropout_users == 20
    assert DashboardSnapshot.objects.get().figures["dropout_users"] == 20

    # Nobody read it for a day: the background refresh leaves it alone.
    DashboardSnapshot.objects.update(read_at=timezone.now() - dt.timedelta(days=2))
    assert dashboard.snapshot_refresh() == 0


def test_the_whole_country_has_one_snapshot(board, monkeypatch):
    monkeypatch.setattr(dashboard, "LIVE_LIMIT", 3)
    first = dashboard.dashboard_for(None)
    again = dashboard.dashboard_for(None)
    assert DashboardSnapshot.objects.filter(root__isnull=True).count() == 1
    assert again.from_snapshot and again.dropout_users == first.dropout_users == 15
    # Concurrent first views store twice: the second updates the one row.
    dashboard._store(None, first, read_at=timezone.now())
    assert DashboardSnapshot.objects.count() == 1
    assert Location.objects.real().count() > dashboard.LIVE_LIMIT
