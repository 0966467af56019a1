"""Stock alerts: each kind built from a ledger state, opened, updated (not duplicated)
on recompute, resolved when the condition clears."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Product
from reports.models import Alert, AlertKind, AlertSettings, AlertStatus, Severity
from reports.services import stock_alerts
from reports.services.alerts import compute_alerts
from reports.services.stock_alerts import lots_at_risk
from tests.factories import LotFactory
from tests.reports.test_indicators import dispense, months, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def pill(db):
    return Product.objects.get(code="PIL-KOMB")


@pytest.fixture
def pill_lot(pill):
    return LotFactory(product=pill, batch="PK-ALR", expiry=timezone.localdate() + dt.timedelta(days=700))


def thirty_a_month(clinic, lot, opening):
    """``opening`` units before the window, 30 dispensed in each of its months: AMC 30."""
    m1, m2, m3 = months()
    stock(clinic, lot, opening, m1 - dt.timedelta(days=3))
    for first in (m1, m2, m3):
        dispense(clinic, lot, 30, first + dt.timedelta(days=1))


def compute():
    return compute_alerts(notify=False)


def stock_alerts_of(location, product, *statuses):
    qs = Alert.objects.filter(location=location, product=product, kind__in=stock_alerts.KINDS)
    return list(qs.filter(status__in=statuses) if statuses else qs)


def test_stockout_opened_updated_then_resolved(tree, pill, pill_lot):
    clinic = tree["c1"]
    m1, m2, _m3 = months()
    stock(clinic, pill_lot, 60, m1 - dt.timedelta(days=3))
    dispense(clinic, pill_lot, 60, m2 + dt.timedelta(days=4))

    first = compute()
    (alert,) = stock_alerts_of(clinic, pill)
    assert (alert.kind, alert.status, alert.severity) == (AlertKind.STOCKOUT, AlertStatus.OPEN, Severity.CRITICAL)
    assert alert.pk in first.opened
    figures = alert.figures
    assert figures["soh"] == 0
    assert set(figures) == {
        "soh",
        "amc",
        "mos",
        "in_transit",
        "min_months",
        "max_months",
        "emergency_months",
        "suggested_order",
    }
    assert alert.quantity == figures["suggested_order"] > 0

    again = compute()
    assert alert.pk in again.updated and alert.pk not in again.opened
    assert len(stock_alerts_of(clinic, pill)) == 1

    stock(clinic, pill_lot, 40, timezone.localdate())  # back in stock
    cleared = compute()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_at is not None
    assert alert.pk in cleared.resolved
    # Never two active stock-status alerts for one (location, product).
    active = stock_alerts_of(clinic, pill, AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
    assert all(a.kind != AlertKind.STOCKOUT for a in active)
    assert len([a for a in active if a.kind != AlertKind.EXPIRY_RISK]) <= 1


def test_emergency_then_resolved_by_a_receipt(tree, pill, pill_lot):
    clinic = tree["c1"]
    thirty_a_month(clinic, pill_lot, 100)  # soh 10, MOS 0.33 < 0.5

    compute()
    (alert,) = stock_alerts_of(clinic, pill)
    assert (alert.kind, alert.severity) == (AlertKind.EMERGENCY, Severity.CRITICAL)
    assert alert.quantity == 80  # ceil(3 × 30 − 10)
    assert alert.figures["mos"] == "0.33" and alert.figures["amc"] == "30.00"

    assert alert.pk in compute().updated
    assert len(stock_alerts_of(clinic, pill)) == 1

    stock(clinic, pill_lot, 40, timezone.localdate())  # soh 50, MOS 1.67: within plan
    assert alert.pk in compute().resolved
    assert stock_alerts_of(clinic, pill, AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED) == []


def test_low_stock_acknowledged_stays_acknowledged_when_updated(tree, pill, pill_lot, make_user):
    clinic = tree["c1"]
    thirty_a_month(clinic, pill_lot, 110)  # soh 20, MOS 0.67

    compute()
    (alert,) = stock_alerts_of(clinic, pill)
    assert (alert.kind, alert.severity, alert.quantity) == (AlertKind.LOW_STOCK, Severity.WARNING, 70)
    assert alert.figures["suggested_order"] == 70

    manager = make_user("kabid", tree["prov"], role="manager")
    Alert.objects.filter(pk=alert.pk).update(
        status=AlertStatus.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=manager
    )
    dispense(clinic, pill_lot, 4, timezone.localdate())  # soh 16, MOS 0.53: still below min
    assert alert.pk in compute().updated
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert alert.quantity == 74 and alert.figures["soh"] == 16

    stock(clinic, pill_lot, 50, timezone.localdate())  # soh 66, MOS 2.2
    assert alert.pk in compute().resolved
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED


def test_overstock_quantity_is_units_above_max(tree, pill, pill_lot):
    clinic = tree["c1"]
    thirty_a_month(clinic, pill_lot, 390)  # soh 300, MOS 10 > 3

    compute()
    (alert,) = stock_alerts_of(clinic, pill)
    assert (alert.kind, alert.severity) == (AlertKind.OVERSTOCK, Severity.INFO)
    assert alert.quantity == 300 - 90
    assert alert.pk in compute().updated

    # Dispensed today (the current month is not in the window: AMC stays 30): soh 60.
    dispense(clinic, pill_lot, 240, timezone.localdate())
    assert alert.pk in compute().resolved


def test_status_kinds_move_from_one_to_another(tree, pill, pill_lot):
    """Low stock becoming an emergency resolves the one and opens the other."""
    clinic = tree["c1"]
    thirty_a_month(clinic, pill_lot, 110)  # soh 20: below min
    compute()
    (low,) = stock_alerts_of(clinic, pill)
    dispense(clinic, pill_lot, 10, timezone.localdate())  # soh 10: emergency
    result = compute()
    low.refresh_from_db()
    assert low.status == AlertStatus.RESOLVED and low.pk in result.resolved
    (emergency,) = stock_alerts_of(clinic, pill, AlertStatus.OPEN)
    assert emergency.kind == AlertKind.EMERGENCY and emergency.pk in result.opened


def test_expiry_risk_fefo_opened_updated_resolved(tree, pill, pill_lot):
    clinic = tree["c1"]
    today = timezone.localdate()
    thirty_a_month(clinic, pill_lot, 90 + 1000)  # AMC 30 (its own lot expires in 700 days)
    soon = LotFactory(product=pill, batch="PK-60", expiry=today + dt.timedelta(days=60))
    later = LotFactory(product=pill, batch="PK-120", expiry=today + dt.timedelta(days=120))
    beyond = LotFactory(product=pill, batch="PK-400", expiry=today + dt.timedelta(days=400))
    stock(clinic, soon, 100, today)
    stock(clinic, later, 50, today)
    stock(clinic, beyond, 500, today)

    compute()
    (alert,) = Alert.objects.filter(location=clinic, product=pill, kind=AlertKind.EXPIRY_RISK)
    # PK-60: usable 30 × 60/30 = 60 → 40 at risk. PK-120: usable 30 × 120/30 − 100 = 20 → 30 at risk.
    assert alert.severity == Severity.WARNING
    assert alert.quantity == 70
    assert alert.figures["lots"] == [
        {"batch": "PK-60", "expiry": soon.expiry.isoformat(), "quantity": 100, "at_risk": 40},
        {"batch": "PK-120", "expiry": later.expiry.isoformat(), "quantity": 50, "at_risk": 30},
    ]
    assert alert.figures["amc"] == "30.00" and alert.figures["horizon_days"] == 180

    assert alert.pk in compute().updated
    assert Alert.objects.filter(location=clinic, kind=AlertKind.EXPIRY_RISK).count() == 1

    # A shorter horizon leaves PK-120 out.
    AlertSettings.objects.filter(pk=1).update(expiry_horizon_days=90)
    compute()
    alert.refresh_from_db()
    assert alert.quantity == 40 and [lot["batch"] for lot in alert.figures["lots"]] == ["PK-60"]

    dispense(clinic, soon, 40, today)  # 60 left of PK-60: all usable in time
    assert alert.pk in compute().resolved


def test_lots_at_risk_fefo():
    today = dt.date(2026, 1, 1)
    lots = [
        ("A", today + dt.timedelta(days=30), 10),
        ("B", today + dt.timedelta(days=45), 40),
        ("C", today + dt.timedelta(days=90), 5),
    ]
    # AMC 20: A usable 20 → 0 at risk; B usable 30 − 10 = 20 → 20; C usable 60 − 50 = 10 → 0.
    assert [lot["at_risk"] for lot in lots_at_risk(lots, Decimal(20), today)] == [0, 20, 0]
    # No AMC: nothing is used before it expires.
    assert [lot["at_risk"] for lot in lots_at_risk(lots, None, today)] == [10, 40, 5]


def test_candidates_stay_inside_the_locations_asked_for(tree, pill, pill_lot):
    thirty_a_month(tree["c1"], pill_lot, 100)  # emergency at c1
    thirty_a_month(tree["c2"], pill_lot, 100)  # and at c2
    found = stock_alerts.candidates([tree["c2"].pk], timezone.localdate(), AlertSettings.current())
    assert {(c.kind, c.location_id) for c in found} == {(AlertKind.EMERGENCY, tree["c2"].pk)}

    result = compute_alerts([tree["c2"].pk], notify=False)
    assert Alert.objects.filter(pk__in=result.opened).get().location == tree["c2"]
    assert not Alert.objects.filter(location=tree["c1"]).exists()
    # A scoped run resolves nothing outside its scope.
    compute()
    dispense(tree["c1"], pill_lot, 10, timezone.localdate())  # c1 out of stock: emergency → stockout
    compute_alerts([tree["c2"].pk], notify=False)
    assert Alert.objects.get(location=tree["c1"], kind=AlertKind.EMERGENCY).status == AlertStatus.OPEN
