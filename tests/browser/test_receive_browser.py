"""In a real browser: the QR on the waybill leads a district clerk to the receiving
page, where a handheld scanner and the keypad record a short delivery."""

import datetime as dt

import pytest
from django.utils import timezone

from inventory.models import Discrepancy, Product, Receipt, StockBalance
from inventory.qr import qr_png, shipment_url
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.decoding import decode_png
from tests.factories import LotFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_qr_to_receiving_page_short_delivery_shows_the_discrepancy(
    live_server, page, artifacts, tree, make_user, password, settings
):
    settings.SITE_URL = live_server.url  # the QR must point at this server
    product = Product.objects.get(code="SUNTIK-3")
    lot = LotFactory(product=product, batch="S3-QR1", expiry=timezone.localdate() + dt.timedelta(days=400))
    opening_balance_post(location=tree["prov"], lines=[(lot, 900)], business_date=timezone.localdate())
    sender = make_user("prov72", tree["prov"])
    make_user("kab7271", tree["palu"])
    shipment = shipment_create(
        origin=tree["prov"], destination=tree["palu"], lines=[LineSpec(product, 500, lot)], actor=sender
    )
    shipment_dispatch(shipment=shipment, actor=sender)
    shipment.refresh_from_db()

    (url,) = decode_png(qr_png(shipment_url(shipment.token)))  # what a phone camera reads off the waybill
    assert url == f"{live_server.url}/s/{shipment.token}"

    # The clerk logs in, then the handheld scanner "types" the QR's text into /scan and presses Enter.
    page.goto(f"{live_server.url}/accounts/login/?next=/scan")
    page.fill("input[name=username]", "kab7271")
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(f"{live_server.url}/scan")
    scan_box = page.locator("form input[type=text]").first
    scan_box.type(url, delay=2)
    scan_box.press("Enter")
    page.wait_for_url(url)

    row = page.locator("fieldset.row").first
    assert "S3-QR1" in row.inner_text() and "500" in row.inner_text()
    good = row.locator("input[type=number]").first
    good.fill("")
    good.type("480")  # 20 vials did not arrive
    page.get_by_role("button", name="Catat penerimaan").click()

    page.wait_for_load_state()
    body = page.locator("body").inner_text()
    assert "Kurang" in body and "20" in body
    page.screenshot(path=str(artifacts / "receive-short-phone.png"), full_page=True)

    assert Receipt.objects.count() == 1
    assert list(Discrepancy.objects.values_list("kind", "quantity")) == [("short", 20)]
    assert StockBalance.objects.get(location=tree["palu"], lot=lot).quantity == 480
    assert ledger_check().ok
