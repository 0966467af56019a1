"""Stock indicators (reports.selectors.indicators) against figures computed by hand
from postings made through the services: AMC with and without stockout days, issues
to the subtree, MOS, in transit, status classes and the suggested order."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from inventory.models import LedgerEntry, MovementKind, Product, StockPolicy, VirtualRole
from inventory.selectors.stock import consumption_window
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.posting import movement_post, transfer, virtual_location
from inventory.services.receipts import ReceiptLineSpec, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from reports.selectors.indicators import (
    INDICATORS_SQL,
    StockStatus,
    indicator_params,
    indicators_for,
    stock_indicators,
    window_first_entry_id,
)
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


# --- helpers shared with test_stock_alerts.py -------------------------------------------


def window():
    """(start, end, today) of the consumption window: the last 3 complete months."""
    today = timezone.localdate()
    start, end = consumption_window(today)
    return start, end, today


def months():
    """The first day of each of the window's three months."""
    start, end, _today = window()
    second = (start + dt.timedelta(days=32)).replace(day=1)
    third = (second + dt.timedelta(days=32)).replace(day=1)
    return start, second, third


def stock(location, lot, quantity, day):
    opening_balance_post(location=location, lines=[(lot, quantity)], business_date=day, document=f"SA-{uuid.uuid4()}")


def dispense(location, lot, quantity, day):
    movement_post(
        kind=MovementKind.DISPENSING,
        entries=transfer(
            source=location, destination=virtual_location(VirtualRole.DISPENSED), lot=lot, quantity=quantity
        ),
        business_date=day,
        document=f"D-{uuid.uuid4()}",
    )


def ship(origin, destination, product, quantity, day, actor):
    shipment = shipment_create(
        origin=origin, destination=destination, lines=[LineSpec(product=product, quantity=quantity)], actor=actor
    )
    shipment_dispatch(shipment=shipment, actor=actor, business_date=day)
    shipment.refresh_from_db()
    return shipment


def receive(shipment, lot, quantity, day, actor):
    receipt_record(
        shipment=shipment,
        lines=[ReceiptLineSpec(product=lot.product, lot=lot, received=quantity)],
        client_uuid=uuid.uuid4(),
        actor=actor,
        business_date=day,
    )


def row_of(location, product, rows=None):
    rows = rows if rows is not None else stock_indicators([location.pk])
    (row,) = [r for r in rows if r.location_id == location.pk and r.product_id == product.pk]
    return row


@pytest.fixture
def pill(db):
    return Product.objects.get(code="PIL-KOMB")


@pytest.fixture
def pill_lot(pill):
    return LotFactory(product=pill, batch="PK-IND", expiry=timezone.localdate() + dt.timedelta(days=700))


# --- AMC ---------------------------------------------------------------------------------


def test_amc_mos_and_suggested_order_without_stockout(tree, pill, pill_lot):
    m1, m2, m3 = months()
    clinic = tree["c1"]
    stock(clinic, pill_lot, 300, m1 - dt.timedelta(days=5))
    dispense(clinic, pill_lot, 30, m1 + dt.timedelta(days=4))
    dispense(clinic, pill_lot, 60, m2 + dt.timedelta(days=4))
    dispense(clinic, pill_lot, 90, m3 + dt.timedelta(days=4))

    row = row_of(clinic, pill)
    # C = 30 + 60 + 90 = 180, no stockout: AMC = 180 / 3 = 60; soh = 120; MOS = 2.
    assert (row.consumption, row.stockout_days, row.adjusted_consumption) == (180, 0, 180)
    assert row.amc == Decimal("60.00")
    assert row.soh == 120
    assert row.mos == Decimal("2.00")
    # Clinic policy (reference data): min 1, max 3, emergency 0.5 → within plan.
    assert (row.min_months, row.max_months, row.emergency_months) == (Decimal(1), Decimal(3), Decimal("0.5"))
    assert row.status == StockStatus.WITHIN
    # Suggested order = ceil(3 × 60 − 120 − 0) = 60.
    assert row.suggested_order == 60
    assert ledger_check().ok


def test_dispensing_before_the_window_and_in_the_current_month_is_not_consumption(tree, pill, pill_lot):
    start, end, today = window()
    clinic = tree["c1"]
    stock(clinic, pill_lot, 300, start - dt.timedelta(days=40))
    dispense(clinic, pill_lot, 50, start - dt.timedelta(days=1))
    dispense(clinic, pill_lot, 30, start)
    dispense(clinic, pill_lot, 30, end - dt.timedelta(days=1))
    dispense(clinic, pill_lot, 70, today)  # the current month: not complete

    row = row_of(clinic, pill)
    assert row.consumption == 60
    assert row.amc == Decimal("20.00")
    assert row.soh == 300 - 50 - 30 - 30 - 70


