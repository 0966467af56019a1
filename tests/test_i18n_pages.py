"""Pages speak Bahasa Indonesia by default and English after the language switch.

Our own .po file comes later, so the Indonesian checks use strings Django itself
translates (form labels, validation messages) plus the ``lang`` attribute and the
locale's number and date formats.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.services.opening import opening_balance_post
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


def switch_language(client, code, next_url="/"):
    response = client.post(reverse("set_language"), {"language": code, "next": next_url})
    assert response.status_code == 302 and response["Location"] == next_url


@pytest.fixture
def palu_user(client, tree, make_user, products):
    lot = LotFactory(product=products["KONDOM"], batch="K-1", expiry=dt.date(2031, 12, 25))
    opening_balance_post(
        location=tree["palu"], lines=[(lot, 1500)], business_date=timezone.localdate() - dt.timedelta(days=3)
    )
    user = make_user("kab7271", tree["palu"])
    client.force_login(user)
    return user


def test_login_page_is_indonesian_by_default(client, db):
    html = client.get(reverse("login")).content.decode()
    assert '<html lang="id">' in html
    assert "Nama pengguna" in html and "Sandi" in html  # Django's own Indonesian labels
    assert 'action="/i18n/setlang/"' in html and 'value="en"' in html


def test_login_page_in_english_after_set_language(client, db):
    switch_language(client, "en", reverse("login"))
    html = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in html
    assert "Username" in html and "Password" in html and "Sandi" not in html
    assert 'value="id"' in html  # the way back


def test_pages_follow_the_language_with_numbers_and_dates(client, palu_user):
    stock = reverse("location-stock", args=["72.71"])
    html = client.get(stock).content.decode()
    assert '<html lang="id">' in html
    assert "1.500" in html and "25-12-2031" in html  # Indonesian grouping and short date

    switch_language(client, "en", stock)
    html = client.get(stock).content.decode()
    assert '<html lang="en">' in html
    assert "1,500" in html and "12/25/2031" in html
    assert "Log out" in html


def test_validation_messages_follow_the_language(client, palu_user):
    card = reverse("stock-card", args=["72.71", "KONDOM"])
    response = client.get(card, {"from": "31-02-2025"})
    assert response.status_code == 400
    assert "Masukkan tanggal yang valid." in response.content.decode()
    switch_language(client, "en", card)
    assert "Enter a valid date." in client.get(card, {"from": "31-02-2025"}).content.decode()


@pytest.mark.parametrize(
    "url",
    [
        reverse("home"),
        reverse("location-stock", args=["72.71"]),
        reverse("stock-card", args=["72.71", "KONDOM"]),
        "/locations/99/stock/",  # the 404 page too
    ],
)
def test_every_page_has_viewport_header_language_switch_and_logout(client, palu_user, url):
    response = client.get(url)
    assert response.status_code in (200, 404)
    html = response.content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'action="/i18n/setlang/"' in html
    assert f'action="{reverse("logout")}"' in html
    assert "Kota Palu" in html  # the user's location in the header
    assert "<script" not in html
