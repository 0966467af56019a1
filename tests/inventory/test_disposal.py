"""Disposal of expired stock: one movement to loss, reason expired, only lots that have expired."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory.errors import InvalidDocument, NotAllowed
from inventory.models import EntryReason, LedgerEntry, Movement, MovementKind, Product, StockBalance
from inventory.services.disposal import dispose_expired
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shelf(tree, make_user):
    """Kota Palu holds two expired lots (one expiring today), one good lot, and an expired lot it has used up."""
    today = timezone.localdate()
    pill = Product.objects.get(code="PIL-KOMB")
    suntik = Product.objects.get(code="SUNTIK-3")
    lots = {
        "pill_old": LotFactory(product=pill, batch="PK-OLD", expiry=today - dt.timedelta(days=30)),
        "suntik_today": LotFactory(product=suntik, batch="S3-TODAY", expiry=today),
        "good": LotFactory(product=suntik, batch="S3-GOOD", expiry=today + dt.timedelta(days=300)),
    }
    opening_balance_post(
        location=tree["palu"],
        lines=[(lots["pill_old"], 40), (lots["suntik_today"], 7), (lots["good"], 100)],
        business_date=today - dt.timedelta(days=90),
    )
    return {**tree, "lots": lots, "staff": make_user("kab", tree["palu"]), "prov": make_user("prov", tree["prov"])}


def quantity(location, lot):
    return StockBalance.objects.get(location=location, lot=lot).quantity


def test_all_expired_stock_goes_to_loss_as_expired_in_one_movement(shelf):
    movement = dispose_expired(location=shelf["palu"], actor=shelf["staff"])
    lots = shelf["lots"]
    assert movement.kind == MovementKind.LOSS and movement.document.startswith("MUSNAH-72.71-")
    assert quantity(shelf["palu"], lots["pill_old"]) == 0 and quantity(shelf["palu"], lots["suntik_today"]) == 0
    assert quantity(shelf["palu"], lots["good"]) == 100
    entries = LedgerEntry.objects.filter(movement_id=movement.pk)
    assert {e.reason for e in entries} == {EntryReason.EXPIRED}
    lost = {e.lot.batch: e.quantity for e in entries if e.location.virtual_role == "loss"}
    assert lost == {"PK-OLD": 40, "S3-TODAY": 7}
    assert ledger_check().ok


def test_chosen_lots_only_and_each_must_have_expired(shelf, english):
    lots = shelf["lots"]
    with pytest.raises(InvalidDocument, match="has not expired"):
        dispose_expired(location=shelf["palu"], actor=shelf["staff"], lots=[lots["pill_old"], lots["good"]])
    assert not Movement.objects.filter(kind=MovementKind.LOSS).exists()
    dispose_expired(location=shelf["palu"], actor=shelf["staff"], lots=[lots["pill_old"]])
    assert quantity(shelf["palu"], lots["suntik_today"]) == 7
    with pytest.raises(InvalidDocument, match="holds no stock of lot PK-OLD"):
        dispose_expired(location=shelf["palu"], actor=shelf["staff"], lots=[lots["pill_old"]])


def test_nothing_expired_is_a_clear_400(shelf, english):
    dispose_expired(location=shelf["palu"], actor=shelf["staff"])
    with pytest.raises(InvalidDocument, match="Kota Palu holds no expired stock") as caught:
        dispose_expired(location=shelf["palu"], actor=shelf["staff"])
    assert caught.value.http_status == 400


def test_only_staff_of_the_location(shelf):
    with pytest.raises(NotAllowed):
        dispose_expired(location=shelf["palu"], actor=shelf["prov"])
    assert quantity(shelf["palu"], shelf["lots"]["pill_old"]) == 40


def client_for(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_api_disposal(shelf):
    client = client_for(shelf["staff"])
    assert client.post("/api/v1/disposals/", {"location": "72.71", "lots": ["NOPE"]}, format="json").status_code == 400
    assert client.post("/api/v1/disposals/", {"location": "72.71", "lots": []}, format="json").status_code == 400
    assert client.post("/api/v1/disposals/", {"location": "73.71"}, format="json").status_code == 404
    refused = client_for(shelf["prov"]).post("/api/v1/disposals/", {"location": "72.71"}, format="json")
    assert refused.status_code == 403
    response = client.post("/api/v1/disposals/", {"location": "72.71", "lots": ["S3-TODAY"]}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["lines"] == [
        {"product": "SUNTIK-3", "lot": "S3-TODAY", "expiry": timezone.localdate().isoformat(), "quantity": 7}
    ]
    rest = client.post("/api/v1/disposals/", {"location": "72.71"}, format="json")
    assert rest.status_code == 201 and [ln["lot"] for ln in rest.json()["lines"]] == ["PK-OLD"]
    empty = client.post("/api/v1/disposals/", {"location": "72.71"}, format="json")
    assert empty.status_code == 400 and "no expired stock" in empty.json()["detail"]


def test_expired_page_lists_and_disposes(client, shelf):
    url = reverse("expired-disposal", args=["72.71"])
    client.force_login(shelf["prov"])
    assert b"PK-OLD" in client.get(url).content  # the province sees it, without the button
    assert client.post(url).status_code == 403
    client.force_login(shelf["staff"])
    page = client.get(url).content.decode()
    assert "PK-OLD" in page and "S3-TODAY" in page and "S3-GOOD" not in page
    assert client.post(url).status_code == 302
    assert not StockBalance.objects.filter(
        location=shelf["palu"], quantity__gt=0, lot__expiry__lte=timezone.localdate()
    )
    assert client.post(url).status_code == 400
