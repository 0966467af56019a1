"""In a real browser: a district clerk logs in on a phone-sized screen and reads stock."""

import datetime as dt

import pytest
from django.utils import timezone

from inventory.models import Product
from inventory.services.opening import opening_balance_post
from tests.factories import LotFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clerk_logs_in_and_sees_the_stock_of_the_district(live_server, page, artifacts, tree, make_user, password):
    make_user("kab7271", tree["palu"])
    lot = LotFactory(
        product=Product.objects.get(code="KONDOM"), batch="KD-777", expiry=timezone.localdate() + dt.timedelta(days=60)
    )
    opening_balance_post(location=tree["palu"], lines=[(lot, 1440)], business_date=timezone.localdate())

    page.goto(f"{live_server.url}/locations/72.71/stock/")
    assert "/accounts/login/" in page.url  # anonymous: sent to the login page first
    assert page.locator("html").get_attribute("lang") == "id"
    page.fill("input[name=username]", "kab7271")
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Masuk").click()  # the login button, in Indonesian
    page.wait_for_url(f"{live_server.url}/locations/72.71/stock/")

    body = page.locator("body").inner_text()
    assert "Kota Palu" in body and "KD-777" in body and "1.440" in body  # Indonesian digit grouping
    assert page.evaluate("document.documentElement.scrollWidth") <= 360 + 1  # fits a phone, no sideways scroll
    page.screenshot(path=str(artifacts / "stock-72.71-phone.png"), full_page=True)

    response = page.goto(f"{live_server.url}/locations/72.10/stock/")  # a sibling district: not theirs
    assert response.status == 404
