"""The shipment pages: list, new draft, detail and dispatch, waybill and QR, /scan, and receiving at /s/<token>."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import Discrepancy, Movement, Product, Receipt, Shipment, ShipmentStatus, StockBalance
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

GS = "\x1d"
GTIN = "09506000134352"


@pytest.fixture
def client(client):
    # English msgids in assertions, whatever translations the .po file holds.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def suntik(tree):
    """SUNTIK-3 (with a GTIN) at the province: 300 of lot S3-A, 200 of lot S3-B."""
    product = Product.objects.get(code="SUNTIK-3")
    product.gtin = GTIN
    product.save(update_fields=["gtin"])
    today = timezone.localdate()
    a = LotFactory(product=product, batch="S3-A", expiry=today + dt.timedelta(days=400))
    b = LotFactory(product=product, batch="S3-B", expiry=today + dt.timedelta(days=700))
    opening_balance_post(location=tree["prov"], lines=[(a, 300), (b, 200)], business_date=today - dt.timedelta(days=5))
    return {"product": product, "a": a, "b": b}


@pytest.fixture
def users(tree, make_user):
    return {
        "prov": make_user("prov72", tree["prov"]),
        "palu": make_user("kab7271", tree["palu"]),
        "sigi": make_user("kab7210", tree["sigi"]),
        "clinic": make_user("pkm001", tree["c1"]),
        "other": make_user("prov73", tree["other"]),
        "manager": make_user("kaper72", tree["prov"], role="manager"),
    }


@pytest.fixture
def draft(tree, suntik, users):
    return shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(suntik["product"], 100)], actor=users["prov"]
    )


@pytest.fixture
def dispatched(draft, users):
    return shipment_dispatch(shipment=draft, actor=users["prov"]).shipment


def balance(location, lot):
    row = StockBalance.objects.filter(location=location, lot=lot).first()
    return row.quantity if row else 0


def create_data(destination="72.71", lines=(), note=""):
    data = {"destination": destination, "note": note, "lines-TOTAL_FORMS": "8", "lines-INITIAL_FORMS": "0"}
    for i, (product, quantity, lot) in enumerate(lines):
        data[f"lines-{i}-product"] = product
        data[f"lines-{i}-quantity"] = quantity
        data[f"lines-{i}-lot"] = lot
    return data


def receive_data(shipment, client_uuid, *, rows, action="record", extras=(), note=""):
    """rows: {lot: (received, damaged, lot found or None, scanned)}; extras: [(product, batch, quantity, scanned)]."""
    data = {"client_uuid": str(client_uuid), "action": action, "note": note, "row": [str(lot.pk) for lot in rows]}
    for lot, (received, damaged, found, scanned) in rows.items():
        data.update(
            {
                f"lot{lot.pk}-received": received,
                f"lot{lot.pk}-damaged": damaged,
                f"lot{lot.pk}-lot": (found or lot).pk,
                f"lot{lot.pk}-scanned": scanned,
            }
        )
    for i, (product, batch, quantity, scanned) in enumerate(extras):
        data.update(
            {f"extra{i}-product": product, f"extra{i}-batch": batch, f"extra{i}-received": quantity}
            | {f"extra{i}-scanned": scanned}
        )
    return data


# --- list ---------------------------------------------------------------------------


def test_list_shows_shipments_in_scope_newest_first(client, tree, suntik, users, dispatched):
    later = shipment_create(
        origin=tree["prov"], destination=tree["sigi"], lines=[LineSpec(suntik["product"], 5)], actor=users["prov"]
    )
    client.force_login(users["prov"])
    numbers = [s.number for s in client.get(reverse("shipment-list")).context["page"].object_list]
    assert numbers == [later.number, dispatched.number]

    client.force_login(users["palu"])  # sees the one coming in, not the one to Sigi
    page = client.get(reverse("shipment-list")).context["page"]
    assert [s.number for s in page.object_list] == [dispatched.number]

    client.force_login(users["other"])
    assert list(client.get(reverse("shipment-list")).context["page"].object_list) == []


def test_list_filters_by_status_and_direction(client, tree, suntik, users, dispatched):
    draft = shipment_create(
        origin=tree["prov"], destination=tree["sigi"], lines=[LineSpec(suntik["product"], 5)], actor=users["prov"]
    )
    client.force_login(users["prov"])
    url = reverse("shipment-list")
    assert [s.number for s in client.get(url, {"status": "draft"}).context["page"]] == [draft.number]
    assert len(client.get(url, {"direction": "outgoing"}).context["page"].object_list) == 2
    assert len(client.get(url, {"direction": "incoming"}).context["page"].object_list) == 0
    client.force_login(users["palu"])
    assert [s.number for s in client.get(url, {"direction": "incoming"}).context["page"]] == [dispatched.number]
    assert client.get(url, {"status": "nonsense"}).status_code == 400


# --- create -------------------------------------------------------------------------


def test_create_offers_children_parent_and_siblings(client, tree, users):
    client.force_login(users["palu"])
    response = client.get(reverse("shipment-create"))
    codes = {loc.code for loc in response.context["form"].fields["destination"].queryset}
    assert codes == {"72", "72.10", "72.71-001", "72.71-002"}


def test_create_then_dispatch_through_the_pages(client, tree, suntik, users):
    client.force_login(users["prov"])
    response = client.post(
        reverse("shipment-create"),
        create_data(lines=[("SUNTIK-3", "120", ""), ("SUNTIK-3", "30", str(suntik["b"].pk))], note="Truck 1"),
    )
    shipment = Shipment.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("shipment-detail", args=[shipment.number])
    assert shipment.status == ShipmentStatus.DRAFT and shipment.note == "Truck 1"
    assert sorted(line.quantity for line in shipment.lines.all()) == [30, 120]

    detail = client.get(response["Location"])
    assert detail.status_code == 200 and detail.context["can_dispatch"]
    assert b"Dispatch" in detail.content

    response = client.post(reverse("shipment-dispatch", args=[shipment.number]), follow=True)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.DISPATCHED and shipment.token
    assert any("was dispatched" in str(m) for m in response.context["messages"])
    assert balance(tree["prov"], suntik["a"]) == 180 and balance(tree["prov"], suntik["b"]) == 170
    assert response.context["receive_url"] is None  # the origin does not receive


@pytest.mark.parametrize(
    ("lines", "destination", "message"),
    [
        ([("SUNTIK-3", "0", "")], "72.71", "greater than or equal to 1"),
        ([("SUNTIK-3", "-5", "")], "72.71", "greater than or equal to 1"),
        ([("SUNTIK-3", "1.5", "")], "72.71", "Enter a whole number"),
        ([("SUNTIK-3", "99999999999", "")], "72.71", "less than or equal to"),
        ([("PIL-KOMB", "10", "LOT_B")], "72.71", "is not a lot of PIL-KOMB"),
        ([("SUNTIK-3", "10", "")], "73.71", "Select a valid choice"),  # out of scope
        ([("SUNTIK-3", "10", "")], "72.71-001", "Select a valid choice"),  # a grandchild
        ([("SUNTIK-3", "10", "")], "nowhere", "Select a valid choice"),
        ([], "72.71", "at least one line"),
        ([("", "10", "")], "72.71", "Choose a product"),
    ],
)
def test_bad_input_is_shown_and_nothing_is_saved(client, tree, suntik, users, lines, destination, message):
    lines = [(p, q, str(suntik["b"].pk) if lot == "LOT_B" else lot) for p, q, lot in lines]
    client.force_login(users["prov"])
    response = client.post(reverse("shipment-create"), create_data(destination, lines))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Shipment.objects.exists()


def test_inactive_destination_is_not_offered(client, tree, suntik, users):
    tree["sigi"].is_active = False
    tree["sigi"].save()
    client.force_login(users["prov"])
    response = client.post(reverse("shipment-create"), create_data("72.10", [("SUNTIK-3", "5", "")]))
    assert response.status_code == 400 and not Shipment.objects.exists()


def test_only_warehouse_staff_create(client, users):
    client.force_login(users["manager"])
    assert client.get(reverse("shipment-create")).status_code == 403


# --- detail and dispatch ------------------------------------------------------------


def test_detail_is_404_out_of_scope(client, users, dispatched):
    url = reverse("shipment-detail", args=[dispatched.number])
    for name in ("prov", "palu", "manager"):
        client.force_login(users[name])
        assert client.get(url).status_code == 200
    for name in ("sigi", "other", "clinic"):
        client.force_login(users[name])
        assert client.get(url).status_code == 404
    assert client.get(reverse("shipment-detail", args=["SBBK-72-2000-000001"])).status_code == 404


def test_destination_sees_the_receive_link_not_dispatch(client, users, dispatched):
    client.force_login(users["palu"])
    response = client.get(reverse("shipment-detail", args=[dispatched.number]))
    assert response.context["receive_url"] == dispatched.token and not response.context["can_dispatch"]


def test_dispatching_twice_is_a_clear_conflict(client, users, dispatched):
    client.force_login(users["prov"])
    movements = Movement.objects.count()
    response = client.post(reverse("shipment-dispatch", args=[dispatched.number]))
    assert response.status_code == 409
    assert f"Shipment {dispatched.number} was already dispatched." in response.content.decode()
    assert Movement.objects.count() == movements


def test_shortage_keeps_the_draft_and_shows_the_line(client, tree, suntik, users):
    draft = shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(suntik["product"], 900)], actor=users["prov"]
    )
    client.force_login(users["prov"])
    response = client.post(reverse("shipment-dispatch", args=[draft.number]))
    assert response.status_code == 409
    assert "SUNTIK-3: 900 requested, 500 available" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == ShipmentStatus.DRAFT
    assert ledger_check().mismatches == []


def test_expiring_lot_is_a_warning_message(client, tree, users):
    product = Product.objects.get(code="KONDOM")
    soon = LotFactory(product=product, batch="K-SOON", expiry=timezone.localdate() + dt.timedelta(days=60))
    opening_balance_post(location=tree["prov"], lines=[(soon, 50)], business_date=timezone.localdate())
    draft = shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(product, 10)], actor=users["prov"]
    )
    client.force_login(users["prov"])
    response = client.post(reverse("shipment-dispatch", args=[draft.number]), follow=True)
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 1 and "K-SOON" in warnings[0]


def test_only_the_origin_dispatches(client, users, draft):
    client.force_login(users["palu"])  # can see the draft, but it is not theirs to send
    assert client.post(reverse("shipment-dispatch", args=[draft.number])).status_code == 403
    draft.refresh_from_db()
    assert draft.status == ShipmentStatus.DRAFT


# --- waybill and QR -----------------------------------------------------------------


def test_waybill_has_the_qr_svg_number_lots_and_bast(client, users, dispatched):
    client.force_login(users["palu"])
    response = client.get(reverse("shipment-waybill", args=[dispatched.number]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in html and dispatched.number in html and "S3-A" in html
    assert f"/s/{dispatched.token}" in html
    assert "Yang menyerahkan" in html and "Yang menerima" in html
    assert "size: A4" in html

    label = client.get(reverse("shipment-waybill", args=[dispatched.number]), {"format": "label", "width": "58"})
    html = label.content.decode()
    assert "<svg" in html and dispatched.number in html and "58mm" in html and "1 line" in html


def test_waybill_and_qr_of_a_draft_are_404(client, users, draft):
    client.force_login(users["prov"])
    for name in ("shipment-waybill", "shipment-qr-svg", "shipment-qr-png"):
        assert client.get(reverse(name, args=[draft.number])).status_code == 404


def test_qr_images_are_scoped_and_cacheable(client, users, dispatched):
    client.force_login(users["prov"])
    svg = client.get(reverse("shipment-qr-svg", args=[dispatched.number]))
    png = client.get(reverse("shipment-qr-png", args=[dispatched.number]))
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    assert png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert "private" in svg["Cache-Control"] and "max-age=" in png["Cache-Control"]
    client.force_login(users["sigi"])
    assert client.get(reverse("shipment-qr-svg", args=[dispatched.number])).status_code == 404


# --- scan ---------------------------------------------------------------------------


def test_scan_page_renders_with_the_camera_script(client, users):
    client.force_login(users["palu"])
    html = client.get(reverse("scan")).content.decode()
    assert "scan.js" in html and "vendor/jsqr/jsQR.js" in html and "cdn" not in html.lower()


def test_scan_shipment_url_sends_the_destination_to_receive(client, users, dispatched):
    client.force_login(users["palu"])
    response = client.post(reverse("scan"), {"code": f"https://example.org/s/{dispatched.token}"})
    assert response.status_code == 302 and response["Location"] == reverse("receive", args=[dispatched.token])


def test_scan_sbbk_number_sends_the_origin_to_the_detail_page(client, users, dispatched):
    client.force_login(users["prov"])
    response = client.post(reverse("scan"), {"code": dispatched.number.lower()})
    assert response.status_code == 302 and response["Location"] == reverse("shipment-detail", args=[dispatched.number])


def test_scan_gs1_shows_product_batch_and_expiry(client, users, suntik):
    client.force_login(users["palu"])
    expiry = suntik["a"].expiry
    response = client.post(reverse("scan"), {"code": f"]d201{GTIN}17{expiry:%y%m%d}10S3-A{GS}"})
    assert response.status_code == 200
    result = response.context["result"]
    assert (result.product, result.lot, result.expiry) == (suntik["product"], suntik["a"], expiry)
    assert "SUNTIK-3" in response.content.decode() and "S3-A" in response.content.decode()


@pytest.mark.parametrize(("code", "status"), [("hello world", 400), ("x" * 5000, 400), ("", 400)])
def test_scan_garbage_is_a_4xx_with_a_message(client, users, code, status):
    client.force_login(users["palu"])
    response = client.post(reverse("scan"), {"code": code})
    assert response.status_code == status
    assert response.context["error"] or response.context["form"].errors


def test_scan_out_of_scope_shipment_is_404(client, users, dispatched):
    client.force_login(users["other"])
    response = client.post(reverse("scan"), {"code": dispatched.number})
    assert response.status_code == 404 and "No shipment matches this code." in response.content.decode()


# --- receive ------------------------------------------------------------------------


def test_receive_needs_login_and_comes_back(client, dispatched):
    url = reverse("receive", args=[dispatched.token])
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"{reverse('login')}?next={url}"


def test_receive_is_for_the_destination_only(client, users, dispatched):
    url = reverse("receive", args=[dispatched.token])
    client.force_login(users["palu"])
    response = client.get(url)
    assert response.status_code == 200
    (row,) = response.context["rows"]
    assert (row.lot, row.expected, row.form["received"].value()) == (dispatched.lines.get().lot, 100, 100)
    uuid.UUID(str(response.context["client_uuid"]))
    for name in ("prov", "sigi", "other", "clinic", "manager"):
        client.force_login(users[name])
        assert client.get(url).status_code == 404
    client.force_login(users["palu"])
    assert client.get(reverse("receive", args=["A" * 32])).status_code == 404


def test_receive_short_and_damaged_shows_discrepancies(client, tree, users, dispatched):
    lot = dispatched.lines.get().lot
    client.force_login(users["palu"])
    key = uuid.uuid4()
    response = client.post(
        reverse("receive", args=[dispatched.token]), receive_data(dispatched, key, rows={lot: (80, 5, None, "")})
    )
    assert response.status_code == 302
    result = client.get(response["Location"])
    kinds = {(d.kind, d.quantity) for d in result.context["discrepancies"]}
    assert kinds == {("damaged", 5), ("short", 15)}
    assert "Short" in result.content.decode()
    assert balance(tree["palu"], lot) == 80
    dispatched.refresh_from_db()
    assert dispatched.status == ShipmentStatus.PARTIALLY_RECEIVED


def test_same_client_uuid_twice_is_one_receipt(client, tree, users, dispatched):
    lot = dispatched.lines.get().lot
    client.force_login(users["palu"])
    key = uuid.uuid4()
    data = receive_data(dispatched, key, rows={lot: (100, 0, None, "")})
    first = client.post(reverse("receive", args=[dispatched.token]), data)
    second = client.post(reverse("receive", args=[dispatched.token]), data)
    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"]
    assert Receipt.objects.count() == 1 and balance(tree["palu"], lot) == 100
    assert ledger_check().mismatches == []


def test_fully_received_shows_who_and_when(client, users, dispatched):
    lot = dispatched.lines.get().lot
    client.force_login(users["palu"])
    client.post(
        reverse("receive", args=[dispatched.token]),
        receive_data(dispatched, uuid.uuid4(), rows={lot: (100, 0, None, "")}),
    )
    response = client.get(reverse("receive", args=[dispatched.token]))
    assert response.status_code == 200 and "rows" not in response.context
    assert "was received by kab7271" in response.content.decode()
    # A second, different receipt is a clear conflict, and posts nothing.
    again = client.post(
        reverse("receive", args=[dispatched.token]),
        receive_data(dispatched, uuid.uuid4(), rows={lot: (1, 0, None, "")}),
    )
    assert again.status_code == 409 and "already received by kab7271" in again.content.decode()
    assert Receipt.objects.count() == 1


@pytest.mark.parametrize(
    ("received", "damaged", "message"),
    [
        ("-1", "0", "greater than or equal to 0"),
        ("2.5", "0", "Enter a whole number"),
        ("99999999999", "0", "less than"),
    ],
)
def test_receive_bad_quantities_save_nothing(client, users, dispatched, received, damaged, message):
    lot = dispatched.lines.get().lot
    client.force_login(users["palu"])
    data = receive_data(dispatched, uuid.uuid4(), rows={lot: (received, damaged, None, "")})
    response = client.post(reverse("receive", args=[dispatched.token]), data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not Receipt.objects.exists()


def test_receive_nothing_counted_is_a_400(client, users, dispatched):
    lot = dispatched.lines.get().lot
    client.force_login(users["palu"])
    data = receive_data(dispatched, uuid.uuid4(), rows={lot: ("0", "0", None, "")})
    response = client.post(reverse("receive", args=[dispatched.token]), data)
    assert response.status_code == 400 and "at least one line" in response.content.decode()
    assert not Receipt.objects.exists()


def test_scanned_lot_is_applied_without_recording(client, users, suntik, dispatched):
    lot = dispatched.lines.get().lot
    other = suntik["b"] if lot == suntik["a"] else suntik["a"]
    client.force_login(users["palu"])
    key = uuid.uuid4()
    code = f"01{GTIN}10{other.batch}"
    # A handheld scanner's Enter presses the first button: "apply", never "record".
    response = client.post(
        reverse("receive", args=[dispatched.token]),
        receive_data(dispatched, key, rows={lot: (100, 0, None, code)}, action="apply"),
    )
    assert response.status_code == 200 and not Receipt.objects.exists()
    (row,) = response.context["rows"]
    assert str(row.form["lot"].value()) == str(other.pk) and not row.form["scanned"].value()
    assert str(response.context["client_uuid"]) == str(key)
    # Recording with the lot found gives an "other lot" discrepancy.
    response = client.post(
        reverse("receive", args=[dispatched.token]), receive_data(dispatched, key, rows={lot: (100, 0, other, "")})
    )
    assert response.status_code == 302
    assert {d.kind for d in Discrepancy.objects.all()} == {"other_lot", "short"}


def test_scanned_barcode_of_another_product_is_refused(client, users, dispatched):
    lot = dispatched.lines.get().lot
    condom = Product.objects.get(code="KONDOM")
    condom.gtin = "08991234567891"
    condom.save(update_fields=["gtin"])
    client.force_login(users["palu"])
    data = receive_data(dispatched, uuid.uuid4(), rows={lot: (100, 0, None, "0108991234567891")})
    response = client.post(reverse("receive", args=[dispatched.token]), data)
    assert response.status_code == 400 and "not SUNTIK-3" in response.content.decode()
    assert not Receipt.objects.exists()


def test_unexpected_item_is_recorded_as_over(client, tree, users, suntik, dispatched):
    lot = dispatched.lines.get().lot
    pill = LotFactory(product=Product.objects.get(code="PIL-KOMB"), batch="PK-9")
    client.force_login(users["palu"])
    data = receive_data(
        dispatched, uuid.uuid4(), rows={lot: (100, 0, None, "")}, extras=[("PIL-KOMB", "PK-9", "7", "")]
    )
    response = client.post(reverse("receive", args=[dispatched.token]), data)
    assert response.status_code == 302
    assert balance(tree["palu"], pill) == 7
    assert Discrepancy.objects.filter(lot=pill, kind="other_lot", quantity=7).exists()


def test_unexpected_item_of_unknown_lot_is_refused(client, users, dispatched):
    lot = dispatched.lines.get().lot
    client.force_login(users["palu"])
    data = receive_data(
        dispatched, uuid.uuid4(), rows={lot: (100, 0, None, "")}, extras=[("PIL-KOMB", "NOPE", "7", "")]
    )
    response = client.post(reverse("receive", args=[dispatched.token]), data)
    assert response.status_code == 400 and "PIL-KOMB has no lot NOPE" in response.content.decode()
    assert not Receipt.objects.exists()


def test_receive_page_takes_a_fixed_number_of_queries(client, tree, users, suntik, django_assert_max_num_queries):
    # Slow links and the 150 ms goal: the query count must not grow with the lines or the lots.
    shipment = shipment_create(
        origin=tree["prov"],
        destination=tree["palu"],
        lines=[LineSpec(suntik["product"], 250), LineSpec(suntik["product"], 100, suntik["b"])],
        actor=users["prov"],
    )
    shipment = shipment_dispatch(shipment=shipment, actor=users["prov"]).shipment
    client.force_login(users["palu"])
    # 12: the header's unread-alert count is one COUNT on every signed-in page.
    with django_assert_max_num_queries(12):
        response = client.get(reverse("receive", args=[shipment.token]))
    assert len(response.context["rows"]) == 2