def test_amc_adjusted_for_stockout_days(tree, pill, pill_lot):
    start, end, _today = window()
    clinic = tree["c1"]
    stock(clinic, pill_lot, 100, start - dt.timedelta(days=5))
    out_from = start + dt.timedelta(days=9)
    dispense(clinic, pill_lot, 100, out_from)  # closes the day at 0
    stock(clinic, pill_lot, 200, out_from + dt.timedelta(days=30))  # back in stock 30 days later
    dispense(clinic, pill_lot, 50, start + dt.timedelta(days=60))

    row = row_of(clinic, pill)
    # Out of stock from the close of day start+9 until day start+39: 30 days.
    assert row.stockout_days == 30
    # C = 150; adjusted = ceil(150 × 90 / (90 − 30)) = 225; AMC = 75.
    assert row.consumption == 150
    assert row.adjusted_consumption == math.ceil(Decimal(150 * 90) / 60) == 225
    assert row.amc == Decimal("75.00")
    assert row.soh == 150
    assert row.mos == Decimal("2.00")


def test_stockout_days_start_at_the_first_entry_of_a_location_that_never_held_the_product(tree, pill, pill_lot):
    start, end, _today = window()
    clinic = tree["c2"]
    stock(clinic, pill_lot, 50, start + dt.timedelta(days=20))
    out_from = start + dt.timedelta(days=30)
    dispense(clinic, pill_lot, 50, out_from)

    row = row_of(clinic, pill)
    # Days before its first stock (start .. start+19) are not stockout days.
    days_out = (end - out_from).days
    assert row.stockout_days == days_out
    adjusted = math.ceil(Decimal(50 * 90) / (90 - days_out))
    assert row.adjusted_consumption == adjusted
    assert row.amc == (Decimal(adjusted) / 3).quantize(Decimal("0.01"))
    assert row.status == StockStatus.STOCKED_OUT
    # Suggested order = ceil(3 × AMC − 0 − 0).
    assert row.suggested_order == math.ceil(3 * row.amc)


def test_out_of_stock_the_whole_window_has_no_amc_but_is_stocked_out(tree, pill, pill_lot):
    start, end, _today = window()
    clinic = tree["c3"]
    stock(clinic, pill_lot, 10, start - dt.timedelta(days=20))
    dispense(clinic, pill_lot, 10, start - dt.timedelta(days=10))

    row = row_of(clinic, pill)
    assert row.stockout_days == (end - start).days
    assert row.consumption == 0
    assert row.amc is None and row.mos is None and row.suggested_order is None
    assert row.status == StockStatus.STOCKED_OUT


def test_a_location_that_never_held_a_product_is_not_stocked_out(tree, pill, pill_lot):
    row = row_of(tree["c3"], pill)
    assert (row.soh, row.stockout_days, row.consumption) == (0, 0, 0)
    assert row.status == StockStatus.NOT_STOCKED
    assert row.suggested_order == 0  # AMC 0: nothing to order


def test_window_first_entry_id_skips_entries_recorded_before_the_window(tree, pill, pill_lot):
    start, _end, _today = window()
    clinic = tree["c1"]
    assert window_first_entry_id(start) == 0  # an empty ledger
    long_ago = timezone.now() - dt.timedelta(days=200)
    with mock.patch("django.utils.timezone.now", return_value=long_ago):
        stock(clinic, pill_lot, 100, timezone.localdate())
    old_ids = set(LedgerEntry.objects.values_list("id", flat=True))
    dispense(clinic, pill_lot, 10, start + dt.timedelta(days=3))
    first = window_first_entry_id(start)
    assert first > max(old_ids)
    # Only the window is read, yet the opening balance is known from the balance rows.
    row = row_of(clinic, pill)
    assert (row.soh, row.consumption, row.stockout_days) == (90, 10, 0)


# --- warehouses: issues to the subtree -----------------------------------------------------


