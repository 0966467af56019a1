"""REST API v1 for discrepancies: the filtered list, scoping, resolving, clear 4xx, concurrent 409s."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory.models import Discrepancy, Movement, Product, Shipment
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.receipts import ReceiptLineSpec, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"


def client_for(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def world(tree, make_user):
    """Province → Palu: 500 shipped, 470 + 5 of another lot received (short 30, other lot 5).
    Province → Sigi: 50 shipped, 60 received (over 10)."""
    product = Product.objects.get(code="SUNTIK-3")
    today = timezone.localdate()
    lot_a = LotFactory(product=product, batch="S3-A", expiry=today + dt.timedelta(days=500))
    lot_b = LotFactory(product=product, batch="S3-B", expiry=today + dt.timedelta(days=600))
    opening_balance_post(location=tree["prov"], lines=[(lot_a, 1000), (lot_b, 100)], business_date=today)
    users = {
        "prov": make_user("prov72", tree["prov"]),
        "palu": make_user("kab7271", tree["palu"]),
        "sigi": make_user("kab7210", tree["sigi"]),
        "manager": make_user("kabid72", tree["prov"], role="manager"),
        "field": make_user("plkb7271", tree["palu"], role="field"),
        "other": make_user("kab7371", tree["other_district"]),
    }

    def ship(destination, quantity, received):
        shipment = shipment_create(
            origin=tree["prov"],
            destination=tree[destination],
            lines=[LineSpec(product, quantity, lot_a)],
            actor=users["prov"],
        )
        shipment_dispatch(shipment=shipment, actor=users["prov"])
        receipt_record(
            shipment=shipment,
            lines=[ReceiptLineSpec(product, lot, good) for lot, good in received],
            client_uuid=uuid.uuid4(),
            actor=users[destination],
        )
        return shipment

    palu = ship("palu", 500, [(lot_a, 470), (lot_b, 5)])
    sigi = ship("sigi", 50, [(lot_a, 60)])
    return {
        **tree,
        "users": users,
        "client": {name: client_for(user) for name, user in users.items()},
        "to_palu": palu,
        "to_sigi": sigi,
        "short": Discrepancy.objects.get(shipment=palu, kind="short"),
        "other_lot": Discrepancy.objects.get(shipment=palu, kind="other_lot"),
        "over": Discrepancy.objects.get(shipment=sigi, kind="over"),
    }


def listing(client, **params):
    response = client.get(f"{API}/discrepancies/", params)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def resolve(client, record, **body):
    return client.post(f"{API}/discrepancies/{record.pk}/resolve/", body, format="json")


def test_list_is_scoped_and_filtered(world):
    everything = listing(world["client"]["prov"], status="open")
    assert sorted(row["kind"] for row in everything) == ["other_lot", "over", "short"]
    assert {row["kind"] for row in listing(world["client"]["palu"])} == {"short", "other_lot"}
    assert listing(world["client"]["other"]) == []
    assert [row["kind"] for row in listing(world["client"]["prov"], kind="over")] == ["over"]
    assert {row["shipment"] for row in listing(world["client"]["prov"], location="72.10")} == {world["to_sigi"].number}
    assert len(listing(world["client"]["prov"], route="province>district")) == 3
    assert listing(world["client"]["prov"], route="district>clinic") == []
    assert listing(world["client"]["prov"], min_age=1) == []
    Discrepancy.objects.filter(pk=world["over"].pk).update(created_at=timezone.now() - dt.timedelta(days=10))
    assert [row["id"] for row in listing(world["client"]["prov"], min_age=7)] == [world["over"].pk]
    row = listing(world["client"]["palu"], kind="short")[0]
    assert row["origin"] == "72" and row["destination"] == "72.71" and row["lot"] == "S3-A"
    assert row["resolutions"] == ["write_off", "late_receipt"] and row["quantity"] == 30
    assert listing(world["client"]["prov"], kind="short")[0]["resolutions"] == ["write_off"]


def test_list_parameters_are_checked(world):
    client = world["client"]["prov"]
    assert client.get(f"{API}/discrepancies/", {"status": "shut"}).status_code == 400
    assert client.get(f"{API}/discrepancies/", {"min_age": "-1"}).status_code == 400
    assert client.get(f"{API}/discrepancies/", {"location": "73.71"}).status_code == 404
    assert client.get(f"{API}/discrepancies/", {"location": "72\x00"}).status_code == 400


def test_write_off_through_the_api(world):
    response = resolve(world["client"]["palu"], world["short"], resolution="write_off", reason="lost", note="Gone")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["discrepancy"]["status"] == "resolved" and body["discrepancy"]["resolved_by"] == "kab7271"
    assert body["discrepancy"]["resolution_reason"] == "lost" and body["remainder"] is None
    assert ledger_check().ok


def test_partial_late_receipt_returns_the_remainder(world):
    response = resolve(world["client"]["manager"], world["short"], resolution="late_receipt", quantity=12)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["discrepancy"]["quantity"] == 12 and body["remainder"]["quantity"] == 18
    assert body["remainder"]["split_from"] == world["short"].pk and body["remainder"]["status"] == "open"


def test_return_and_accept_through_the_api(world):
    response = resolve(world["client"]["sigi"], world["over"], resolution="return")
    assert response.status_code == 200, response.json()
    number = response.json()["discrepancy"]["return_shipment"]
    back = Shipment.objects.get(number=number)
    assert back.returns == world["to_sigi"] and back.origin == world["sigi"]
    response = resolve(world["client"]["palu"], world["other_lot"], resolution="accept")
    body = response.json()
    assert response.status_code == 200 and body["discrepancy"]["mixup_lot"] == "S3-A"
    assert [(row["kind"], row["quantity"]) for row in body["related"]] == [("short", 5)]
    # 5 of the 30 short were the other lot; the other 25 are still missing.
    assert list(
        Discrepancy.objects.filter(shipment=world["to_palu"], status="open").values_list("kind", "quantity")
    ) == [("short", 25)]
    assert Shipment.objects.get(pk=world["to_palu"].pk).status == "partially_received"
    assert ledger_check().ok


@pytest.mark.parametrize(
    ("who", "body", "status", "code"),
    [
        ("palu", {"resolution": "accept"}, 400, "invalid"),
        ("palu", {"resolution": "received"}, 400, None),
        ("palu", {"resolution": "write_off"}, 400, "invalid"),
        ("palu", {"resolution": "write_off", "reason": "eaten"}, 400, None),
        ("palu", {"resolution": "write_off", "reason": "lost", "quantity": "3"}, 400, None),
        ("palu", {"resolution": "write_off", "reason": "lost", "quantity": 0}, 400, None),
        ("palu", {"resolution": "write_off", "reason": "lost", "quantity": 31}, 400, "invalid"),
        ("palu", {}, 400, None),
        ("field", {"resolution": "write_off", "reason": "lost"}, 403, "forbidden"),
        ("prov", {"resolution": "late_receipt"}, 403, "forbidden"),
        ("other", {"resolution": "write_off", "reason": "lost"}, 404, "not_found"),
        ("sigi", {"resolution": "write_off", "reason": "lost"}, 404, "not_found"),
    ],
)
def test_refusals_are_clear_and_write_nothing(world, who, body, status, code):
    movements, records = Movement.objects.count(), list(Discrepancy.objects.values())
    response = resolve(world["client"][who], world["short"], **body)
    assert response.status_code == status, response.json()
    if code:
        assert response.json()["code"] == code and response.json()["detail"]
    assert Movement.objects.count() == movements and list(Discrepancy.objects.values()) == records


def test_wrong_resolution_names_the_allowed_ones(world):
    response = resolve(world["client"]["palu"], world["short"], resolution="accept")
    assert "Write-off (write_off), Late receipt (late_receipt)" in response.json()["detail"]


def test_unknown_id_is_404(world):
    assert resolve(world["client"]["palu"], Discrepancy(pk=999999), resolution="accept").status_code == 404
    assert world["client"]["palu"].get(f"{API}/discrepancies/999999/").status_code == 404
    assert world["client"]["palu"].get(f"{API}/discrepancies/{world['short'].pk}/").status_code == 200


def test_second_resolution_is_409_naming_who(world):
    assert resolve(world["client"]["palu"], world["short"], resolution="write_off", reason="lost").status_code == 200
    response = resolve(world["client"]["manager"], world["short"], resolution="late_receipt")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict" and "kab7271" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_requests_one_wins_the_others_409(world):
    barrier = threading.Barrier(8)
    statuses, details, lock = [], [], threading.Lock()
    tokens = [Token.objects.get_or_create(user=world["users"][name])[0].key for name in ("palu", "manager")]

    def attempt(index):
        try:
            client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
            client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[index % 2]}")
            barrier.wait(timeout=30)
            response = resolve(client, world["short"], resolution="write_off", reason="stolen")
            with lock:
                statuses.append(response.status_code)
                if response.status_code == 409:
                    details.append(response.json()["detail"])
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(statuses) == [200] + [409] * 7
    assert all("already resolved" in detail for detail in details)
    assert Movement.objects.filter(document__endswith=f"-D{world['short'].pk}").count() == 1
    assert ledger_check().ok
