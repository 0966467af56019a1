"""Resolving a scanned or typed code: shipment URLs and SBBK numbers (scoped), GS1 barcodes to product and lot."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import Product
from inventory.scanning.gs1 import GS1Error
from inventory.scanning.resolve import (
    MAX_CODE_LENGTH,
    ScanNotFound,
    UnrecognisedCode,
    resolve_scan,
    shipment_number_from,
    shipment_token_from,
)
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory, UserFactory

TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz0123_-"  # 32 characters, like secrets.token_urlsafe(24)
UNRECOGNISED = "This code is not a shipment, an SBBK number or a GS1 product barcode."
NO_SHIPMENT = "No shipment matches this code."

# These tests read the messages in English; test_translations.py checks the Indonesian.
pytestmark = pytest.mark.usefixtures("english")


# --- pure parsing of the shipment forms ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"https://alokon.bkkbn.go.id/s/{TOKEN}",
        f"https://alokon.bkkbn.go.id/s/{TOKEN}/",
        f"http://localhost:8000/s/{TOKEN}?utm_source=qr",
        f"https://alokon.example/s/{TOKEN}#lines",
        f"https://alokon.example/prefix/s/{TOKEN}",
        f"alokon.example/s/{TOKEN}",
        f"/s/{TOKEN}",
        f"  https://alokon.example/s/{TOKEN}\r\n",
    ],
)
def test_shipment_token_from_urls(text):
    assert shipment_token_from(text) == TOKEN


def test_shipment_token_of_exactly_128_bits():
    assert shipment_token_from("https://x.example/s/" + "A" * 22) == "A" * 22


@pytest.mark.parametrize(
    "text",
    [
        "https://x.example/s/" + "A" * 21,  # fewer than 128 bits
        "https://x.example/s/" + "A" * 65,  # longer than any token we issue
        f"https://x.example/s/{TOKEN}/receive",
        f"https://x.example/shipments/{TOKEN}",
        f"https://x.example/s/{TOKEN[:-1]}=",
        f"https://x.example/s/{TOKEN[:-1]}.",
        f"https://x.example/s/{TOKEN} extra",
        TOKEN,  # a bare token is not a URL of ours
        "",
    ],
)
def test_not_a_shipment_url(text):
    assert shipment_token_from(text) is None


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("SBBK-72-2025-000001", "SBBK-72-2025-000001"),
        ("sbbk-72.71-2025-000123", "SBBK-72.71-2025-000123"),
        ("Sbbk-72.71-001-2026-004200", "SBBK-72.71-001-2026-004200"),  # clinic codes contain a dash
        ("  SBBK-72-2025-000001\n", "SBBK-72-2025-000001"),
    ],
)
def test_shipment_number_from(text, number):
    assert shipment_number_from(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "SBBK-72-25-000001",
        "SBBK-72-2025-1",
        "SBBK-72-2025-0000001",
        "SBBK--2025-000001",
        "SBBM-72-2025-000001",
        "SBBK 72 2025 000001",
        "SBBK-72-2025-000001 and more",
        "",
    ],
)
def test_not_a_shipment_number(text):
    assert shipment_number_from(text) is None


# --- shipments in the database ------------------------------------------------------------


@pytest.fixture
def shipment(stocked, lot, make_user):
    """A dispatched shipment province 72 → district 72.71 (Kota Palu)."""
    clerk = make_user("prov72", stocked["prov"])
    draft = shipment_create(
        origin=stocked["prov"], destination=stocked["palu"], lines=[LineSpec(lot.product, 10)], actor=clerk
    )
    return shipment_dispatch(shipment=draft, actor=clerk).shipment


@pytest.fixture
def draft(stocked, lot, make_user):
    clerk = make_user("prov72", stocked["prov"])
    return shipment_create(
        origin=stocked["prov"], destination=stocked["sigi"], lines=[LineSpec(lot.product, 5)], actor=clerk
    )


@pytest.mark.django_db
@pytest.mark.parametrize("home", ["palu", "prov", "national"])
def test_staff_of_origin_destination_or_above_find_the_shipment_by_its_qr(shipment, tree, make_user, home):
    result = resolve_scan(f"https://alokon.example/s/{shipment.token}", user=make_user(f"u-{home}", tree[home]))
    assert (result.type, result.number, result.token, result.shipment) == (
        "shipment",
        shipment.number,
        shipment.token,
        shipment,
    )


@pytest.mark.django_db
def test_typed_number_in_any_case(shipment, tree, make_user):
    user = make_user("kab7271", tree["palu"])
    result = resolve_scan(f"  {shipment.number.lower()} ", user=user)
    assert (result.type, result.number, result.token) == ("shipment", shipment.number, shipment.token)


@pytest.mark.django_db
def test_a_draft_is_found_by_number_and_has_no_token(draft, tree, make_user):
    result = resolve_scan(draft.number, user=make_user("kab7210", tree["sigi"]))
    assert (result.number, result.token) == (draft.number, None)


@pytest.mark.django_db
def test_qr_with_a_symbology_identifier(shipment, tree, make_user):
    result = resolve_scan(f"]Q1https://alokon.example/s/{shipment.token}", user=make_user("kab", tree["palu"]))
    assert result.number == shipment.number


@pytest.mark.django_db
@pytest.mark.parametrize("home", ["sigi", "c1", "other", "other_district"])
def test_out_of_scope_looks_exactly_like_unknown(shipment, tree, make_user, home):
    user = make_user(f"u-{home}", tree[home])
    for code in (f"https://alokon.example/s/{shipment.token}", shipment.number):
        with pytest.raises(ScanNotFound) as info:
            resolve_scan(code, user=user)
        assert (info.value.message, info.value.http_status, info.value.code) == (NO_SHIPMENT, 404, "not_found")


@pytest.mark.django_db
def test_unknown_token_and_number(shipment, tree, make_user):
    user = make_user("kab7271", tree["palu"])
    tampered = shipment.token[:-1] + ("A" if shipment.token[-1] != "A" else "B")
    for code in (f"https://alokon.example/s/{tampered}", shipment.number[:-1] + "9", "SBBK-99-2025-000001"):
        with pytest.raises(ScanNotFound, match=NO_SHIPMENT):
            resolve_scan(code, user=user)


@pytest.mark.django_db
def test_anonymous_and_homeless_users_see_no_shipment(shipment):
    for user in (AnonymousUser(), UserFactory(username="nobody", location=None)):
        with pytest.raises(ScanNotFound):
            resolve_scan(shipment.number, user=user)


@pytest.mark.django_db
def test_superuser_without_location_sees_every_shipment(shipment):
    admin = UserFactory(username="root", location=None, is_superuser=True, is_staff=True)
    assert resolve_scan(shipment.number, user=admin).shipment == shipment


@pytest.mark.django_db
def test_one_query_per_shipment_scan(shipment, tree, make_user):
    user = make_user("kab7271", tree["palu"])
    with CaptureQueriesContext(connection) as queries:
        resolve_scan(f"https://alokon.example/s/{shipment.token}", user=user)
    assert len(queries) == 1


# --- GS1 product barcodes -------------------------------------------------------------------


@pytest.fixture
def suntik(db):
    product = Product.objects.get(code="SUNTIK-3")
    product.gtin = "09506000134352"
    product.save(update_fields=["gtin"])
    return product


@pytest.fixture
def known_lot(suntik):
    return LotFactory(product=suntik, batch="ABC123", expiry=dt.date(2027, 12, 31))


@pytest.fixture
def palu_user(tree, make_user):
    return make_user("kab7271", tree["palu"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code",
    [
        "(01)09506000134352(17)271231(10)ABC123",
        "]d2010950600013435217271231" + "10ABC123",
        "https://id.gs1.org/01/09506000134352/10/ABC123?17=271231",
        "0109506000134352" + "10ABC123<GS>17271231",
    ],
)
def test_known_lot(known_lot, palu_user, code):
    result = resolve_scan(code, user=palu_user)
    assert (result.type, result.product, result.lot, result.batch, result.expiry, result.gtin) == (
        "lot",
        known_lot.product,
        known_lot,
        "ABC123",
        dt.date(2027, 12, 31),
        "09506000134352",
    )


@pytest.mark.django_db
def test_known_lot_without_expiry_on_the_barcode_takes_the_lots(known_lot, palu_user):
    result = resolve_scan("https://id.gs1.org/01/09506000134352/10/ABC123", user=palu_user)
    assert (result.lot, result.expiry) == (known_lot, dt.date(2027, 12, 31))


@pytest.mark.django_db
def test_batch_not_yet_known(suntik, palu_user):
    result = resolve_scan("(01)09506000134352(17)280600(10)NEW-9", user=palu_user)
    assert (result.product, result.lot, result.batch, result.expiry) == (suntik, None, "NEW-9", dt.date(2028, 6, 30))


@pytest.mark.django_db
def test_same_batch_name_of_another_product_is_not_this_lot(suntik, palu_user):
    LotFactory(product=Product.objects.get(code="KONDOM"), batch="ABC123", expiry=dt.date(2027, 12, 31))
    assert resolve_scan("(01)09506000134352(10)ABC123", user=palu_user).lot is None


@pytest.mark.django_db
def test_gtin_only(suntik, palu_user):
    result = resolve_scan("09506000134352", user=palu_user)
    assert (result.product, result.lot, result.batch, result.expiry) == (suntik, None, None, None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stored", "scanned"),
    [
        ("4006381333931", "https://id.gs1.org/01/04006381333931"),  # GTIN-13 stored, 14 digits scanned
        ("04006381333931", "4006381333931"),  # 14 stored, a plain EAN-13 scanned
        ("036000291452", "(01)00036000291452(10)L1"),  # UPC-A stored
        ("96385074", "]d20100000096385074" + "10L1"),  # EAN-8 stored
    ],
)
def test_gtins_compare_normalised(db, palu_user, stored, scanned):
    product = Product.objects.get(code="IUD")
    product.gtin = stored
    product.save(update_fields=["gtin"])
    assert resolve_scan(scanned, user=palu_user).product == product


@pytest.mark.django_db
def test_unknown_gtin_is_404(suntik, palu_user):
    with pytest.raises(ScanNotFound) as info:
        resolve_scan("(01)04006381333931(10)X", user=palu_user)
    assert info.value.message == "No product has the GTIN 04006381333931."
    assert info.value.http_status == 404


@pytest.mark.django_db
def test_expiry_that_contradicts_the_known_lot(known_lot, palu_user):
    with pytest.raises(GS1Error) as info:
        resolve_scan("(01)09506000134352(17)271130(10)ABC123", user=palu_user)
    assert info.value.http_status == 400
    assert info.value.message == ("Lot ABC123 of SUNTIK-3 expires on 2027-12-31, but the barcode says 2027-11-30.")


@pytest.mark.django_db
def test_malformed_gs1_keeps_its_own_message(suntik, palu_user):
    with pytest.raises(GS1Error, match="The GTIN check digit is wrong."):
        resolve_scan("(01)09506000134353(10)ABC123", user=palu_user)
    with pytest.raises(GS1Error, match="not a valid YYMMDD date"):
        resolve_scan("(01)09506000134352(17)271331", user=palu_user)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code",
    [
        "",
        "   ",
        "hello",
        "https://example.com/",
        "https://alokon.example/s/short",
        "SBBK-72-2025-12",
        "A" * (MAX_CODE_LENGTH + 1),
        f"https://alokon.example/s/{TOKEN}" + "x" * MAX_CODE_LENGTH,
        "0109506000134352" + "10" * 2000,
        "\x00\x1d\x7f",
        None,
    ],
)
def test_anything_else_is_a_clear_400(palu_user, code):
    with pytest.raises(UnrecognisedCode) as info:
        resolve_scan(code, user=palu_user)
    assert (info.value.message, info.value.http_status, info.value.code) == (UNRECOGNISED, 400, "invalid_barcode")
