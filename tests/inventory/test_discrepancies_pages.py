"""Discrepancy pages: the filtered list, the detail with its history, the resolve form
(only the allowed resolutions, POST + CSRF, errors on the page), and the shipment page's links."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inventory.models import Discrepancy, Movement, Product, Shipment
from inventory.services.discrepancies import discrepancy_resolve
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.receipts import ReceiptLineSpec, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def world(tree, make_user):
    """Province → Palu: 100 shipped, 90 + 4 of another lot received (short 10, other lot 4)."""
    product = Product.objects.get(code="SUNTIK-3")
    today = timezone.localdate()
    lot_a = LotFactory(product=product, batch="S3-A", expiry=today + dt.timedelta(days=500))
    lot_b = LotFactory(product=product, batch="S3-B", expiry=today + dt.timedelta(days=600))
    opening_balance_post(location=tree["prov"], lines=[(lot_a, 1000), (lot_b, 100)], business_date=today)
    users = {
        "prov": make_user("prov72", tree["prov"]),
        "palu": make_user("kab7271", tree["palu"], first_name="Dewi", last_name="Palu"),
        "field": make_user("plkb7271", tree["palu"], role="field"),
        "other": make_user("kab7371", tree["other_district"]),
    }
    shipment = shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(product, 100, lot_a)], actor=users["prov"]
    )
    shipment_dispatch(shipment=shipment, actor=users["prov"])
    receipt_record(
        shipment=shipment,
        lines=[ReceiptLineSpec(product, lot_a, 90), ReceiptLineSpec(product, lot_b, 4)],
        client_uuid=uuid.uuid4(),
        actor=users["palu"],
    )
    return {
        **tree,
        "users": users,
        "shipment": shipment,
        "short": Discrepancy.objects.get(kind="short"),
        "other_lot": Discrepancy.objects.get(kind="other_lot"),
    }


def url(record):
    return reverse("discrepancy-detail", args=[record.pk])


def test_list_shows_open_ones_in_scope_with_filters(client, world):
    client.force_login(world["users"]["prov"])
    response = client.get(reverse("discrepancy-list"))
    assert response.status_code == 200
    assert {d.kind for d in response.context["page"].object_list} == {"short", "other_lot"}
    assert url(world["short"]).encode() in response.content
    only = client.get(reverse("discrepancy-list"), {"kind": "short", "route": "province>district", "age": ""})
    assert [d.kind for d in only.context["page"].object_list] == ["short"]
    assert not client.get(reverse("discrepancy-list"), {"age": "7"}).context["page"].object_list
    assert not client.get(reverse("discrepancy-list"), {"status": "resolved"}).context["page"].object_list
    assert client.get(reverse("discrepancy-list"), {"kind": "nonsense"}).status_code == 400
    assert client.get(reverse("discrepancy-list"), {"location": "73.71"}).status_code == 400
    client.force_login(world["users"]["other"])
    assert not client.get(reverse("discrepancy-list")).context["page"].object_list


def test_detail_is_404_out_of_scope(client, world):
    client.force_login(world["users"]["other"])
    assert client.get(url(world["short"])).status_code == 404
    assert (
        client.post(url(world["short"]), {"resolution": "write_off", "quantity": 10, "reason": "lost"}).status_code
        == 404
    )
    assert client.get(reverse("discrepancy-detail", args=[999999])).status_code == 404


def test_form_offers_only_what_the_user_may_choose(client, world):
    client.force_login(world["users"]["palu"])
    page = client.get(url(world["short"]))
    choices = [value for value, _label in page.context["form"].fields["resolution"].choices]
    assert choices == ["write_off", "late_receipt"]
    assert b'name="csrfmiddlewaretoken"' in page.content and b'value="late_receipt"' in page.content
    client.force_login(world["users"]["prov"])
    page = client.get(url(world["short"]))
    assert [v for v, _ in page.context["form"].fields["resolution"].choices] == ["write_off"]
    assert b'value="late_receipt"' not in page.content
    client.force_login(world["users"]["field"])
    page = client.get(url(world["short"]))
    assert page.status_code == 200 and page.context["form"] is None


def test_resolving_redirects_with_a_message_and_shows_the_history(client, world):
    client.force_login(world["users"]["palu"])
    response = client.post(url(world["short"]), {"resolution": "late_receipt", "quantity": 4, "note": "came by boat"})
    assert response.status_code == 302 and response["Location"] == url(world["short"])
    page = client.get(response["Location"])
    text = page.content.decode()
    assert "was resolved: Late receipt, 4 units" in text and "stay open as discrepancy" in text
    assert "came by boat" in text and "Dewi Palu" in text
    assert [event.what for event in page.context["history"]][:3] == ["Created", "Dispatched", "Received"]
    assert page.context["form"] is None
    remainder = Discrepancy.objects.get(split_from=world["short"])
    assert remainder.quantity == 6 and ledger_check().ok


def test_errors_are_shown_on_the_page_and_nothing_is_saved(client, world):
    client.force_login(world["users"]["palu"])
    movements = Movement.objects.count()
    missing_reason = client.post(url(world["short"]), {"resolution": "write_off", "quantity": 10})
    assert missing_reason.status_code == 400 and b"needs a reason" in missing_reason.content
    too_many = client.post(url(world["short"]), {"resolution": "write_off", "quantity": 11, "reason": "lost"})
    assert too_many.status_code == 400 and b"is for 10 units" in too_many.content
    not_a_number = client.post(url(world["short"]), {"resolution": "write_off", "quantity": "ten", "reason": "lost"})
    assert not_a_number.status_code == 400
    wrong_kind = client.post(url(world["short"]), {"resolution": "return", "quantity": 10})
    assert wrong_kind.status_code == 400
    client.force_login(world["users"]["field"])
    forbidden = client.post(url(world["short"]), {"resolution": "write_off", "quantity": 10, "reason": "lost"})
    assert forbidden.status_code == 403 and b"Only warehouse staff and managers" in forbidden.content
    assert Movement.objects.count() == movements
    assert Discrepancy.objects.get(pk=world["short"].pk).status == "open"


def test_a_resolution_someone_else_made_first_is_a_409_on_the_page(client, world):
    client.force_login(world["users"]["prov"])
    page = client.get(url(world["short"]))
    assert page.context["form"] is not None
    discrepancy_resolve(discrepancy=world["short"], resolution="late_receipt", actor=world["users"]["palu"])
    response = client.post(url(world["short"]), {"resolution": "write_off", "quantity": 10, "reason": "lost"})
    assert response.status_code == 409 and b"already resolved" in response.content and b"Dewi Palu" in response.content
    assert response.context["form"] is None


def test_the_form_needs_the_csrf_token(world):
    strict = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    strict.force_login(world["users"]["palu"])
    response = strict.post(url(world["short"]), {"resolution": "late_receipt", "quantity": 10})
    assert response.status_code == 403
    assert Discrepancy.objects.get(pk=world["short"].pk).status == "open"


def test_shipment_page_links_discrepancies_the_return_and_the_history(client, world):
    discrepancy_resolve(discrepancy=world["other_lot"], resolution="return", actor=world["users"]["palu"])
    back = Shipment.objects.get(returns=world["shipment"])
    client.force_login(world["users"]["prov"])
    text = client.get(reverse("shipment-detail", args=[world["shipment"].number])).content.decode()
    assert url(world["short"]) in text and url(world["other_lot"]) in text
    assert reverse("shipment-detail", args=[back.number]) in text
    assert "History" in text and "Discrepancy resolved: Other lot SUNTIK-3 S3-B (4), Return" in text
    back_page = client.get(reverse("shipment-detail", args=[back.number])).content.decode()
    assert "Return of" in back_page and reverse("shipment-detail", args=[world["shipment"].number]) in back_page


def test_indonesian_is_the_default(client, world, settings):
    client.defaults.pop("HTTP_ACCEPT_LANGUAGE")
    client.force_login(world["users"]["palu"])
    assert client.get(reverse("discrepancy-list")).status_code == 200
    assert client.get(url(world["short"])).status_code == 200
