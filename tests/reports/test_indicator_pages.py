"""The stock pages show the indicators the alerts use: same AMC, MOS, status, in transit, order."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import Product
from reports.selectors.indicators import indicators_for
from tests.factories import LotFactory
from tests.reports.test_indicators import dispense, months, ship, stock

pytestmark = pytest.mark.django_db


def test_location_stock_page_shows_the_alert_indicators(client, tree, make_user, password):
    pill = Product.objects.get(code="PIL-KOMB")
    lot = LotFactory(product=pill, batch="PK-1", expiry=timezone.localdate() + dt.timedelta(days=700))
    first, second, third = months()
    stock(tree["c1"], lot, 200, first)
    for day in (first, second, third):
        dispense(tree["c1"], lot, 60, day + dt.timedelta(days=3))  # AMC 60, 20 left: 0.3 months
    stock(tree["palu"], lot, 500, first)
    palu_clerk = make_user("kab7271", tree["palu"])
    ship(tree["palu"], tree["c1"], pill, 90, timezone.localdate(), palu_clerk)

    row = next(r for r in indicators_for(tree["c1"]) if r.product_id == pill.pk)
    assert (row.soh, row.in_transit, row.amc) == (20, 90, 60)
    client.login(username="kab7271", password=password)
    response = client.get(reverse("location-stock", args=["72.71-001"]))
    shown = next(r for r in response.context["summary"] if r.product.pk == pill.pk)
    assert (shown.quantity, shown.in_transit, shown.amc, shown.mos) == (20, 90, row.amc, row.mos)
    assert shown.suggested_order == row.suggested_order > 0
    assert row.status in ("emergency", "below_min")
    assert shown.status == {"emergency": "emergency", "below_min": "low"}[row.status]
