"""Locking a shipment locks the shipment, not its origin's or destination's row.

A ``select_for_update`` with ``select_related`` locks every joined row; on the
location rows that would queue every dispatch and receipt of a warehouse behind
any other transaction that references it (a foreign-key check takes ``FOR KEY
SHARE`` on the location row), and four concurrent builders in bench.receiving hit
exactly that as a deadlock. Here another connection holds the key-share lock an
insert referencing the location takes, and dispatch and receipt must not wait.
"""

import datetime as dt
import uuid

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from inventory.models import Product
from inventory.services.opening import opening_balance_post
from inventory.services.receipts import ReceiptLineSpec, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _other_connection():
    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"] or None, host=s["HOST"], port=s["PORT"] or None
    )


def test_dispatch_and_receipt_do_not_lock_the_location_rows(tree, make_user):
    product = Product.objects.get(code="SUNTIK-3")
    lot = LotFactory(product=product, batch="S3-L", expiry=timezone.localdate() + dt.timedelta(days=500))
    opening_balance_post(location=tree["prov"], lines=[(lot, 100)], business_date=timezone.localdate())
    sender, receiver = make_user("prov72", tree["prov"]), make_user("kab7271", tree["palu"])
    shipment = shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(product, 10, lot)], actor=sender
    )
    with _other_connection() as other:
        other.execute(
            "SELECT 1 FROM inventory_location WHERE id = ANY(%s) FOR KEY SHARE",
            [[tree["prov"].pk, tree["palu"].pk]],
        )
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        try:
            shipment_dispatch(shipment=shipment, actor=sender)
            result = receipt_record(
                shipment=shipment,
                lines=[ReceiptLineSpec(product, lot, 10)],
                client_uuid=uuid.uuid4(),
                actor=receiver,
            )
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        other.rollback()
    assert result.created
