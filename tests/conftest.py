"""Shared fixtures. Tests run on a real PostgreSQL: ``DATABASE_URL`` or the embedded server."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from inventory.models import Location, Lot, Product, StockPolicy
from inventory.reference import ensure_reference_data
from inventory.services.opening import opening_balance_post
from tests.browser_fixtures import artifacts, browser, page  # noqa: F401 - the browser fixtures, for every test
from tests.factories import DEMO_PASSWORD, LotFactory, UserFactory, build_tree


@pytest.fixture(autouse=True)
def _reference_data_after_flush(request):
    """Transactional tests end with a flush that empties every table, including the
    products and virtual locations migration 0003 created; put them back."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (marker and marker.kwargs.get("transaction"))
    if transactional:
        request.getfixturevalue("transactional_db")
        ensure_reference_data(Product, Location, StockPolicy)


@pytest.fixture
def tree(db):
    return build_tree()


@pytest.fixture
def products(db):
    return {p.code: p for p in Product.objects.all()}


@pytest.fixture
def lot(db) -> Lot:
    return LotFactory(product=Product.objects.get(code="PIL-KOMB"), batch="PK-001")


@pytest.fixture
def stocked(tree, lot):
    """100 units of ``lot`` at the province warehouse, as an opening balance."""
    opening_balance_post(
        location=tree["prov"], lines=[(lot, 100)], business_date=timezone.localdate() - dt.timedelta(days=30)
    )
    return tree


@pytest.fixture
def english(settings):
    """Read messages in English (the msgids) for tests that assert their wording;
    tests/test_translations.py checks that every one ships in Indonesian."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def password():
    return DEMO_PASSWORD


@pytest.fixture
def make_user(db):
    def make(username, location, role="warehouse", **kwargs):
        return UserFactory(username=username, location=location, role=role, **kwargs)

    return make
