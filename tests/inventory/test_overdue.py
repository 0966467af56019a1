"""Overdue shipments: the daily task opens one record per lot still in transit, once;
resolutions and receipts settle them; the beat row and the command."""

import datetime as dt
import uuid

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from inventory import tasks
from inventory.models import Discrepancy, Product, Shipment, ShipmentStatus, StockBalance
from inventory.services.discrepancies import discrepancy_resolve, open_overdue_discrepancies
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.receipts import ReceiptLineSpec, in_transit_by_lot, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(tree, make_user, settings):
    settings.ALOKON_LEAD_DAYS = {"province>district": 5}
    product = Product.objects.get(code="SUNTIK-3")
    today = timezone.localdate()
    lot_a = LotFactory(product=product, batch="S3-A", expiry=today + dt.timedelta(days=500))
    lot_b = LotFactory(product=product, batch="S3-B", expiry=today + dt.timedelta(days=600))
    opening_balance_post(location=tree["prov"], lines=[(lot_a, 1000), (lot_b, 100)], business_date=today)
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

    late = ship("palu", (lot_a, 300), (lot_b, 20))
    on_time = ship("sigi", (lot_a, 50))
    assert late.expected_arrival == today + dt.timedelta(days=5)
    return {
        **tree,
        "product": product,
        "lot_a": lot_a,
        "lot_b": lot_b,
        "late": late,
        "on_time": on_time,
        "sender": sender,
        "receiver": make_user("kab7271", tree["palu"]),
        "day": today + dt.timedelta(days=6),  # the late one is a day past due; the other too unless moved
    }


def make_overdue(setup):
    Shipment.objects.filter(pk=setup["on_time"].pk).update(expected_arrival=setup["day"] + dt.timedelta(days=1))
    return open_overdue_discrepancies(today=setup["day"])


def test_one_record_per_lot_still_in_transit_and_only_once(setup):
    result = make_overdue(setup)
    assert result.count == 2 and result.shipments == 1
    assert sorted(Discrepancy.objects.values_list("shipment_id", "kind", "lot__batch", "quantity", "status")) == [
        (setup["late"].pk, "overdue", "S3-A", 300, "open"),
        (setup["late"].pk, "overdue", "S3-B", 20, "open"),
    ]
    assert open_overdue_discrepancies(today=setup["day"]).count == 0
    assert open_overdue_discrepancies(today=setup["day"] + dt.timedelta(days=3)).count == 1  # the other is due now
    assert Discrepancy.objects.filter(kind="overdue").count() == 3


def test_not_yet_due_is_not_overdue(setup):
    assert open_overdue_discrepancies(today=setup["late"].expected_arrival).count == 0
    assert not Discrepancy.objects.exists()


def test_the_database_allows_one_open_overdue_per_shipment_and_lot(setup):
    make_overdue(setup)
    record = Discrepancy.objects.filter(kind="overdue").first()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inventory_discrepancy (shipment_id, kind, product_id, lot_id, quantity, status, created_at,"
            " resolution, resolution_reason, resolution_note) VALUES (%s, 'overdue', %s, %s, 1, 'open', now(),"
            " '', '', '')",
            [record.shipment_id, record.product_id, record.lot_id],
        )


def test_write_off_and_late_receipt_of_an_overdue_shipment_close_it(setup):
    make_overdue(setup)
    a = Discrepancy.objects.get(kind="overdue", lot=setup["lot_a"])
    b = Discrepancy.objects.get(kind="overdue", lot=setup["lot_b"])
    partial = discrepancy_resolve(
        discrepancy=a, resolution="write_off", reason="lost", quantity=100, actor=setup["sender"]
    )
    assert partial.remainder.kind == "overdue" and partial.remainder.quantity == 200
    assert Shipment.objects.get(pk=setup["late"].pk).status == ShipmentStatus.DISPATCHED
    # The remainder is the open record: the next run opens nothing new.
    assert open_overdue_discrepancies(today=setup["day"]).count == 0
    discrepancy_resolve(discrepancy=partial.remainder, resolution="late_receipt", actor=setup["receiver"])
    assert Shipment.objects.get(pk=setup["late"].pk).status == ShipmentStatus.PARTIALLY_RECEIVED
    discrepancy_resolve(discrepancy=b, resolution="late_receipt", actor=setup["receiver"])
    late = Shipment.objects.get(pk=setup["late"].pk)
    assert late.status == ShipmentStatus.CLOSED and late.closed_at is not None
    assert StockBalance.objects.get(location=setup["palu"], lot=setup["lot_a"]).quantity == 200
    assert in_transit_by_lot(late) == {}
    assert ledger_check().ok


def test_a_receipt_settles_the_overdue_records(setup):
    make_overdue(setup)
    receipt_record(
        shipment=setup["late"],
        lines=[ReceiptLineSpec(setup["product"], setup["lot_a"], 300)],
        client_uuid=uuid.uuid4(),
        actor=setup["receiver"],
    )
    assert sorted(Discrepancy.objects.values_list("kind", "lot__batch", "status", "resolution")) == [
        ("overdue", "S3-A", "resolved", "received"),
        ("overdue", "S3-B", "resolved", "received"),
        ("short", "S3-B", "open", ""),
    ]
    assert ledger_check().ok


def test_the_command_prints_what_it_opened(setup, capsys):
    Shipment.objects.filter(pk=setup["on_time"].pk).update(expected_arrival=setup["day"] + dt.timedelta(days=1))
    call_command("open_overdue", "--date", setup["day"].isoformat())
    out = capsys.readouterr().out
    assert setup["late"].number in out and "S3-A" in out and "300" in out
    assert "Opened 2 overdue discrepancies for 1 shipments." in out


def test_the_task_opens_them_and_is_scheduled_daily(setup):
    Shipment.objects.filter(pk__in=[setup["late"].pk, setup["on_time"].pk]).update(
        expected_arrival=timezone.localdate() - dt.timedelta(days=1)
    )
    assert tasks.open_overdue.apply().get() == 3
    beat = PeriodicTask.objects.get(task="inventory.tasks.open_overdue")
    assert beat.enabled and beat.crontab.hour == "5" and beat.crontab.day_of_week == "*"


def test_the_overdue_page_offers_the_destination_its_resolutions(setup, client):
    make_overdue(setup)
    record = Discrepancy.objects.filter(kind="overdue").first()
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(setup["receiver"])
    page = client.get(reverse("discrepancy-detail", args=[record.pk]))
    assert page.status_code == 200 and b"daily overdue check" in page.content
    assert [v for v, _label in page.context["form"].fields["resolution"].choices] == ["write_off", "late_receipt"]
    listed = client.get(reverse("discrepancy-list"), {"kind": "overdue"}).context["page"].object_list
    assert {d.pk for d in listed} == set(Discrepancy.objects.filter(kind="overdue").values_list("pk", flat=True))
