"""The server-rendered pages: login, the home page per role, location stock, the stock card, scoping."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import MovementKind, Product, VirtualRole
from inventory.selectors.stock import consumption_window
from inventory.services.opening import opening_balance_post
from inventory.services.posting import EntrySpec, movement_post, transfer, virtual_location
from inventory.views import stock_card as stock_card_view
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


def stock_url(code):
    return reverse("location-stock", args=[code])


def card_url(code, product="PIL-KOMB"):
    return reverse("stock-card", args=[code, product])


def dispatch(source, destination, lot, quantity, document, business_date=None):
    return movement_post(
        kind=MovementKind.DISPATCH,
        entries=transfer(source=source, destination=destination, lot=lot, quantity=quantity),
        business_date=business_date or timezone.localdate(),
        document=document,
    )


@pytest.fixture
def moved(stocked, lot):
    """Province 100 (opening) → 30 to Kota Palu → 10 of those to Puskesmas Talise."""
    dispatch(stocked["prov"], stocked["palu"], lot, 30, "SBBK-1")
    dispatch(stocked["palu"], stocked["c1"], lot, 10, "SBBK-2")
    return stocked


@pytest.fixture
def login(client, make_user, password):
    def as_user(username, location, role="warehouse", **kwargs):
        user = make_user(username, location, role, **kwargs)
        client.force_login(user)
        return user

    return as_user


def test_login_redirects_home(client, tree, make_user, password):
    make_user("kab7271", tree["palu"])
    response = client.post(reverse("login"), {"username": "kab7271", "password": password})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200


def test_wrong_password_stays_on_login_page(client, tree, make_user):
    make_user("kab7271", tree["palu"])
    response = client.post(reverse("login"), {"username": "kab7271", "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_logout_is_a_post(client, login, tree):
    login("kab7271", tree["palu"])
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize("url", ["/", "/locations/72/stock/", "/locations/72/stock-card/PIL-KOMB/"])
def test_anonymous_users_are_sent_to_login(client, tree, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_warehouse_home_shows_own_stock_and_links_down(client, login, moved):
    login("kab7271", moved["palu"])
    response = client.get(reverse("home"))
    assert response.status_code == 200
    rows = {row.product.code: row.quantity for row in response.context["summary"]}
    assert rows["PIL-KOMB"] == 20 and rows["KONDOM"] == 0 and len(rows) == 8
    html = response.content.decode()
    for code in ("72.71", "72.71-001", "72.71-002"):
        assert f'href="{stock_url(code)}"' in html
    assert stock_url("72.10-001") not in html
    assert card_url("72.71") in html


def test_field_home_lists_district_clinics_and_highlights_zero_stock(client, login, tree, lot):
    start, _end = consumption_window()
    opening_balance_post(location=tree["c3"], lines=[(lot, 10)], business_date=start)
    # 3 cycles dispensed over the last three complete months: AMC 1, so 7 left = 7.0 months.
    movement_post(
        kind=MovementKind.DISPENSING,
        entries=[
            EntrySpec(location=tree["c3"], lot=lot, quantity=-3),
            EntrySpec(location=virtual_location(VirtualRole.DISPENSED), lot=lot, quantity=3),
        ],
        business_date=start,
        document="LPLKB-1",
    )
    login("pkb7210", tree["sigi"], role="field")
    response = client.get(reverse("home"))
    assert response.status_code == 200
    (clinic,) = response.context["clinics"]
    assert clinic.location.code == "72.10-001"
    pill = next(row for row in clinic.products if row.product.code == "PIL-KOMB")
    assert (pill.quantity, pill.mos, pill.status) == (7, 7, "over")  # clinic maximum is 3 months
    assert clinic.stockouts == 7
    html = response.content.decode()
    assert "Puskesmas Biromaru" in html and "Puskesmas Talise" not in html
    assert html.count('<li class="stockout">') == 7
    assert "7,0" in html  # months of stock, Indonesian decimal comma


def test_manager_home_totals_each_child_area(client, login, moved):
    login("manajer72", moved["prov"], role="manager")
    response = client.get(reverse("home"))
    assert response.status_code == 200
    own = {row.product.code: row.quantity for row in response.context["own"]}
    assert own["PIL-KOMB"] == 70
    areas = {a.location.code: {r.product.code: r.quantity for r in a.products} for a in response.context["areas"]}
    assert set(areas) == {"72.71", "72.10"}
    assert areas["72.71"]["PIL-KOMB"] == 30  # 20 in the district warehouse + 10 at the clinic
    assert areas["72.10"]["PIL-KOMB"] == 0
    assert reverse("admin:index") not in response.content.decode()


def test_admin_home_links_to_admin_and_shows_the_manager_view(client, login, moved):
    login("adminprov", moved["prov"], role="admin", is_staff=True)
    response = client.get(reverse("home"))
    assert reverse("admin:index") in response.content.decode()
    assert {a.location.code for a in response.context["areas"]} == {"72.71", "72.10"}


def test_superuser_without_location_sees_the_whole_tree(client, login, moved):
    login("admin", None, is_staff=True, is_superuser=True)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    areas = {a.location.code: {r.product.code: r.quantity for r in a.products} for a in response.context["areas"]}
    assert set(areas) == {"00"} and areas["00"]["PIL-KOMB"] == 100
    assert client.get(stock_url("73.71")).status_code == 200


def test_user_without_location_gets_a_clear_message(client, login, tree):
    login("nobody", None)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "inventory/home/no_location.html" in [t.name for t in response.templates]
    assert client.get(stock_url("72")).status_code == 404


def test_location_stock_after_opening_and_transfer(client, login, moved, lot):
    login("prov72", moved["prov"])
    response = client.get(stock_url("72"))
    assert response.status_code == 200
    assert [(row.lot.batch, row.quantity) for row, _flag in response.context["lots"]] == [("PK-001", 70)]
    response = client.get(stock_url("72.71"))
    assert [(row.lot.batch, row.quantity) for row, _flag in response.context["lots"]] == [("PK-001", 20)]
    html = response.content.decode()
    assert "PK-001" in html and f'href="{stock_url("72.71-001")}"' in html
    assert f'href="{stock_url("72")}"' in html  # breadcrumb up to the user's own location


def test_location_stock_flags_expiring_and_expired_lots(client, login, tree, products):
    today = timezone.localdate()
    soon = LotFactory(product=products["SUNTIK-3"], batch="S3-SOON", expiry=today + dt.timedelta(days=30))
    gone = LotFactory(product=products["SUNTIK-3"], batch="S3-GONE", expiry=today - dt.timedelta(days=1))
    fine = LotFactory(product=products["SUNTIK-3"], batch="S3-FINE", expiry=today + dt.timedelta(days=400))
    # Expiring today: no longer dispensed or dispatched, so already "expired".
    ends = LotFactory(product=products["SUNTIK-3"], batch="S3-ENDS", expiry=today)
    opening_balance_post(location=tree["palu"], lines=[(soon, 5), (gone, 6), (fine, 7), (ends, 8)], business_date=today)
    login("kab7271", tree["palu"])
    response = client.get(stock_url("72.71"))
    flags = {row.lot.batch: flag for row, flag in response.context["lots"]}
    assert flags == {"S3-GONE": "expired", "S3-ENDS": "expired", "S3-SOON": "expiring", "S3-FINE": ""}
    html = response.content.decode()
    assert '<tr class="expired">' in html and '<tr class="expiring">' in html


def test_virtual_locations_are_never_shown(client, login, moved):
    login("admin", None, is_staff=True, is_superuser=True)
    supplier = virtual_location(VirtualRole.SUPPLIER)
    assert client.get(stock_url(supplier.code)).status_code == 404
    assert client.get(card_url(supplier.code)).status_code == 404
    assert supplier.code not in client.get(reverse("home")).content.decode()


def test_stock_card_lists_entries_in_posting_order_with_balances(client, login, moved, lot):
    login("prov72", moved["prov"])
    response = client.get(card_url("72"))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(r.entry.movement.document, r.quantity_in, r.quantity_out, r.entry.balance_after) for r in rows] == [
        (rows[0].entry.movement.document, 100, 0, 100),
        ("SBBK-1", 0, 30, 70),
    ]
    assert rows[0].entry.kind == MovementKind.OPENING
    html = response.content.decode()
    assert html.index(rows[0].entry.movement.document) < html.index("SBBK-1")
    assert "+100" in html and "−30" in html and "PK-001" in html


def test_stock_card_product_balance_spans_lots_and_pages(client, login, stocked, lot, monkeypatch):
    other = LotFactory(product=lot.product, batch="PK-002")
    opening_balance_post(location=stocked["prov"], lines=[(other, 50)], business_date=timezone.localdate())
    dispatch(stocked["prov"], stocked["palu"], other, 20, "SBBK-9")
    login("prov72", stocked["prov"])
    rows = client.get(card_url("72")).context["rows"]
    assert [(r.entry.balance_after, r.balance) for r in rows] == [(100, 100), (50, 150), (30, 130)]

    monkeypatch.setattr(stock_card_view, "PAGE_SIZE", 1)
    response = client.get(card_url("72"), {"page": 3})
    assert [(r.entry.movement.document, r.balance) for r in response.context["rows"]] == [("SBBK-9", 130)]
    assert "page=2" in response.content.decode()


def test_stock_card_date_filter(client, login, moved):
    login("prov72", moved["prov"])
    today = timezone.localdate().isoformat()
    response = client.get(card_url("72"), {"from": today, "to": today})
    assert response.status_code == 200
    assert [(r.entry.movement.document, r.balance) for r in response.context["rows"]] == [("SBBK-1", 70)]


@pytest.mark.parametrize(
    "params", [{"from": "2025-13-45"}, {"to": "kemarin"}, {"from": "2025-02-01", "to": "2025-01-01"}]
)
def test_stock_card_bad_date_filter_is_a_400_with_a_message(client, login, moved, params):
    login("prov72", moved["prov"])
    response = client.get(card_url("72"), params)
    assert response.status_code == 400
    assert response.context["form"].errors
    assert 'class="error"' in response.content.decode()


def test_stock_card_of_unknown_product_is_404(client, login, moved):
    login("prov72", moved["prov"])
    assert client.get(card_url("72", "NOPE")).status_code == 404
    assert Product.objects.filter(code="KONDOM").exists()
    assert client.get(card_url("72", "KONDOM")).status_code == 200  # known product, no entries yet


@pytest.mark.parametrize(
    "url",
    [
        stock_url("72.10"),  # sibling district
        stock_url("72.10-001"),  # sibling district's clinic
        card_url("72.10"),
        card_url("72.10-001"),
        stock_url("72"),  # the province above
        card_url("72"),
        stock_url("73.71"),  # another province's district
        stock_url("99.99"),  # unknown code
        card_url("99.99"),
    ],
)
def test_district_user_cannot_see_outside_their_subtree(client, login, moved, url):
    login("kab7271", moved["palu"])
    assert client.get(url).status_code == 404


def test_district_user_sees_their_clinics(client, login, moved):
    login("kab7271", moved["palu"])
    assert client.get(stock_url("72.71-001")).status_code == 200
    assert client.get(card_url("72.71-001")).status_code == 200
