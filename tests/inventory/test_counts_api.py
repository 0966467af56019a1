"""REST API v1 for stock counts: create and approve by codes, idempotency, bad input as clear 4xx, scoping."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory.models import CountStatus, Movement, MovementKind, Product, StockBalance, StockCount, StockCountLine
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.posting import movement_post, transfer
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/counts/"


def client_for(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def world(tree, make_user):
    today = timezone.localdate()
    suntik = Product.objects.get(code="SUNTIK-3")
    lot_a = LotFactory(product=suntik, batch="S3-A", expiry=today + dt.timedelta(days=500))
    LotFactory(product=Product.objects.get(code="PIL-KOMB"), batch="PK-9")
    opening_balance_post(location=tree["palu"], lines=[(lot_a, 50)], business_date=today)
    users = {
        "clerk": make_user("kab7271", tree["palu"]),
        "head": make_user("kepala7271", tree["palu"], role="head"),
        "manager": make_user("kabid72", tree["prov"], role="manager"),
        "sigi": make_user("kab7210", tree["sigi"]),
        "other": make_user("prov73", tree["other"], role="manager"),
    }
    return {**tree, "lot_a": lot_a, "users": users, "client": {k: client_for(u) for k, u in users.items()}}


def post_count(client, lines=None, location="72.71", **extra):
    body = {"location": location, "lines": lines if lines is not None else [_line()], **extra}
    return client.post(URL, body, format="json")


def _line(product="SUNTIK-3", lot="S3-A", counted=47):
    return {"product": product, "lot": lot, "counted": counted}


def test_create_then_approve(world):
    response = post_count(world["client"]["clerk"])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "submitted" and body["location"] == "72.71" and body["submitted_by"] == "kab7271"
    assert body["number"] == f"OPN-{body['id']:06d}"
    assert body["lines"] == [
        {
            "product": "SUNTIK-3",
            "lot": "S3-A",
            "expiry": world["lot_a"].expiry.isoformat(),
            "counted": 47,
            "system_quantity": 50,
            "difference": -3,
        }
    ]
    approved = world["client"]["manager"].post(f"{URL}{body['id']}/approve/", {"note": "ok"}, format="json")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == "kabid72"
    assert StockBalance.objects.get(location=world["palu"], lot=world["lot_a"]).quantity == 47
    assert ledger_check().ok

    again = world["client"]["head"].post(f"{URL}{body['id']}/approve/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict" and "already approved by kabid72" in again.json()["detail"]
    assert StockBalance.objects.get(location=world["palu"], lot=world["lot_a"]).quantity == 47


def test_counter_cannot_approve_own_count(world):
    count_id = post_count(world["client"]["head"]).json()["id"]
    response = world["client"]["head"].post(f"{URL}{count_id}/approve/", {}, format="json")
    assert response.status_code == 403 and "someone else" in response.json()["detail"]
    assert StockCount.objects.get().status == CountStatus.SUBMITTED


def test_reject(world):
    count_id = post_count(world["client"]["clerk"]).json()["id"]
    missing = world["client"]["manager"].post(f"{URL}{count_id}/reject/", {}, format="json")
    assert missing.status_code == 400 and "note" in missing.json()
    response = world["client"]["manager"].post(f"{URL}{count_id}/reject/", {"note": "recount"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert StockBalance.objects.get(location=world["palu"], lot=world["lot_a"]).quantity == 50


def test_client_uuid_makes_a_retry_the_same_count(world):
    key = str(uuid.uuid4())
    first = post_count(world["client"]["clerk"], client_uuid=key)
    again = post_count(world["client"]["clerk"], client_uuid=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    other = post_count(world["client"]["clerk"], lines=[_line(counted=48)], client_uuid=key)
    assert other.status_code == 409 and "different count" in other.json()["detail"]
    assert StockCount.objects.count() == 1


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (_line(counted=-1), "counted"),
        (_line(counted=1.5), "counted"),
        (_line(counted="7"), "counted"),
        (_line(counted=True), "counted"),
        (_line(counted=10**30), "counted"),
        (_line(counted=None), "counted"),
        (_line(product="NOPE"), "product"),
        (_line(lot="NOPE"), "lot"),
        (_line(product="PIL-KOMB"), "lot"),  # S3-A is an injectable lot
        (_line(product="x" * 1000), "product"),
        ({"product": "SUNTIK-3", "lot": "S3-A"}, "counted"),
    ],
)
def test_bad_lines_are_400_on_the_line(world, line, field):
    response = post_count(world["client"]["clerk"], lines=[_line(), line])
    assert response.status_code == 400
    assert field in response.json()["lines"]["1"], response.json()
    assert not StockCount.objects.exists() and not StockCountLine.objects.exists()


def test_duplicate_lot_lines_are_refused(world):
    response = post_count(world["client"]["clerk"], lines=[_line(counted=1), _line(counted=2)])
    assert response.status_code == 400
    assert "count each lot once" in response.json()["lines"]["1"]["lot"][0]
    assert not StockCount.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"location": "72.71"}, {"location": "72.71", "lines": []}, {"location": "72.71", "lines": "x"}, []],
)
def test_malformed_bodies_are_400(world, body):
    response = world["client"]["clerk"].post(URL, body, format="json")
    assert response.status_code == 400
    assert not StockCount.objects.exists()


def test_location_outside_scope_is_404_and_someone_elses_is_403(world):
    for location in ("72.10", "73", "99.99", "bad code"):
        response = post_count(world["client"]["clerk"], location=location)
        assert response.status_code in (400, 404), (location, response.status_code)
    assert post_count(world["client"]["clerk"], location="72.10").status_code == 404
    # The province manager can see Kota Palu but does not count there.
    forbidden = post_count(world["client"]["manager"])
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"
    assert not StockCount.objects.exists()


def test_counts_are_scoped_and_filtered(world):
    count_id = post_count(world["client"]["clerk"]).json()["id"]
    listed = world["client"]["manager"].get(URL, {"location": "72.71", "status": "submitted"})
    assert listed.status_code == 200 and [c["id"] for c in listed.json()["results"]] == [count_id]
    assert world["client"]["manager"].get(URL, {"status": "approved"}).json()["results"] == []
    assert world["client"]["sigi"].get(URL).json()["results"] == []
    assert world["client"]["sigi"].get(URL, {"location": "72.71"}).status_code == 404
    assert world["client"]["manager"].get(URL, {"status": "bogus"}).status_code == 400
    # Another subtree's count: the same 404 as one that does not exist, for reading and approving.
    for client in (world["client"]["sigi"], world["client"]["other"]):
        assert client.get(f"{URL}{count_id}/").status_code == 404
        assert client.post(f"{URL}{count_id}/approve/", {}, format="json").status_code == 404
    assert world["client"]["manager"].get(f"{URL}{10**30}/").status_code == 404
    assert world["client"]["manager"].post(f"{URL}{2**63}/approve/", {}, format="json").status_code == 404
    assert StockCount.objects.get().status == CountStatus.SUBMITTED


def test_approval_the_stock_cannot_absorb_is_409_and_writes_nothing(world):
    count_id = post_count(world["client"]["clerk"], lines=[_line(counted=0)]).json()["id"]  # 50 missing
    movement_post(
        kind=MovementKind.ADJUSTMENT,
        entries=transfer(source=world["palu"], destination=world["c1"], lot=world["lot_a"], quantity=20),
        business_date=timezone.localdate(),
        document="TEST",
    )
    movements = Movement.objects.count()
    response = world["client"]["manager"].post(f"{URL}{count_id}/approve/", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    assert Movement.objects.count() == movements
    assert StockCount.objects.get().status == CountStatus.SUBMITTED


def test_schema_documents_the_count_endpoints(db):
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create(username="schema", is_superuser=True))
    text = client.get("/api/v1/schema/").content.decode()
    for path in ("/api/v1/counts/", "/api/v1/counts/{id}/approve/"):
        assert path in text