def test_warehouse_consumption_is_issues_to_its_subtree_not_returns_or_transfers_to_siblings(
    tree, pill, pill_lot, make_user
):
    start, _end, _today = window()
    palu, c1, c2 = tree["palu"], tree["c1"], tree["c2"]
    palu_staff = make_user("gudang-palu", palu)
    c1_staff = make_user("gudang-c1", c1)
    stock(palu, pill_lot, 500, start - dt.timedelta(days=5))
    day = start + dt.timedelta(days=10)
    to_c1 = ship(palu, c1, pill, 100, day, palu_staff)
    receive(to_c1, pill_lot, 100, day, c1_staff)
    ship(palu, c2, pill, 40, day, palu_staff)  # still in transit to c2
    ship(palu, tree["sigi"], pill, 50, day, palu_staff)  # a sibling
    ship(palu, tree["prov"], pill, 30, day, palu_staff)  # back up to the parent
    ship(c1, palu, pill, 20, day + dt.timedelta(days=1), c1_staff)  # a return from the clinic

    rows = stock_indicators([palu.pk, c1.pk, c2.pk])
    district = row_of(palu, pill, rows)
    # Issues to the subtree: 100 (c1) + 40 (c2, dispatched); not the 50 to Sigi nor the 30 up.
    assert district.consumption == 140
    assert district.amc == Decimal("46.67")
    assert district.soh == 500 - 100 - 40 - 50 - 30
    assert district.in_transit == 20  # c1's return is on its way to Palu
    # District policy: min 2, max 4, emergency 1; MOS = 280 / 46.67 = 6.00 → above max.
    assert district.mos == (Decimal(280) / Decimal("46.67")).quantize(Decimal("0.01"))
    assert district.status == StockStatus.ABOVE_MAX
    assert district.suggested_order == 0

    clinic = row_of(c1, pill, rows)
    assert clinic.consumption == 0  # its return to Palu is not consumption
    assert clinic.soh == 80

    # In transit to c2 (dispatched, not received) beside its stock on hand.
    waiting = row_of(c2, pill, rows)
    assert (waiting.soh, waiting.in_transit) == (0, 40)
    assert ledger_check().ok


def test_suggested_order_subtracts_stock_in_transit(tree, pill, pill_lot, make_user):
    m1, m2, m3 = months()
    palu, c1 = tree["palu"], tree["c1"]
    palu_staff = make_user("gudang-palu", palu)
    stock(c1, pill_lot, 100, m1 - dt.timedelta(days=3))
    for first in (m1, m2, m3):
        dispense(c1, pill_lot, 30, first + dt.timedelta(days=2))
    stock(palu, pill_lot, 100, m1 - dt.timedelta(days=3))
    ship(palu, c1, pill, 25, timezone.localdate(), palu_staff)

    row = row_of(c1, pill)
    # AMC 30, soh 10 → MOS 0.33 (below the emergency order point 0.5); in transit 25.
    assert (row.amc, row.soh, row.in_transit) == (Decimal("30.00"), 10, 25)
    assert row.status == StockStatus.EMERGENCY
    # ceil(3 × 30 − 10 − 25) = 55
    assert row.suggested_order == 55


# --- status classes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("soh", "status"),
    [
        (0, StockStatus.STOCKED_OUT),
        (10, StockStatus.EMERGENCY),  # MOS 0.33 < 0.5
        (20, StockStatus.BELOW_MIN),  # 0.67 < 1
        (30, StockStatus.WITHIN),  # 1.00: at the minimum is within
        (90, StockStatus.WITHIN),  # 3.00: at the maximum is within
        (100, StockStatus.ABOVE_MAX),  # 3.33 > 3
    ],
)
def test_status_class_by_months_of_stock(tree, pill, pill_lot, soh, status):
    m1, m2, m3 = months()
    clinic = tree["c1"]
    stock(clinic, pill_lot, 90 + soh, m1 - dt.timedelta(days=3))
    # 30 a month, the last on the window's last day, so no stockout day.
    dispense(clinic, pill_lot, 30, m1 + dt.timedelta(days=1))
    dispense(clinic, pill_lot, 30, m2 + dt.timedelta(days=1))
    dispense(clinic, pill_lot, 30, window()[1] - dt.timedelta(days=1))
    row = row_of(clinic, pill)
    assert row.soh == soh
    assert row.status == status
    if soh:
        assert row.amc == Decimal("30.00")
        assert row.suggested_order == max(0, 90 - soh)
    else:
        # Out from the close of the window's last day: 1 stockout day, ceil(90 × 90 / 89) = 92.
        assert (row.stockout_days, row.adjusted_consumption, row.amc) == (1, 92, Decimal("30.67"))
        assert row.suggested_order == math.ceil(3 * Decimal("30.67")) == 93


