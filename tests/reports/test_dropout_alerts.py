"""Dropout-risk alerts (MOBIYA) built from a ledger state and service figures: the stock-gap
rule with the next resupply from a shipment in transit or the default interval, the
falling-dispensing rule with its thresholds from AlertSettings, users at risk worked out
by hand, and the alert's life: opened once, updated on recompute, resolved when stock
arrives or dispensing recovers."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import ServiceFigure, Shipment
from inventory.services.dispensing import DispensingLineSpec, dispensing_record
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.receipts import ReceiptLineSpec, receipt_record
from inventory.services.service_figures import add_months
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from reports.models import Alert, AlertKind, AlertSettings, AlertStatus, Severity
from reports.services import dropout_alerts
from reports.services.alert_sync import sync_alerts
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
THIS_MONTH = TODAY.replace(day=1)
M1, M2, M3 = (add_months(THIS_MONTH, -n) for n in (1, 2, 3))  # the last three complete months


def recompute(location_ids=None):
    """What compute_alerts does for this module: candidates, then sync."""
    found = dropout_alerts.candidates(location_ids, TODAY, AlertSettings.current())
    return sync_alerts(dropout_alerts.KINDS, found, location_ids=location_ids)


def active_alerts():
    return Alert.objects.filter(kind=AlertKind.DROPOUT_RISK).exclude(status=AlertStatus.RESOLVED)


def by_key(candidates):
    return {(c.location_id, c.product_id): c for c in candidates}


@pytest.fixture
def world(tree, products, make_user):
    """Each clinic with stock, dispensing and service figures of one method:

    - c1, PIL-KOMB (revisit 28 days): 200 opened, 60 dispensed in each of the last 3 months →
      20 on hand, AMC 60 (2 a day, 10 days of stock); 56 active users (need 60 a month);
    - c2, KONDOM (revisit 30): 10 opened, nothing dispensed; 30 active users in the last
      2 months (need 30 a month, 1 a day: 10 days of stock);
    - c3, SUNTIK-1 (revisit 30): 1000 opened; 50 then 60 dispensed in the last 2 months;
      90 active users in each (need 90: 70% of it is 63).
    """
    users = {name: make_user(f"staff-{name}", tree[name]) for name in ("c1", "c2", "c3", "palu")}
    lots = {
        code: LotFactory(product=products[code], batch=f"{code}-L1", expiry=TODAY + dt.timedelta(days=700))
        for code in ("PIL-KOMB", "KONDOM", "SUNTIK-1", "IUD", "PIL-PROG")
    }
    opened = add_months(THIS_MONTH, -4)
    opening_balance_post(location=tree["c1"], lines=[(lots["PIL-KOMB"], 200)], business_date=opened)
    opening_balance_post(location=tree["c2"], lines=[(lots["KONDOM"], 10)], business_date=opened)
    opening_balance_post(location=tree["c3"], lines=[(lots["SUNTIK-1"], 1000)], business_date=opened)
    opening_balance_post(
        location=tree["palu"], lines=[(lots["PIL-KOMB"], 500), (lots["KONDOM"], 500)], business_date=opened
    )

    def dispense(clinic, code, month, quantity):
        dispensing_record(
            location=tree[clinic],
            date=month,
            period="month",
            lines=[DispensingLineSpec(products[code], quantity)],
            actor=users[clinic],
        )

    def figure(clinic, code, month, active):
        ServiceFigure.objects.update_or_create(
            location=tree[clinic],
            month=month,
            product=products[code],
            is_current=True,
            defaults={"active_users": active, "new_users": 0, "recorded_by": users[clinic]},
        )

    for month in (M3, M2, M1):
        dispense("c1", "PIL-KOMB", month, 60)
    dispense("c3", "SUNTIK-1", M2, 50)
    dispense("c3", "SUNTIK-1", M1, 60)
    for month in (M2, M1):
        figure("c1", "PIL-KOMB", month, 56)
        figure("c2", "KONDOM", month, 30)
        figure("c3", "SUNTIK-1", month, 90)
    return {**tree, "users": users, "lots": lots, "dispense": dispense, "figure": figure, "p": products}


def ship_to(world, clinic, code, quantity, arrives):
    """A shipment palu → clinic, dispatched, due on ``arrives``."""
    sender = world["users"]["palu"]
    product = world["p"][code]
    shipment = shipment_create(
        origin=world["palu"], destination=world[clinic], lines=[LineSpec(product, quantity)], actor=sender
    )
    shipment_dispatch(shipment=shipment, actor=sender)
    Shipment.objects.filter(pk=shipment.pk).update(expected_arrival=arrives)
    shipment.refresh_from_db()
    return shipment


def test_stock_gap_with_the_default_resupply_interval(world):
    found = by_key(dropout_alerts.candidates(None, TODAY, AlertSettings.current()))
    gap = found[world["c1"].pk, world["p"]["PIL-KOMB"].pk]
    # 20 on hand at 2 a day: 10 days; the next resupply is 30 days out (no shipment on its way);
    # the 20 days without stock reach 56 × 20 / 28 = 40 users.
    assert gap.severity == Severity.CRITICAL and gap.quantity == 40
    assert gap.figures == {
        "rule": "stock_gap",
        "active_users": 56,
        "users_at_risk": 40,
        "soh": 20,
        "amc": 60.0,
        "daily_need": 2.0,
        "stock_days": 10.0,
        "resupply_days": 30,
        "next_resupply": None,
    }
    # c3 dispenses too little but has years of stock: that is the other rule, not this one.
    assert found[world["c3"].pk, world["p"]["SUNTIK-1"].pk].figures["rule"] == "falling_dispensing"


def test_users_at_risk_never_exceed_the_active_users(world):
    settings_row = AlertSettings.current()
    settings_row.resupply_days = 60
    settings_row.save()
    gap = by_key(dropout_alerts.candidates(None, TODAY, AlertSettings.current()))[
        world["c1"].pk, world["p"]["PIL-KOMB"].pk
    ]
    # 50 days without stock: 56 × 50 / 28 = 100, but only 56 users can stop.
    assert gap.figures["resupply_days"] == 60 and gap.quantity == 56 and gap.figures["users_at_risk"] == 56


def test_next_resupply_is_the_shipment_in_transit(world):
    c1, pill = world["c1"], world["p"]["PIL-KOMB"]
    # A shipment of another product on its way changes nothing for the pills.
    ship_to(world, "c1", "KONDOM", 50, TODAY + dt.timedelta(days=2))
    shipment = ship_to(world, "c1", "PIL-KOMB", 100, TODAY + dt.timedelta(days=14))
    gap = by_key(dropout_alerts.candidates(None, TODAY, AlertSettings.current()))[c1.pk, pill.pk]
    # 10 days of stock, resupply in 14: 56 × 4 / 28 = 8 users.
    assert gap.quantity == 8
    assert gap.figures["resupply_days"] == 14
    assert gap.figures["next_resupply"] == (TODAY + dt.timedelta(days=14)).isoformat()

    # Due in 8 days: the 10 days of stock last until it comes.
    Shipment.objects.filter(pk=shipment.pk).update(expected_arrival=TODAY + dt.timedelta(days=8))
    assert (c1.pk, pill.pk) not in by_key(dropout_alerts.candidates(None, TODAY, AlertSettings.current()))

    # Already late: counted as arriving tomorrow, still no gap for 10 days of stock.
    Shipment.objects.filter(pk=shipment.pk).update(expected_arrival=TODAY - dt.timedelta(days=3))
    assert (c1.pk, pill.pk) not in by_key(dropout_alerts.candidates(None, TODAY, AlertSettings.current()))


def test_need_from_active_users_without_dispensing_and_stock_gap_wins_over_falling(world):
    gap = by_key(dropout_alerts.candidates(None, TODAY, AlertSettings.current()))[
        world["c2"].pk, world["p"]["KONDOM"].pk
    ]
    # No dispensing: need = 30 users × 30 / 30 = 30 a month, 1 a day: 10 days of stock, 20
    # days without: 30 × 20 / 30 = 20 users. Nothing was dispensed against a need of 30 in
    # either month: the falling rule holds too, and the stock gap speaks for both.
    assert gap.severity == Severity.CRITICAL and gap.quantity == 20
    assert gap.figures["rule"] == "stock_gap" and gap.figures["also_falling"] is True
    assert gap.figures["amc"] == 0.0 and gap.figures["daily_need"] == 1.0 and gap.figures["stock_days"] == 10.0
    assert gap.figures["months"] == [
        {"month": f"{M2:%Y-%m}", "active_users": 30, "dispensed": 0, "need": 30.0},
        {"month": f"{M1:%Y-%m}", "active_users": 30, "dispensed": 0, "need": 30.0},
    ]


def test_falling_dispensing(world):
    fall = by_key(dropout_alerts.candidates(None, TODAY, AlertSettings.current()))[
        world["c3"].pk, world["p"]["SUNTIK-1"].pk
    ]
    # 90 users need 90 vials a month; 50 and 60 are below 70% (63). Last month: 60 of 90,
    # so 90 × (1 − 60/90) = 30 users did not come back.
    assert fall.severity == Severity.WARNING and fall.quantity == 30
    assert fall.figures == {
        "rule": "falling_dispensing",
        "active_users": 90,
        "users_at_risk": 30,
        "share": 0.7,
        "months": [
            {"month": f"{M2:%Y-%m}", "active_users": 90, "dispensed": 50, "need": 90.0},
            {"month": f"{M1:%Y-%m}", "active_users": 90, "dispensed": 60, "need": 90.0},
        ],
    }


def test_falling_dispensing_thresholds_come_from_the_settings(world):
    key = (world["c3"].pk, world["p"]["SUNTIK-1"].pk)
    settings_row = AlertSettings.current()
    settings_row.dropout_share = Decimal("0.60")  # 54: last month's 60 is enough
    settings_row.save()
    assert key not in by_key(dropout_alerts.candidates(None, TODAY, AlertSettings.current()))

    settings_row.dropout_share = Decimal("0.70")
    settings_row.dropout_months = 3  # three months back there is no service figure: not shown to fall
    settings_row.save()
    assert key not in by_key(dropout_alerts.candidates(None, TODAY, AlertSettings.current()))

    world["figure"]("c3", "SUNTIK-1", M3, 90)  # and nothing was dispensed that month
    fall = by_key(dropout_alerts.candidates(None, TODAY, AlertSettings.current()))[key]
    assert [m["dispensed"] for m in fall.figures["months"]] == [0, 50, 60]


def test_long_acting_methods_and_clinics_without_active_users_never_alert(world):
    # IUD at c1: users and no stock at all, but a long-acting method.
    world["figure"]("c1", "IUD", M1, 50)
    # PIL-PROG at c2: no stock, no dispensing, but no active users either.
    world["figure"]("c2", "PIL-PROG", M2, 0)
    world["figure"]("c2", "PIL-PROG", M1, 0)
    # SUNTIK-3 at c1: users four months ago only: too old to count.
    world["figure"]("c1", "SUNTIK-3", add_months(THIS_MONTH, -4), 40)
    found = by_key(dropout_alerts.candidates(None, TODAY, AlertSettings.current()))
    assert set(found) == {
        (world["c1"].pk, world["p"]["PIL-KOMB"].pk),
        (world["c2"].pk, world["p"]["KONDOM"].pk),
        (world["c3"].pk, world["p"]["SUNTIK-1"].pk),
    }
    # The latest month says the clinic lost its users: no stock gap for them.
    world["figure"]("c1", "PIL-KOMB", M1, 0)
    world["figure"]("c1", "PIL-KOMB", THIS_MONTH, 0)
    found = by_key(dropout_alerts.candidates(None, TODAY, AlertSettings.current()))
    assert (world["c1"].pk, world["p"]["PIL-KOMB"].pk) not in found


def test_scoped_to_the_locations_asked_for(world):
    found = dropout_alerts.candidates([world["c2"].pk, world["palu"].pk], TODAY, AlertSettings.current())
    assert [(c.location_id, c.product_id) for c in found] == [(world["c2"].pk, world["p"]["KONDOM"].pk)]
    assert dropout_alerts.candidates([], TODAY, AlertSettings.current()) == []


def test_opened_once_updated_on_recompute_resolved_when_stock_arrives(world):
    c1, pill = world["c1"], world["p"]["PIL-KOMB"]
    first = recompute()
    assert len(first.opened) == 3 and not first.updated and not first.resolved
    alert = Alert.objects.get(kind=AlertKind.DROPOUT_RISK, location=c1, product=pill)
    assert alert.status == AlertStatus.OPEN and alert.quantity == 40 and alert.severity == Severity.CRITICAL

    shipment = ship_to(world, "c1", "PIL-KOMB", 200, TODAY + dt.timedelta(days=14))
    second = recompute()
    assert not second.opened and alert.pk in second.updated and not second.resolved
    alert.refresh_from_db()
    assert alert.quantity == 8 and alert.figures["resupply_days"] == 14
    assert active_alerts().count() == 3

    receipt_record(
        shipment=shipment,
        lines=[ReceiptLineSpec(pill, shipment.lines.get().lot, 200)],
        client_uuid=uuid.uuid4(),
        actor=world["users"]["c1"],
    )
    assert ledger_check().ok
    third = recompute([c1.pk])  # the debounced run after the receipt touched c1
    assert third.resolved == [alert.pk] and not third.opened
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_at is not None
    assert active_alerts().count() == 2  # the other clinics, outside that run's scope, untouched


def test_resolved_when_dispensing_recovers(world):
    c3, vial = world["c3"], world["p"]["SUNTIK-1"]
    recompute()
    alert = Alert.objects.get(kind=AlertKind.DROPOUT_RISK, location=c3, product=vial)
    assert alert.figures["rule"] == "falling_dispensing"
    world["dispense"]("c3", "SUNTIK-1", M1, 10)  # last month's total is 70 now, above 63
    result = recompute()
    assert alert.pk in result.resolved
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert not recompute().opened
