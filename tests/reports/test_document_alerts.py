"""Document alerts built from real shipments, receipts and a broken ledger: overdue shipments
(opened, updated as goods arrive, resolved when nothing is left in transit), open
discrepancies past the age threshold of AlertSettings, and ledger mismatches synced by the
nightly check_ledger task (resolved once the ledger is repaired)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from inventory import tasks
from inventory.models import Discrepancy, DiscrepancyKind, MovementKind, Product, Shipment, StockBalance
from inventory.services.discrepancies import discrepancy_resolve
from inventory.services.ledger_check import LedgerReport, Mismatch, ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.posting import movement_post, transfer
from inventory.services.receipts import ReceiptLineSpec, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from reports.models import Alert, AlertKind, AlertSettings, AlertStatus, Severity
from reports.services import document_alerts
from reports.services.alert_sync import sync_alerts
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def recompute(today, location_ids=None):
    found = document_alerts.candidates(location_ids, today, AlertSettings.current())
    result = sync_alerts(document_alerts.KINDS, found, location_ids=location_ids)
    return result


def by_key(candidates):
    return {(c.kind, c.location_id, c.product_id): c for c in candidates}


@pytest.fixture
def setup(tree, make_user, settings):
    settings.ALOKON_LEAD_DAYS = {"province>district": 5}
    product = Product.objects.get(code="SUNTIK-3")
    lot_a = LotFactory(product=product, batch="S3-A", expiry=TODAY + dt.timedelta(days=500))
    lot_b = LotFactory(product=product, batch="S3-B", expiry=TODAY + dt.timedelta(days=600))
    opening_balance_post(location=tree["prov"], lines=[(lot_a, 1000), (lot_b, 100)], business_date=TODAY)
    sender = make_user("prov72", tree["prov"])

    def ship(destination, *lines):
        shipment = shipment_create(
            origin=tree["prov"],
            destination=tree[destination],
            lines=[LineSpec(product, quantity, lot) for lot, quantity in lines],
            actor=sender,
        )
        shipment_dispatch(shipment=shipment, actor=sender)
        shipment.refresh_from_db()
        return shipment

    first = ship("palu", (lot_a, 300), (lot_b, 20))  # due in 5 days
    second = ship("palu", (lot_a, 40))
    Shipment.objects.filter(pk=second.pk).update(expected_arrival=TODAY + dt.timedelta(days=3))
    second.refresh_from_db()
    on_time = ship("sigi", (lot_a, 50))
    Shipment.objects.filter(pk=on_time.pk).update(expected_arrival=TODAY + dt.timedelta(days=10))
    return {
        **tree,
        "product": product,
        "lot_a": lot_a,
        "lot_b": lot_b,
        "first": first,
        "second": second,
        "receiver": make_user("kab7271", tree["palu"]),
        "day": TODAY + dt.timedelta(days=6),  # first is a day late, second three; sigi's is on time
    }


def receive(setup, shipment, *lines):
    receipt_record(
        shipment=shipment,
        lines=[ReceiptLineSpec(setup["product"], lot, quantity) for lot, quantity in lines],
        client_uuid=uuid.uuid4(),
        actor=setup["receiver"],
    )


def test_overdue_shipment_per_destination_and_product(setup):
    palu, product = setup["palu"], setup["product"]
    assert document_alerts.candidates(None, TODAY, AlertSettings.current()) == []
    found = by_key(document_alerts.candidates(None, setup["day"], AlertSettings.current()))
    assert set(found) == {(AlertKind.OVERDUE_SHIPMENT, palu.pk, product.pk)}
    overdue = found[AlertKind.OVERDUE_SHIPMENT, palu.pk, product.pk]
    assert overdue.severity == Severity.WARNING and overdue.quantity == 360
    assert overdue.figures == {
        "shipments": [
            {
                "number": setup["second"].number,
                "origin": "Sulawesi Tengah",
                "expected_arrival": (TODAY + dt.timedelta(days=3)).isoformat(),
                "days_overdue": 3,
                "quantity": 40,
            },
            {
                "number": setup["first"].number,
                "origin": "Sulawesi Tengah",
                "expected_arrival": (TODAY + dt.timedelta(days=5)).isoformat(),
                "days_overdue": 1,
                "quantity": 320,
            },
        ]
    }
    # Scoped runs see only their own locations.
    assert document_alerts.candidates([setup["sigi"].pk], setup["day"], AlertSettings.current()) == []
    assert len(document_alerts.candidates([palu.pk], setup["day"], AlertSettings.current())) == 1


def test_overdue_alert_opened_updated_and_resolved_when_received(setup):
    day, product = setup["day"], setup["product"]
    first = recompute(day)
    alert = Alert.objects.get(kind=AlertKind.OVERDUE_SHIPMENT)
    assert first.opened == [alert.pk] and alert.quantity == 360 and alert.location_id == setup["palu"].pk

    assert recompute(day).updated == [alert.pk]  # recomputed: the same alert, never a second one

    # The first shipment arrives without lot B: 20 still in transit (partially received).
    receive(setup, setup["first"], (setup["lot_a"], 300))
    setup["first"].refresh_from_db()
    assert setup["first"].status == "partially_received"
    result = recompute(day)
    assert result.updated == [alert.pk] and not result.opened
    alert.refresh_from_db()
    assert alert.quantity == 60 and alert.status == AlertStatus.OPEN
    assert [(s["number"], s["quantity"]) for s in alert.figures["shipments"]] == [
        (setup["second"].number, 40),
        (setup["first"].number, 20),
    ]

    # The second arrives in full and the missing 20 are written off: nothing left in transit.
    receive(setup, setup["second"], (setup["lot_a"], 40))
    short = Discrepancy.objects.get(shipment=setup["first"], kind=DiscrepancyKind.SHORT, status="open")
    discrepancy_resolve(discrepancy=short, resolution="write_off", reason="lost", actor=setup["receiver"])
    assert ledger_check().ok
    result = recompute(day)
    assert result.resolved == [alert.pk]
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and product.pk == alert.product_id
    assert Alert.objects.filter(kind=AlertKind.OVERDUE_SHIPMENT).count() == 1


def test_open_discrepancy_older_than_the_threshold(setup):
    palu, product = setup["palu"], setup["product"]
    receive(setup, setup["first"], (setup["lot_a"], 300))  # lot B short: one open discrepancy
    short = Discrepancy.objects.get(shipment=setup["first"], kind=DiscrepancyKind.SHORT)
    key = (AlertKind.OPEN_DISCREPANCY, palu.pk, product.pk)
    assert key not in by_key(document_alerts.candidates(None, TODAY, AlertSettings.current()))

    Discrepancy.objects.filter(pk=short.pk).update(created_at=timezone.now() - dt.timedelta(days=15))
    found = by_key(document_alerts.candidates(None, TODAY, AlertSettings.current()))[key]
    assert found.quantity == 1 and found.severity == Severity.WARNING
    assert found.figures == {
        "discrepancies": [
            {"id": short.pk, "shipment": setup["first"].number, "kind": "short", "quantity": 20, "age_days": 15}
        ],
        "oldest_days": 15,
    }

    # The threshold is the database's: 15 days open is not older than 15 days.
    thresholds = AlertSettings.current()
    thresholds.open_discrepancy_days = 15
    thresholds.save()
    assert key not in by_key(document_alerts.candidates(None, TODAY, AlertSettings.current()))
    thresholds.open_discrepancy_days = 14
    thresholds.save()

    opened = recompute(TODAY)
    alert = Alert.objects.get(kind=AlertKind.OPEN_DISCREPANCY)
    assert opened.opened == [alert.pk] and alert.quantity == 1 and alert.figures["oldest_days"] == 15
    assert recompute(TODAY).updated == [alert.pk]

    discrepancy_resolve(discrepancy=short, resolution="write_off", reason="lost", actor=setup["receiver"])
    assert recompute(TODAY).resolved == [alert.pk]
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED


# --- ledger mismatches ----------------------------------------------------------------------


@pytest.fixture
def moved(stocked, lot):
    for quantity, destination in ((30, "palu"), (5, "palu"), (20, "sigi")):
        movement_post(
            kind=MovementKind.DISPATCH,
            entries=transfer(source=stocked["prov"], destination=stocked[destination], lot=lot, quantity=quantity),
            business_date=TODAY,
            document=f"T-{destination}-{quantity}",
        )
    return stocked


def run_check_ledger(monkeypatch, django_capture_on_commit_callbacks):
    """The nightly task, called directly; returns (its result, the alert ids it delivered)."""
    delivered = []
    monkeypatch.setattr("reports.services.notifications.deliver_new_alerts", delivered.extend)
    with django_capture_on_commit_callbacks(execute=True):
        count = tasks.check_ledger()
    return count, delivered


def test_check_ledger_opens_one_alert_per_mismatch_location_and_resolves_after_repair(
    moved, lot, english, monkeypatch, django_capture_on_commit_callbacks
):
    assert run_check_ledger(monkeypatch, django_capture_on_commit_callbacks) == (0, [])
    assert not Alert.objects.filter(kind=AlertKind.LEDGER_MISMATCH).exists()

    # Around the posting service: palu's balance row says 36, its entries sum to 35.
    StockBalance.objects.filter(location=moved["palu"], lot=lot).update(quantity=36)
    count, delivered = run_check_ledger(monkeypatch, django_capture_on_commit_callbacks)
    alert = Alert.objects.get(kind=AlertKind.LEDGER_MISMATCH)
    assert count == 1 and delivered == [alert.pk]
    assert (alert.location_id, alert.product_id, alert.status) == (moved["palu"].pk, lot.product_id, "open")
    assert alert.severity == Severity.CRITICAL and alert.quantity == 1
    assert alert.figures == {"mismatches": ["balance of 72.71 PIL-KOMB PK-001 is 36 but its entries sum to 35"]}

    # The next night: the same alert, nothing delivered again.
    assert run_check_ledger(monkeypatch, django_capture_on_commit_callbacks) == (1, [])
    assert Alert.objects.filter(kind=AlertKind.LEDGER_MISMATCH).count() == 1

    StockBalance.objects.filter(location=moved["palu"], lot=lot).update(quantity=35)  # repaired
    assert run_check_ledger(monkeypatch, django_capture_on_commit_callbacks) == (0, [])
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_at is not None


def test_check_ledger_alert_for_a_movement_that_does_not_net_to_zero(
    moved, lot, monkeypatch, django_capture_on_commit_callbacks
):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the checks queued by the postings above
        cursor.execute("SET LOCAL session_replication_role = replica")  # as a careless restore would
        cursor.execute(
            "INSERT INTO inventory_ledgerentry (movement_id, location_id, lot_id, product_id, quantity, kind,"
            " business_date, recorded_at)"
            " SELECT movement_id, location_id, lot_id, product_id, 4, kind, business_date, recorded_at"
            "   FROM inventory_ledgerentry WHERE balance_after IS NULL ORDER BY id LIMIT 1"
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
    count, delivered = run_check_ledger(monkeypatch, django_capture_on_commit_callbacks)
    alert = Alert.objects.get(kind=AlertKind.LEDGER_MISMATCH)
    # A movement has no location: the alert is the national root's.
    assert count == 1 and delivered == [alert.pk]
    assert (alert.location_id, alert.product_id) == (moved["national"].pk, lot.product_id)


def test_mismatches_grouped_per_location_and_product(tree, products):
    report = LedgerReport(
        entries=10,
        balances=3,
        movements=2,
        mismatches=[
            Mismatch("balance", "72.71", "PIL-KOMB", "PK-001", 35, 36),
            Mismatch("chain", "72.71", "PIL-KOMB", "PK-002", 5, 6, "entry 7 (movement 3)"),
            Mismatch("balance", "72.71", "KONDOM", "K-1", 0, 2),
            Mismatch("virtual_balance_after", "~SUPPLIER", "KONDOM", "K-1", None, 1, "entry 1 (movement 1)"),
            Mismatch("shipment_in_transit", None, "KONDOM", "K-1", 0, 3, "SBBK-72-2026-000001 (received)"),
        ],
    )
    found = {(c.location_id, c.product_id): c for c in document_alerts.ledger_mismatch_candidates(report)}
    palu, national = tree["palu"].pk, tree["national"].pk
    assert {key: c.quantity for key, c in found.items()} == {
        (palu, products["PIL-KOMB"].pk): 2,
        (palu, products["KONDOM"].pk): 1,
        (national, products["KONDOM"].pk): 2,  # a virtual location and no location: the national root
    }
    assert all(c.kind == AlertKind.LEDGER_MISMATCH and c.severity == Severity.CRITICAL for c in found.values())
    assert len(found[palu, products["PIL-KOMB"].pk].figures["mismatches"]) == 2
    assert document_alerts.ledger_mismatch_candidates(LedgerReport(0, 0, 0, [])) == []
