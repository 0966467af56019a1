"""Stock count pages: the list, a new (blind) count, the sheet with scanning, approval, printouts, reminders."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import CountStatus, Product, StockBalance, StockCount
from inventory.services.counts import CountLineSpec, count_create_submitted
from inventory.services.opening import opening_balance_post
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

GTIN = "09506000134352"


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def world(tree, make_user):
    """Kota Palu holds 123 of SUNTIK-3 lot S3-A; lot S3-B exists but is not there."""
    today = timezone.localdate()
    suntik = Product.objects.get(code="SUNTIK-3")
    suntik.gtin = GTIN
    suntik.save(update_fields=["gtin"])
    a = LotFactory(product=suntik, batch="S3-A", expiry=today + dt.timedelta(days=400))
    b = LotFactory(product=suntik, batch="S3-B", expiry=today + dt.timedelta(days=700))
    opening_balance_post(location=tree["palu"], lines=[(a, 123)], business_date=today)
    return {
        **tree,
        "suntik": suntik,
        "a": a,
        "b": b,
        "clerk": make_user("kab7271", tree["palu"]),
        "manager": make_user("kabid72", tree["prov"], role="manager"),
        "sigi": make_user("kab7210", tree["sigi"]),
    }


def start(client, world, blind="0"):
    client.force_login(world["clerk"])
    response = client.post(reverse("count-create", args=["72.71"]), {"blind": blind})
    assert response.status_code == 302
    return StockCount.objects.get()


def sheet(count, action="apply", **values):
    data = {"action": action, "note": ""}
    for line in count.lines.all():
        data[f"counted-{line.lot_id}"] = ""
    data.update(values)
    return data


def test_list_and_new_count_for_the_locations_staff(client, world):
    client.force_login(world["clerk"])
    listing = client.get(reverse("count-list", args=["72.71"]))
    assert listing.status_code == 200 and reverse("count-create", args=["72.71"]) in listing.content.decode()
    assert client.get(reverse("count-create", args=["72.71"])).status_code == 200
    count = start(client, world)
    # A second "new" goes to the open count instead of making another.
    again = client.get(reverse("count-create", args=["72.71"]))
    assert again.status_code == 302 and again.url == reverse("count-detail", args=[count.pk])

    client.force_login(world["manager"])
    assert client.get(reverse("count-list", args=["72.71"])).status_code == 200
    assert client.get(reverse("count-create", args=["72.71"])).status_code == 403
    client.force_login(world["sigi"])
    assert client.get(reverse("count-list", args=["72.71"])).status_code == 404
    assert client.get(reverse("count-detail", args=[count.pk])).status_code == 404
    assert client.get(reverse("count-print", args=[count.pk])).status_code == 404


def test_blind_sheet_hides_the_system_quantities(client, world):
    count = start(client, world, blind="1")
    page = client.get(reverse("count-detail", args=[count.pk])).content.decode()
    assert "S3-A" in page and "123" not in page
    printed = client.get(reverse("count-print", args=[count.pk])).content.decode()
    assert "S3-A" in printed and "123" not in printed and "Count sheet" in printed


def test_open_sheet_shows_them(client, world):
    count = start(client, world)
    assert "123" in client.get(reverse("count-detail", args=[count.pk])).content.decode()
    assert "123" in client.get(reverse("count-print", args=[count.pk])).content.decode()


def test_scanning_adds_a_lot_and_keeps_what_was_typed(client, world):
    count = start(client, world)
    a, b = world["a"], world["b"]
    response = client.post(
        reverse("count-detail", args=[count.pk]),
        sheet(count, **{f"counted-{a.pk}": "120", "scanned": f"01{GTIN}10S3-B"}),
    )
    assert response.status_code == 302
    assert dict(count.lines.values_list("lot__batch", "counted")) == {"S3-A": 120, "S3-B": None}

    unknown = client.post(reverse("count-detail", args=[count.pk]), sheet(count, scanned=f"01{GTIN}10NOPE"))
    assert unknown.status_code == 400 and "SUNTIK-3 has no lot NOPE yet" in unknown.content.decode()
    garbage = client.post(reverse("count-detail", args=[count.pk]), sheet(count, scanned="hello"))
    assert garbage.status_code == 400

    removed = client.post(reverse("count-detail", args=[count.pk]), sheet(count, remove=str(b.pk)))
    assert removed.status_code == 302 and list(count.lines.values_list("lot__batch", flat=True)) == ["S3-A"]
    picked = client.post(reverse("count-detail", args=[count.pk]), sheet(count, add_lot=str(b.pk)))
    assert picked.status_code == 302 and count.lines.count() == 2


@pytest.mark.parametrize("value", ["-1", "1.5", "99999999999", "abc"])
def test_bad_counted_values_are_shown_on_the_sheet(client, world, value):
    count = start(client, world)
    response = client.post(
        reverse("count-detail", args=[count.pk]), sheet(count, "submit", **{f"counted-{world['a'].pk}": value})
    )
    assert response.status_code == 400
    count.refresh_from_db()
    assert count.status == CountStatus.DRAFT and count.lines.get().counted is None


def test_submit_needs_every_lot_counted_then_a_manager_approves(client, world):
    count = start(client, world)
    url = reverse("count-detail", args=[count.pk])
    empty = client.post(url, sheet(count, "submit"))
    assert empty.status_code == 400 and "enter the counted quantity" in empty.content.decode()

    submitted = client.post(url, sheet(count, "submit", **{f"counted-{world['a'].pk}": "120"}))
    assert submitted.status_code == 302
    count.refresh_from_db()
    assert count.status == CountStatus.SUBMITTED and count.lines.get().system_quantity == 123
    # The counter cannot change or approve it.
    changed = client.post(url, sheet(count, **{f"counted-{world['a'].pk}": "1"}))
    assert changed.status_code == 409 and count.lines.get().counted == 120
    refused = client.post(url, {"action": "approve"})
    assert refused.status_code == 403 and StockCount.objects.get().status == CountStatus.SUBMITTED

    client.force_login(world["manager"])
    page = client.get(url).content.decode()
    assert "Approve" in page and "-3" in page
    assert client.post(url, {"action": "approve", "decision_note": "ok"}).status_code == 302
    assert StockBalance.objects.get(location=world["palu"], lot=world["a"]).quantity == 120
    twice = client.post(url, {"action": "approve"})
    assert twice.status_code == 409 and "already approved" in twice.content.decode()

    result = client.get(reverse("count-print", args=[count.pk])).content.decode()
    assert "Count result" in result and "-3" in result and f"OPN-{count.pk:06d}" in result


def test_reject_without_a_reason_is_refused(client, world):
    count = count_create_submitted(
        location=world["palu"], lines=[CountLineSpec(world["suntik"], world["a"], 1)], actor=world["clerk"]
    ).count
    client.force_login(world["manager"])
    url = reverse("count-detail", args=[count.pk])
    assert client.post(url, {"action": "reject", "decision_note": ""}).status_code == 400
    assert client.post(url, {"action": "reject", "decision_note": "recount"}).status_code == 302
    assert StockCount.objects.get().status == CountStatus.REJECTED


def test_home_reminds_until_the_month_is_counted(client, world):
    client.force_login(world["clerk"])
    home = client.get(reverse("home")).content.decode()
    assert "has not been counted this month" in home and reverse("count-create", args=["72.71"]) in home
    client.force_login(world["manager"])
    manager_home = client.get(reverse("home")).content.decode()
    assert "1 location has not been counted this month" in manager_home
    assert reverse("count-list", args=["72.71"]) in manager_home

    count_create_submitted(
        location=world["palu"], lines=[CountLineSpec(world["suntik"], world["a"], 123)], actor=world["clerk"]
    )
    assert "not been counted" not in client.get(reverse("home")).content.decode()
    client.force_login(world["clerk"])
    assert "not been counted" not in client.get(reverse("home")).content.decode()
