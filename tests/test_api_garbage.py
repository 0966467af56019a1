"""No write endpoint of the API answers 500, whatever the body: a clear 4xx and nothing written.

Every POST/PUT endpoint that takes a body gets malformed and hostile bodies (wrong JSON types, nulls,
huge and negative numbers, nested junk, unknown codes); each must answer 400, 403,
404 or 409 with a JSON body carrying a message, and the ledger must not move.
"""

import itertools
import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from inventory.models import LedgerEntry, Movement

pytestmark = pytest.mark.django_db

BODIES = [
    None,
    [],
    "text",
    12,
    {},
    {"location": None, "lines": None},
    {"location": ["72.71"], "lines": "x"},
    {"location": "72.71-001", "lines": [None]},
    {"location": "72.71-001", "lines": [{"product": {"a": 1}, "lot": [], "quantity": "many"}]},
    {"location": "72.71-001", "lines": [{"product": "KONDOM", "quantity": 10**30, "counted": -1, "received": 1.5}]},
    {"location": "NOPE", "date": "2026-13-45", "lines": [{"product": "NOPE", "quantity": 1}]},
    {"resolution": "explode", "quantity": -3, "reason": {"x": 1}, "note": ["a"]},
    {"resolution": None, "quantity": "1e400"},
    {"KONDOM": {"active_users": -1, "new_users": "x"}, "NOPE": 3},
    {"KONDOM": None},
    {"client_uuid": "not-a-uuid", "lines": [{"product": "KONDOM", "lot": "X", "received": 1}]},
    {"note": "x" * 100_000},
]

PATHS = [
    ("post", "/api/v1/shipments/"),
    ("post", "/api/v1/shipments/{shipment}/receipts/"),
    ("post", "/api/v1/scan/"),
    ("post", "/api/v1/discrepancies/{discrepancy}/resolve/"),
    ("post", "/api/v1/discrepancies/99999999999999999999/resolve/"),
    ("post", "/api/v1/counts/"),
    ("post", "/api/v1/counts/{count}/approve/"),
    ("post", "/api/v1/dispensing/"),
    ("put", "/api/v1/service-figures/72.71-001/2026-01/"),
    ("put", "/api/v1/service-figures/72.71-001/2026-99/"),
    ("post", "/api/v1/disposals/"),
]


@pytest.fixture
def clients(tree, make_user):
    result = {}
    for username, location in (("kab7271", tree["palu"]), ("faskes7271", tree["c1"])):
        client = APIClient()
        client.force_authenticate(make_user(username, location))
        result[username] = client
    return result


@pytest.fixture
def documents(stocked, lot, make_user):
    """A shipment to Palu received short (one open discrepancy), a submitted count."""
    import uuid

    from inventory.services.counts import CountLineSpec, count_create_submitted
    from inventory.services.opening import opening_balance_post
    from inventory.services.receipts import ReceiptLineSpec, receipt_record
    from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch

    today = timezone.localdate()
    opening_balance_post(location=stocked["palu"], lines=[(lot, 50)], business_date=today)
    palu, prov = make_user("kab7271", stocked["palu"]), make_user("prov72", stocked["prov"])
    shipment = shipment_create(
        origin=stocked["prov"], destination=stocked["palu"], lines=[LineSpec(lot.product, 10, lot)], actor=prov
    )
    shipment_dispatch(shipment=shipment, actor=prov)
    receipt_record(
        shipment=shipment, lines=[ReceiptLineSpec(lot.product, lot, 6)], client_uuid=uuid.uuid4(), actor=palu
    )
    count = count_create_submitted(
        location=stocked["palu"], lines=[CountLineSpec(lot.product, lot, 40)], actor=palu
    ).count
    return {
        "shipment": shipment.number,
        "discrepancy": shipment.discrepancies.get().pk,
        "count": count.pk,
    }


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_garbage_gets_a_clear_4xx_and_writes_nothing(clients, documents, method, path):
    path = path.format(**documents)
    movements, entries = Movement.objects.count(), LedgerEntry.objects.count()
    # Each body once, from the district's clerk and the clinic's in turn.
    for client, body in zip(itertools.cycle(clients.values()), BODIES, strict=False):
        response = getattr(client, method)(path, data=json.dumps(body), content_type="application/json")
        assert 400 <= response.status_code < 500, (path, body, response.status_code, response.content[:300])
        payload = response.json()
        assert payload, (path, body)
    # Not JSON at all.
    response = getattr(clients["kab7271"], method)(path, data=b"{not json", content_type="application/json")
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert (Movement.objects.count(), LedgerEntry.objects.count()) == (movements, entries)
