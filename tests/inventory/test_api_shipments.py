"""REST API v1 for shipments, receipts and the scanner: the whole flow by codes, bad input, scoping."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory.models import Movement, Product, Receipt, Shipment, StockBalance
from inventory.qr import shipment_url
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"
YEAR = timezone.localdate().year


def client_for(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def world(tree, make_user):
    """SUNTIK-3 lots A (1000) and B (100) at the province, 50 of A at Kota Palu; one warehouse user per place."""
    today = timezone.localdate()
    suntik = Product.objects.get(code="SUNTIK-3")
    lot_a = LotFactory(product=suntik, batch="S3-A", expiry=today + dt.timedelta(days=500))
    lot_b = LotFactory(product=suntik, batch="S3-B", expiry=today + dt.timedelta(days=600))
    pill_lot = LotFactory(product=Product.objects.get(code="PIL-KOMB"), batch="PK-9")
    opening_balance_post(location=tree["prov"], lines=[(lot_a, 1000), (lot_b, 100)], business_date=today)
    opening_balance_post(location=tree["palu"], lines=[(lot_a, 50)], business_date=today)
    users = {
        "prov": make_user("prov72", tree["prov"]),
        "palu": make_user("kab7271", tree["palu"]),
        "sigi": make_user("kab7210", tree["sigi"]),
        "c1": make_user("pkm7271001", tree["c1"]),
        "field": make_user("plkb7271", tree["palu"], role="field"),
    }
    return {
        **tree,
        "lot_a": lot_a,
        "lot_b": lot_b,
        "pill_lot": pill_lot,
        "users": users,
        "client": {name: client_for(user) for name, user in users.items()},
    }


def create(client, origin="72", destination="72.71", lines=None, **extra):
    body = {"origin": origin, "destination": destination, "lines": lines or [{"product": "SUNTIK-3", "quantity": 500}]}
    return client.post(f"{API}/shipments/", {**body, **extra}, format="json")


def dispatched(world, *lines, origin="prov", destination="72.71"):
    """Create and dispatch through the API; the shipment number."""
    client = world["client"][origin]
    number = create(client, world[origin].code, destination, list(lines) or None).json()["number"]
    assert client.post(f"{API}/shipments/{number}/dispatch/").status_code == 200
    return number


def receive(client, number, lines, key=None, **extra):
    body = {"client_uuid": str(key or uuid.uuid4()), "lines": lines, **extra}
    return client.post(f"{API}/shipments/{number}/receipts/", body, format="json")


class NothingPosted:
    """Asserts that a block of requests created no movement, shipment or receipt and left the ledger whole."""

    def __enter__(self):
        self.counts = self._counts()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            assert self._counts() == self.counts
            assert ledger_check().ok

    @staticmethod
    def _counts():
        return Movement.objects.count(), Shipment.objects.count(), Receipt.objects.count()


# --- the whole flow, by codes ----------------------------------------------------------------


def test_create_dispatch_qr_scan_receive(world):
    prov, palu = world["client"]["prov"], world["client"]["palu"]
    lot_a = world["lot_a"]

    response = create(prov, note="for the campaign")
    assert response.status_code == 201
    body = response.json()
    number = f"SBBK-72-{YEAR}-000001"
    assert body["number"] == number
    assert (body["status"], body["origin"], body["destination"], body["note"]) == (
        "draft",
        "72",
        "72.71",
        "for the campaign",
    )
    assert body["lines"] == [{"product": "SUNTIK-3", "lot": None, "expiry": None, "quantity": 500}]
    assert (body["created_by"], body["dispatched_at"], body["qr_url"], body["receipts"]) == ("prov72", None, None, [])
    assert Movement.objects.count() == 2  # the two opening balances only: a draft moves nothing

    response = prov.post(f"{API}/shipments/{number}/dispatch/")
    assert response.status_code == 200
    body = response.json()
    token = Shipment.objects.get(number=number).token
    assert body["status"] == "dispatched" and body["dispatched_by"] == "prov72"
    # First expiry, first out: lot A.
    assert body["lines"] == [
        {"product": "SUNTIK-3", "lot": "S3-A", "expiry": lot_a.expiry.isoformat(), "quantity": 500}
    ]
    assert body["qr_url"] == shipment_url(token)
    assert body["warnings"] == []
    assert body["expected_arrival"] == (timezone.localdate() + dt.timedelta(days=14)).isoformat()

    response = prov.get(f"{API}/shipments/{number}/qr.svg", HTTP_ACCEPT="image/svg+xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.lstrip().startswith(b"<svg")

    # The destination scans the waybill's QR code, then posts what it counted.
    response = palu.post(f"{API}/scan/", {"code": body["qr_url"]}, format="json")
    assert response.json() == {"type": "shipment", "number": number, "receive_url": shipment_url(token)}
    key = uuid.uuid4()
    response = receive(palu, number, [{"product": "SUNTIK-3", "lot": "S3-A", "received": 480, "damaged": 20}], key=key)
    assert response.status_code == 201
    receipt = response.json()
    assert receipt.pop("received_at")
    assert receipt == {
        "shipment": number,
        "client_uuid": str(key),
        "received_by": "kab7271",
        "note": "",
        "lines": [
            {"product": "SUNTIK-3", "lot": "S3-A", "expiry": lot_a.expiry.isoformat(), "received": 480, "damaged": 20}
        ],
        "discrepancies": [{"kind": "damaged", "product": "SUNTIK-3", "lot": "S3-A", "quantity": 20}],
    }

    detail = palu.get(f"{API}/shipments/{number}/").json()
    assert detail["status"] == "received"
    assert [r["client_uuid"] for r in detail["receipts"]] == [str(key)]
    assert detail["receipts"][0]["lines"] == receipt["lines"]
    assert detail["discrepancies"] == [
        {"kind": "damaged", "product": "SUNTIK-3", "lot": "S3-A", "quantity": 20, "status": "open"}
    ]
    assert detail["qr_url"] == shipment_url(token)
    assert StockBalance.objects.get(location=world["palu"], lot=lot_a).quantity == 50 + 480
    assert StockBalance.objects.get(location=world["prov"], lot=lot_a).quantity == 500
    assert ledger_check().ok


def test_chosen_lot_is_kept_and_short_receipt_opens_a_short(world):
    prov, palu = world["client"]["prov"], world["client"]["palu"]
    number = dispatched(world, {"product": "SUNTIK-3", "quantity": 60, "lot": "S3-B"})
    lines = prov.get(f"{API}/shipments/{number}/").json()["lines"]
    assert [(line["lot"], line["quantity"]) for line in lines] == [("S3-B", 60)]

    # damaged defaults to 0
    response = receive(palu, number, [{"product": "SUNTIK-3", "lot": "S3-B", "received": 55}])
    assert response.status_code == 201
    assert response.json()["lines"][0]["damaged"] == 0
    assert response.json()["discrepancies"] == [{"kind": "short", "product": "SUNTIK-3", "lot": "S3-B", "quantity": 5}]
    assert palu.get(f"{API}/shipments/{number}/").json()["status"] == "partially_received"


def test_return_up_the_tree_and_expiry_warning(world, settings):
    settings.ALOKON_EXPIRY_WARNING_DAYS = 1000
    palu = world["client"]["palu"]
    response = create(palu, "72.71", "72", [{"product": "SUNTIK-3", "quantity": 10}])
    assert response.status_code == 201
    number = response.json()["number"]
    assert number == f"SBBK-72.71-{YEAR}-000001"
    body = palu.post(f"{API}/shipments/{number}/dispatch/").json()
    assert body["status"] == "dispatched"
    assert len(body["warnings"]) == 1 and "S3-A" in body["warnings"][0]


# --- creating: bad input is a 400 that names the field, and nothing is written ------------------


@pytest.mark.parametrize("quantity", [0, -1, 1.5, 7.0, "7", True, None, 10_000_001, 10**30, [5], {"n": 5}])
def test_bad_quantities_are_400(world, quantity):
    with NothingPosted():
        response = create(world["client"]["prov"], lines=[{"product": "SUNTIK-3", "quantity": quantity}])
    assert response.status_code == 400, quantity
    # Errors of a list are keyed by the line's index, so the app can point at the line.
    assert list(response.json()) == ["lines"]
    assert list(response.json()["lines"]) == ["0"] and list(response.json()["lines"]["0"]) == ["quantity"]


def test_largest_quantity_is_accepted(world):
    response = create(world["client"]["prov"], lines=[{"product": "SUNTIK-3", "quantity": 10_000_000}])
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ({"product": "NOPE", "quantity": 5}, "product", "There is no product with code NOPE."),
        ({"product": "SUNTIK-3", "quantity": 5, "lot": "NO-SUCH"}, "lot", "SUNTIK-3 has no lot NO-SUCH."),
        # a lot that exists, but of another product
        ({"product": "SUNTIK-3", "quantity": 5, "lot": "PK-9"}, "lot", "SUNTIK-3 has no lot PK-9."),
        ({"quantity": 5}, "product", "This field is required."),
        ({"product": "SUNTIK-3"}, "quantity", "This field is required."),
        ({"product": "SUNTIK-3\x00", "quantity": 5}, "product", None),
        ({"product": "SUNTIK-3", "quantity": 5, "lot": "x" * 65}, "lot", None),
    ],
)
def test_unknown_product_or_lot_is_400_on_its_line(world, line, field, message):
    ok = {"product": "SUNTIK-3", "quantity": 5}
    with NothingPosted():
        response = create(world["client"]["prov"], lines=[ok, line])
    assert response.status_code == 400
    errors = response.json()["lines"]
    assert list(errors) == ["1"] and list(errors["1"]) == [field]
    if message:
        assert errors["1"][field] == [message]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"origin": "72", "destination": "99.99", "lines": [{"product": "SUNTIK-3", "quantity": 5}]}, "destination"),
        (
            {"origin": "72", "destination": "~SUPPLIER", "lines": [{"product": "SUNTIK-3", "quantity": 5}]},
            "destination",
        ),
        ({"origin": "72", "lines": [{"product": "SUNTIK-3", "quantity": 5}]}, "destination"),
        ({"destination": "72.71", "lines": [{"product": "SUNTIK-3", "quantity": 5}]}, "origin"),
        ({"origin": "72", "destination": "72.71"}, "lines"),
        ({"origin": "72", "destination": "72.71", "lines": []}, "lines"),
        ({"origin": "72", "destination": "72.71", "lines": "SUNTIK-3"}, "lines"),
        ({"origin": "72", "destination": "72.71", "lines": [5]}, "lines"),
        ({"origin": ["72"], "destination": "72.71", "lines": [{"product": "SUNTIK-3", "quantity": 5}]}, "origin"),
        ({"origin": "72", "destination": "72.71", "lines": [{"product": "SUNTIK-3", "quantity": 5}] * 501}, "lines"),
        (
            {"origin": "72", "destination": "72.71", "lines": [{"product": "SUNTIK-3", "quantity": 5}], "note": []},
            "note",
        ),
    ],
)
def test_bad_bodies_are_400(world, body, field):
    with NothingPosted():
        response = world["client"]["prov"].post(f"{API}/shipments/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("raw", ["{not json", "[]", '"text"', "null", "", '{"origin": "\\ud800"}', "\xff"])
def test_malformed_json_is_400(world, raw):
    with NothingPosted():
        response = world["client"]["prov"].post(f"{API}/shipments/", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()


def test_form_encoded_body_is_400_not_500(world):
    with NothingPosted():
        response = world["client"]["prov"].post(f"{API}/shipments/", {"origin": "72", "destination": "72.71"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("who", "origin", "destination", "status", "detail"),
    [
        # an origin outside the user's subtree, or unknown, is a 404
        ("palu", "72", "72.71", 404, "Location 72 was not found."),
        ("palu", "72.10", "72.10-001", 404, "Location 72.10 was not found."),
        ("prov", "73", "73.71", 404, "Location 73 was not found."),
        ("prov", "99", "72.71", 404, "Location 99 was not found."),
        # in the subtree, but not the user's own location: the service refuses
        ("prov", "72.71", "72.71-001", 400, "You can only create shipments from your own location."),
        # skipping a level is not a route
        ("prov", "72", "72.71-001", 400, None),
        ("prov", "72", "72", 400, "The origin and the destination are the same."),
    ],
)
def test_origin_scope_and_route(world, who, origin, destination, status, detail):
    with NothingPosted():
        response = create(world["client"][who], origin, destination)
    assert response.status_code == status
    assert set(response.json()) == {"detail", "code"}
    if detail:
        assert response.json()["detail"] == detail


def test_only_warehouse_staff_create(world):
    with NothingPosted():
        response = create(world["client"]["field"], "72.71", "72.71-001", [{"product": "SUNTIK-3", "quantity": 5}])
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only warehouse staff create and dispatch shipments.",
        "code": "permission_denied",
    }


# --- dispatching ----------------------------------------------------------------------------


def test_dispatching_twice_is_409_and_posts_once(world):
    prov = world["client"]["prov"]
    number = dispatched(world)
    with NothingPosted():
        response = prov.post(f"{API}/shipments/{number}/dispatch/")
    assert response.status_code == 409
    assert response.json() == {"detail": f"Shipment {number} was already dispatched.", "code": "conflict"}


def test_shortage_is_409_naming_each_line_and_the_draft_stays(world):
    prov = world["client"]["prov"]
    lines = [
        {"product": "SUNTIK-3", "quantity": 5000},
        {"product": "PIL-KOMB", "quantity": 10},
        {"product": "SUNTIK-3", "quantity": 500, "lot": "S3-B"},
    ]
    number = create(prov, lines=lines).json()["number"]
    with NothingPosted():
        response = prov.post(f"{API}/shipments/{number}/dispatch/")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "insufficient_stock"
    assert body["detail"].startswith("Not enough stock to dispatch 3 lines:")
    assert "SUNTIK-3: 5000 requested, 1100 available" in body["detail"]
    assert "PIL-KOMB: 10 requested, 0 available" in body["detail"]
    assert "SUNTIK-3 (S3-B): 500 requested, 100 available" in body["detail"]
    detail = prov.get(f"{API}/shipments/{number}/").json()
    assert detail["status"] == "draft"
    assert [line["lot"] for line in detail["lines"]] == [None, None, "S3-B"]  # FEFO's choices rolled back


def test_only_the_origin_dispatches(world):
    number = create(world["client"]["prov"]).json()["number"]
    with NothingPosted():
        # the destination can see the draft, but it is not theirs to send
        response = world["client"]["palu"].post(f"{API}/shipments/{number}/dispatch/")
        assert response.status_code == 403
        assert response.json()["detail"] == "Only staff of the origin can dispatch this shipment."
        # others cannot see it at all
        for name in ("sigi", "c1"):
            assert world["client"][name].post(f"{API}/shipments/{number}/dispatch/").status_code == 404
    assert world["client"]["prov"].get(f"{API}/shipments/{number}/").json()["status"] == "draft"


def test_unknown_number_is_404(world):
    prov = world["client"]["prov"]
    for path in ("", "dispatch/", "receipts/"):
        method = prov.get if path == "" else prov.post
        response = method(f"{API}/shipments/SBBK-72-{YEAR}-999999/{path}", {}, format="json")
        assert response.status_code == 404
        assert response.json() == {"detail": f"Shipment SBBK-72-{YEAR}-999999 was not found.", "code": "not_found"}


# --- receiving ------------------------------------------------------------------------------


def test_receiving_a_draft_is_409(world):
    number = create(world["client"]["prov"]).json()["number"]
    with NothingPosted():
        response = receive(world["client"]["palu"], number, [{"product": "SUNTIK-3", "lot": "S3-A", "received": 5}])
    assert response.status_code == 409
    assert response.json() == {"detail": f"Shipment {number} has not been dispatched yet.", "code": "conflict"}


@pytest.mark.parametrize("who", ["prov", "sigi", "c1", "field_elsewhere"])
def test_receiving_from_outside_the_destination_is_404(world, make_user, who):
    client = client_for(make_user("kab7210b", world["sigi"])) if who == "field_elsewhere" else world["client"][who]
    number = dispatched(world)
    with NothingPosted():
        response = receive(client, number, [{"product": "SUNTIK-3", "lot": "S3-A", "received": 500}])
    assert response.status_code == 404
    assert response.json() == {"detail": f"Shipment {number} was not found.", "code": "not_found"}


def test_retry_with_the_same_uuid_returns_the_same_body_and_posts_nothing(world):
    palu = world["client"]["palu"]
    number = dispatched(world)
    key = uuid.uuid4()
    lines = [{"product": "SUNTIK-3", "lot": "S3-A", "received": 490}]
    first = receive(palu, number, lines, key=key, note="box 3 wet")
    assert first.status_code == 201
    with NothingPosted():
        again = receive(palu, number, lines, key=key, note="box 3 wet")
        assert again.status_code == 200
        assert again.json() == first.json()
        # the uppercase spelling of the same UUID is the same UUID
        assert receive(palu, number, lines, key=str(key).upper(), note="box 3 wet").json() == first.json()

        different = receive(palu, number, [{"product": "SUNTIK-3", "lot": "S3-A", "received": 491}], key=key)
        assert different.status_code == 409
        assert different.json()["code"] == "conflict"
        assert receive(palu, number, lines, key=key).status_code == 409  # the note is part of the body


def test_the_same_uuid_on_another_shipment_is_409(world):
    palu = world["client"]["palu"]
    first, second = dispatched(world), dispatched(world)
    key = uuid.uuid4()
    lines = [{"product": "SUNTIK-3", "lot": "S3-A", "received": 500}]
    assert receive(palu, first, lines, key=key).status_code == 201
    with NothingPosted():
        assert receive(palu, second, lines, key=key).status_code == 409


def test_fully_received_is_409_saying_who_and_when(world):
    palu = world["client"]["palu"]
    number = dispatched(world)
    assert receive(palu, number, [{"product": "SUNTIK-3", "lot": "S3-A", "received": 500}]).status_code == 201
    with NothingPosted():
        response = receive(palu, number, [{"product": "SUNTIK-3", "lot": "S3-A", "received": 1}])
    assert response.status_code == 409
    assert response.json()["detail"].startswith(f"Shipment {number} was already received by kab7271 on ")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"client_uuid": "not-a-uuid"}, "client_uuid"),
        ({"client_uuid": 12345}, "client_uuid"),  # the 128 bits as a number: not a UUID string
        ({"client_uuid": "123e4567-e89b-12d3-a456-42661417400"}, "client_uuid"),
        ({"client_uuid": None}, "client_uuid"),
        ({"lines": []}, "lines"),
        ({"lines": None}, "lines"),
        ({"lines": [{"product": "SUNTIK-3", "lot": "NO-SUCH", "received": 5}]}, "lines"),
        ({"lines": [{"product": "SUNTIK-3", "lot": "PK-9", "received": 5}]}, "lines"),  # another product's lot
        ({"lines": [{"product": "SUNTIK-3", "received": 5}]}, "lines"),  # the lot is required
        ({"lines": [{"product": "NOPE", "lot": "S3-A", "received": 5}]}, "lines"),
        ({"lines": [{"product": "SUNTIK-3", "lot": "S3-A", "received": -1}]}, "lines"),
        ({"lines": [{"product": "SUNTIK-3", "lot": "S3-A", "received": 1.5}]}, "lines"),
        ({"lines": [{"product": "SUNTIK-3", "lot": "S3-A", "received": "5"}]}, "lines"),
        ({"lines": [{"product": "SUNTIK-3", "lot": "S3-A", "received": 5, "damaged": True}]}, "lines"),
        ({"lines": [{"product": "SUNTIK-3", "lot": "S3-A", "received": 10_000_001}]}, "lines"),
        ({"lines": [{"product": "SUNTIK-3", "lot": "S3-A", "received": 0, "damaged": 0}]}, "detail"),
    ],
)
def test_bad_receipts_are_400(world, change, field):
    number = dispatched(world)
    body = {
        "client_uuid": str(uuid.uuid4()),
        "lines": [{"product": "SUNTIK-3", "lot": "S3-A", "received": 5}],
        **change,
    }
    with NothingPosted():
        response = world["client"]["palu"].post(f"{API}/shipments/{number}/receipts/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_lot_of_another_product_names_the_lot(world):
    number = dispatched(world)
    response = receive(world["client"]["palu"], number, [{"product": "SUNTIK-3", "lot": "PK-9", "received": 5}])
    assert response.json() == {"lines": {"0": {"lot": ["SUNTIK-3 has no lot PK-9."]}}}


def test_malformed_receipt_json_is_400(world):
    number = dispatched(world)
    with NothingPosted():
        response = world["client"]["palu"].post(
            f"{API}/shipments/{number}/receipts/", "{oops", content_type="application/json"
        )
    assert response.status_code == 400


# --- the scanner ----------------------------------------------------------------------------


def test_scan_a_typed_number_and_a_product_barcode(world):
    palu = world["client"]["palu"]
    number = dispatched(world)
    token = Shipment.objects.get(number=number).token
    assert palu.post(f"{API}/scan/", {"code": f"  {number.lower()}\n"}, format="json").json() == {
        "type": "shipment",
        "number": number,
        "receive_url": shipment_url(token),
    }

    Product.objects.filter(code="SUNTIK-3").update(gtin="09506000134352")
    expiry = world["lot_a"].expiry
    code = f"(01)09506000134352(17){expiry:%y%m%d}(10)S3-A"
    assert palu.post(f"{API}/scan/", {"code": code}, format="json").json() == {
        "type": "lot",
        "product": "SUNTIK-3",
        "lot": "S3-A",
        "expiry": expiry.isoformat(),
        "gtin": "09506000134352",
        "lot_known": True,
    }
    body = palu.post(f"{API}/scan/", {"code": "https://id.gs1.org/01/09506000134352"}, format="json").json()
    assert (body["lot"], body["expiry"], body["lot_known"]) == (None, None, False)


def test_scan_of_a_draft_or_by_someone_who_may_not_receive_has_no_url(world):
    draft = create(world["client"]["prov"]).json()["number"]
    body = world["client"]["palu"].post(f"{API}/scan/", {"code": draft}, format="json").json()
    assert body == {"type": "shipment", "number": draft, "receive_url": None}

    # the province above a district-to-clinic shipment sees it, but not its token
    number = dispatched(world, {"product": "SUNTIK-3", "quantity": 5}, origin="palu", destination="72.71-001")
    body = world["client"]["prov"].post(f"{API}/scan/", {"code": number}, format="json").json()
    assert body == {"type": "shipment", "number": number, "receive_url": None}


def test_scan_of_a_tampered_token_is_404_and_posts_nothing(world):
    palu = world["client"]["palu"]
    number = dispatched(world)
    token = Shipment.objects.get(number=number).token
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    with NothingPosted():
        for code in (shipment_url(tampered), f"SBBK-72-{YEAR}-999999"):
            response = palu.post(f"{API}/scan/", {"code": code}, format="json")
            assert response.status_code == 404
            assert response.json() == {"detail": "No shipment matches this code.", "code": "not_found"}
        # and the real token, seen from outside the shipment's places, is the same 404
        response = world["client"]["sigi"].post(f"{API}/scan/", {"code": shipment_url(token)}, format="json")
        assert response.status_code == 404


@pytest.mark.parametrize(
    "body", [{"code": "hello world"}, {"code": ""}, {"code": "x" * 5000}, {}, {"code": None}, {"code": "a\x00b"}]
)
def test_scan_of_anything_else_is_400(world, body):
    response = world["client"]["palu"].post(f"{API}/scan/", body, format="json")
    assert response.status_code == 400
    assert response.json()


def test_scan_of_malformed_json_is_400(world):
    assert world["client"]["palu"].post(f"{API}/scan/", "{", content_type="application/json").status_code == 400


# --- reading, and scoping on every endpoint --------------------------------------------------


@pytest.fixture
def clinic_shipment(world):
    """Kota Palu → Puskesmas Talise, dispatched: the province and the clinic can see it, Sigi cannot."""
    return dispatched(world, {"product": "SUNTIK-3", "quantity": 5}, origin="palu", destination="72.71-001")


def test_who_sees_a_shipment_and_its_token(world, clinic_shipment):
    number = clinic_shipment
    token = Shipment.objects.get(number=number).token
    for name in ("palu", "c1"):  # origin and destination staff
        client = world["client"][name]
        assert client.get(f"{API}/shipments/{number}/").json()["qr_url"] == shipment_url(token)
        assert client.get(f"{API}/shipments/{number}/qr.svg").status_code == 200
    prov = world["client"]["prov"]  # above both: sees the shipment, not its token
    assert prov.get(f"{API}/shipments/{number}/").json()["qr_url"] is None
    assert prov.get(f"{API}/shipments/{number}/qr.svg").status_code == 404
    for name in ("sigi",):
        client = world["client"][name]
        for path in ("", "qr.svg"):
            response = client.get(f"{API}/shipments/{number}/{path}")
            assert response.status_code == 404
            assert response.json() == {"detail": f"Shipment {number} was not found.", "code": "not_found"}
    # a homeless user sees nothing
    assert (
        client_for(world["users"]["prov"].__class__.objects.create(username="x"))
        .get(f"{API}/shipments/{number}/")
        .status_code
        == 404
    )


def test_qr_svg_of_a_draft_is_404(world):
    number = create(world["client"]["prov"]).json()["number"]
    response = world["client"]["prov"].get(f"{API}/shipments/{number}/qr.svg")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Shipment {number} has not been dispatched yet.", "code": "not_found"}


def test_list_is_scoped_and_filtered_by_codes(world, clinic_shipment):
    prov, palu, sigi, c1 = (world["client"][n] for n in ("prov", "palu", "sigi", "c1"))
    to_palu = dispatched(world)
    draft = create(prov, "72", "72.10").json()["number"]

    def numbers(client, query=""):
        response = client.get(f"{API}/shipments/{query}")
        assert response.status_code == 200, response.json()
        return [row["number"] for row in response.json()["results"]]

    assert numbers(prov) == [draft, to_palu, clinic_shipment]  # newest first
    assert numbers(palu) == [to_palu, clinic_shipment]
    assert numbers(sigi) == [draft]
    assert numbers(c1) == [clinic_shipment]
    assert numbers(prov, "?status=draft") == [draft]
    assert numbers(prov, "?status=dispatched&destination=72.71") == [to_palu]
    assert numbers(prov, "?origin=72.71") == [clinic_shipment]
    assert numbers(prov, "?status=&origin=&destination=") == [draft, to_palu, clinic_shipment]
    assert numbers(prov, "?limit=1&offset=1") == [to_palu]

    row = prov.get(f"{API}/shipments/?destination=72.71").json()["results"][0]
    assert set(row) == {
        "number",
        "status",
        "origin",
        "destination",
        "created_at",
        "dispatched_at",
        "expected_arrival",
        "lines",
    }
    assert row["lines"][0]["lot"] == "S3-A"


@pytest.mark.parametrize("query", ["?origin=72", "?destination=72.10", "?origin=73.71", "?destination=99"])
def test_list_filter_outside_the_subtree_is_404(world, query):
    response = world["client"]["palu"].get(f"{API}/shipments/{query}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("query", ["?status=lost", "?origin=%00", "?destination=" + "7" * 100, "?origin=../72"])
def test_list_bad_parameters_are_400(world, query):
    response = world["client"]["prov"].get(f"{API}/shipments/{query}")
    assert response.status_code == 400


def test_detail_query_count_does_not_grow_with_lines(world):
    prov = world["client"]["prov"]
    small = dispatched(world, {"product": "SUNTIK-3", "quantity": 5})
    big = dispatched(world, *[{"product": "SUNTIK-3", "quantity": 5, "lot": b} for b in ("S3-A", "S3-B")] * 3)
    palu = world["client"]["palu"]
    for number in (small, big):
        receive(palu, number, [{"product": "SUNTIK-3", "lot": "S3-B", "received": 1, "damaged": 1}])
    counts = []
    for number in (small, big):
        with CaptureQueriesContext(connection) as queries:
            assert prov.get(f"{API}/shipments/{number}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- methods, authentication, unknown paths -----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "shipments/"),
        ("delete", "shipments/"),
        ("post", "shipments/{n}/"),
        ("put", "shipments/{n}/"),
        ("patch", "shipments/{n}/"),
        ("delete", "shipments/{n}/"),
        ("get", "shipments/{n}/dispatch/"),
        ("get", "shipments/{n}/receipts/"),
        ("post", "shipments/{n}/qr.svg"),
        ("get", "scan/"),
    ],
)
def test_wrong_methods_are_405(world, method, path):
    number = dispatched(world)
    with NothingPosted():
        response = getattr(world["client"]["prov"], method)(f"{API}/" + path.format(n=number), {}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path", ["shipments/", "shipments/SBBK-72-2025-000001/", "shipments/SBBK-72-2025-000001/qr.svg", "scan/"]
)
def test_anonymous_is_401(world, path):
    assert APIClient().get(f"{API}/{path}").status_code == 401
    assert APIClient().post(f"{API}/{path}", {}, format="json").status_code in (401, 405)


@pytest.mark.parametrize("path", ["shipments/SBBK-72-2025-000001/nope/", "shipments/%00/", "shipments/a/b/dispatch/"])
def test_unknown_shipment_paths_are_json_404(world, path):
    response = world["client"]["prov"].get(f"{API}/{path}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_browsable_api_renders(world):
    client = APIClient()
    client.force_authenticate(world["users"]["prov"])
    number = dispatched(world)
    for path in ("shipments/", f"shipments/{number}/", "scan/"):
        response = client.get(f"{API}/{path}", HTTP_ACCEPT="text/html")
        assert response.status_code in (200, 405), path
        assert response["Content-Type"].startswith("text/html")


def test_schema_documents_the_shipment_endpoints():
    paths = APIClient().get(f"{API}/schema/?format=json").json()["paths"]
    for path in (
        "shipments/",
        "shipments/{number}/",
        "shipments/{number}/dispatch/",
        "shipments/{number}/receipts/",
        "scan/",
    ):
        assert f"/api/v1/{path}" in paths
    assert "/api/v1/shipments/{number}/qr.svg" in paths


def test_lines_are_looked_up_in_a_fixed_number_of_queries(world):
    """Products and lots of all lines at once: a big receipt costs no more queries to check than a small one."""
    palu = world["client"]["palu"]
    number = dispatched(world)
    good = {"product": "SUNTIK-3", "lot": "S3-A", "received": 1}
    bad = {"product": "SUNTIK-3", "lot": "NO-SUCH", "received": 1}
    counts = []
    for lines in ([bad], [good] * 7 + [bad]):
        with CaptureQueriesContext(connection) as queries:
            response = receive(palu, number, lines)
        assert response.status_code == 400
        assert list(response.json()["lines"]) == [str(len(lines) - 1)]
        counts.append(len(queries))
    assert counts[0] == counts[1]
