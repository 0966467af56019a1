"""Shipments: drafts with gap-free numbers, dispatch with FEFO lots, tokens, refusals."""

import datetime as dt
import re
import threading

import pytest
from django.db import connection
from django.utils import timezone

from inventory.errors import InsufficientStock, InvalidShipment, ShipmentShortage, ShipmentStateError
from inventory.models import LedgerEntry, Movement, Product, Shipment, ShipmentStatus, StockBalance, VirtualRole
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.posting import virtual_location
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lots(tree):
    """Three lots of SUNTIK-3 at the province: one expired, one expiring first, one later."""
    product = Product.objects.get(code="SUNTIK-3")
    today = timezone.localdate()
    expired = LotFactory(product=product, batch="S3-OLD", expiry=today - dt.timedelta(days=1))
    soon = LotFactory(product=product, batch="S3-SOON", expiry=today + dt.timedelta(days=200))
    later = LotFactory(product=product, batch="S3-LATER", expiry=today + dt.timedelta(days=700))
    opening_balance_post(
        location=tree["prov"],
        lines=[(expired, 50), (soon, 300), (later, 1000)],
        business_date=today - dt.timedelta(days=10),
    )
    return {"product": product, "expired": expired, "soon": soon, "later": later}


@pytest.fixture
def clerk(tree, make_user):
    return make_user("prov72", tree["prov"])


def test_numbers_are_sbbk_origin_year_sequence(tree, lots, clerk):
    year = timezone.localdate().year
    first = shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(lots["product"], 10)], actor=clerk
    )
    second = shipment_create(
        origin=tree["prov"], destination=tree["sigi"], lines=[LineSpec(lots["product"], 10)], actor=clerk
    )
    assert first.number == f"SBBK-72-{year}-000001"
    assert second.number == f"SBBK-72-{year}-000002"
    assert first.status == ShipmentStatus.DRAFT and first.token is None


def test_a_refused_draft_leaves_no_gap(tree, lots, clerk):
    with pytest.raises(InvalidShipment):
        shipment_create(
            origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(lots["product"], 0)], actor=clerk
        )
    shipment = shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(lots["product"], 1)], actor=clerk
    )
    assert shipment.number.endswith("-000001")


@pytest.mark.parametrize("quantity", [0, -5, 2.5, 10**9, True, "7"])
def test_bad_quantities_are_refused(tree, lots, clerk, quantity):
    with pytest.raises(InvalidShipment):
        shipment_create(
            origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(lots["product"], quantity)], actor=clerk
        )
    assert not Shipment.objects.exists()


def test_routes_down_up_and_sideways_only(tree, lots, make_user, clerk):
    product = lots["product"]
    with pytest.raises(InvalidShipment, match="cannot ship|tidak dapat"):
        shipment_create(origin=tree["prov"], destination=tree["c1"], lines=[LineSpec(product, 1)], actor=clerk)
    palu_clerk = make_user("kab7271", tree["palu"])
    shipment_create(origin=tree["palu"], destination=tree["sigi"], lines=[LineSpec(product, 1)], actor=palu_clerk)
    shipment_create(origin=tree["palu"], destination=tree["prov"], lines=[LineSpec(product, 1)], actor=palu_clerk)
    with pytest.raises(InvalidShipment):  # not from someone else's location
        shipment_create(origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(product, 1)], actor=palu_clerk)


def test_a_lot_of_another_product_is_refused(tree, lots, clerk):
    condom = Product.objects.get(code="KONDOM")
    with pytest.raises(InvalidShipment):
        shipment_create(
            origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(condom, 1, lots["soon"])], actor=clerk
        )


def test_dispatch_allocates_fefo_skips_expired_and_posts_to_transit(tree, lots, clerk):
    shipment = shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(lots["product"], 500)], actor=clerk
    )
    result = shipment_dispatch(shipment=shipment, actor=clerk)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.DISPATCHED
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", shipment.token)
    allocation = sorted((line.lot.batch, line.quantity) for line in shipment.lines.all())
    assert allocation == [("S3-LATER", 200), ("S3-SOON", 300)]
    assert StockBalance.objects.get(location=tree["prov"], lot=lots["expired"]).quantity == 50
    transit = virtual_location(VirtualRole.IN_TRANSIT)
    in_transit = sum(LedgerEntry.objects.filter(location=transit).values_list("quantity", flat=True))
    assert in_transit == 500
    assert shipment.dispatch_movement.document == shipment.number
    assert result.warnings == []
    assert ledger_check().ok


def test_dispatch_warns_about_a_lot_expiring_soon_after_arrival(tree, lots, clerk):
    lots["soon"].expiry = timezone.localdate() + dt.timedelta(days=60)
    lots["soon"].save()
    shipment = shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(lots["product"], 10)], actor=clerk
    )
    result = shipment_dispatch(shipment=shipment, actor=clerk)
    assert len(result.warnings) == 1 and "S3-SOON" in result.warnings[0]


def test_shortage_names_each_line_and_keeps_the_draft(tree, lots, clerk):
    condom = Product.objects.get(code="KONDOM")
    shipment = shipment_create(
        origin=tree["prov"],
        destination=tree["palu"],
        lines=[LineSpec(lots["product"], 1301), LineSpec(condom, 5)],
        actor=clerk,
    )
    before = Movement.objects.count()
    with pytest.raises(ShipmentShortage) as excinfo:
        shipment_dispatch(shipment=shipment, actor=clerk)
    message = str(excinfo.value)
    assert "SUNTIK-3" in message and "1301" in message and "1300" in message and "KONDOM" in message
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.DRAFT and shipment.token is None
    assert [line.lot_id for line in shipment.lines.all()] == [None, None]
    assert Movement.objects.count() == before


def test_dispatching_twice_is_a_conflict(tree, lots, clerk):
    shipment = shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(lots["product"], 1)], actor=clerk
    )
    shipment_dispatch(shipment=shipment, actor=clerk)
    with pytest.raises(ShipmentStateError):
        shipment_dispatch(shipment=shipment, actor=clerk)
    assert Movement.objects.filter(document=shipment.number).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatches_never_overdraw(tree, lots, clerk):
    """8 drafts of 200 each against 1,300 usable units: 6 go, 2 are refused, no negative stock."""
    shipments = [
        shipment_create(
            origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(lots["product"], 200)], actor=clerk
        )
        for _ in range(8)
    ]
    barrier = threading.Barrier(8)
    outcomes, lock = [], threading.Lock()

    def dispatch(shipment):
        try:
            barrier.wait(timeout=30)
            try:
                shipment_dispatch(shipment=shipment, actor=clerk)
                outcome = "ok"
            except (InsufficientStock, ShipmentShortage) as exc:
                outcome = "short" if exc.message else "?"
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatch, args=(s,)) for s in shipments]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes) == ["ok"] * 6 + ["short"] * 2
    assert not StockBalance.objects.filter(quantity__lt=0).exists()
    assert Shipment.objects.filter(status=ShipmentStatus.DRAFT).count() == 2
    assert ledger_check().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_number_without_gaps_or_duplicates(tree, lots, clerk):
    barrier = threading.Barrier(8)

    def create():
        try:
            barrier.wait(timeout=30)
            shipment_create(
                origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(lots["product"], 1)], actor=clerk
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    suffixes = sorted(int(n[-6:]) for n in Shipment.objects.values_list("number", flat=True))
    assert suffixes == list(range(1, 9))