def test_no_consumption_with_stock_is_unknown(tree, pill, pill_lot):
    stock(tree["c1"], pill_lot, 40, window()[0] - dt.timedelta(days=3))
    row = row_of(tree["c1"], pill)
    assert (row.amc, row.mos, row.status) == (Decimal("0.00"), None, StockStatus.UNKNOWN)


def test_a_location_policy_overrides_its_level(tree, pill, pill_lot):
    m1, m2, m3 = months()
    clinic = tree["c1"]
    stock(clinic, pill_lot, 135, m1 - dt.timedelta(days=3))
    for first in (m1, m2, m3):
        dispense(clinic, pill_lot, 30, first + dt.timedelta(days=1))
    assert row_of(clinic, pill).status == StockStatus.WITHIN  # MOS 1.5, level policy min 1
    StockPolicy.objects.create(
        location=clinic, min_months=Decimal(2), max_months=Decimal(4), emergency_months=Decimal(1)
    )
    row = row_of(clinic, pill)
    assert (row.min_months, row.max_months, row.status) == (Decimal(2), Decimal(4), StockStatus.BELOW_MIN)
    assert row.suggested_order == 4 * 30 - 45
    # The level's policy still applies to the other clinics.
    assert row_of(tree["c2"], pill).min_months == Decimal(1)


# --- shape of the result ----------------------------------------------------------------


def test_every_active_real_location_and_product_has_a_row(tree):
    rows = stock_indicators()
    products = Product.objects.filter(is_active=True).count()
    locations = {r.location_id for r in rows}
    assert len(rows) == len(locations) * products
    assert {tree[k].pk for k in tree} <= locations
    assert virtual_location(VirtualRole.IN_TRANSIT).pk not in locations
    assert stock_indicators([]) == []


def test_indicators_for_one_location_by_product_code(tree, pill, pill_lot):
    stock(tree["c1"], pill_lot, 40, window()[0] - dt.timedelta(days=3))
    rows = indicators_for(tree["c1"])
    assert [r.product.code for r in rows] == sorted(p.code for p in Product.objects.filter(is_active=True))
    assert {r.location_id for r in rows} == {tree["c1"].pk}
    assert next(r for r in rows if r.product == pill).soh == 40


def test_the_module_level_statement_runs_with_its_params(tree, pill, pill_lot):
    """bench/alerts.py runs INDICATORS_SQL with indicator_params() itself."""
    from django.db import connection

    stock(tree["c1"], pill_lot, 40, window()[0] - dt.timedelta(days=3))
    with connection.cursor() as cursor:
        cursor.execute(INDICATORS_SQL, indicator_params())
        rows = cursor.fetchall()
    assert len(rows) == len(stock_indicators())


def test_product_ids_compute_only_those_products_with_the_same_figures(tree, pill, pill_lot, make_user):
    m1, m2, m3 = months()
    palu, c1 = tree["palu"], tree["c1"]
    condom = Product.objects.get(code="KONDOM")
    condom_lot = LotFactory(product=condom, batch="K-ONLY", expiry=timezone.localdate() + dt.timedelta(days=700))
    stock(c1, pill_lot, 100, m1 - dt.timedelta(days=3))
    stock(c1, condom_lot, 500, m1 - dt.timedelta(days=3))
    for first in (m1, m2, m3):
        dispense(c1, pill_lot, 30, first + dt.timedelta(days=2))
        dispense(c1, condom_lot, 90, first + dt.timedelta(days=2))
    stock(palu, pill_lot, 100, m1 - dt.timedelta(days=3))
    stock(palu, condom_lot, 100, m1 - dt.timedelta(days=3))
    ship(palu, c1, pill, 25, timezone.localdate(), make_user("gudang-palu", palu))

    everything = stock_indicators()
    only_pill = stock_indicators(product_ids=[pill.pk])
    assert {r.product_id for r in only_pill} == {pill.pk}
    # Row for row what the full statement gives for that product (stock, transit, AMC, class).
    assert only_pill == [r for r in everything if r.product_id == pill.pk]
    assert row_of(c1, pill, only_pill).in_transit == 25
    both = stock_indicators([c1.pk], product_ids=[pill.pk, condom.pk])
    assert both == [r for r in everything if r.location_id == c1.pk and r.product_id in (pill.pk, condom.pk)]
    assert row_of(c1, condom, both).amc == Decimal("90.00")
    assert stock_indicators(product_ids=[]) == []
