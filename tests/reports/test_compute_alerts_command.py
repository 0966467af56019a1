"""``manage.py compute_alerts``: the same computation, synchronously, with a summary per kind."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from inventory.models import Product
from reports.models import Alert, AlertKind, AlertStatus
from tests.factories import LotFactory
from tests.reports.test_indicators import dispense
from tests.reports.test_stock_alerts import thirty_a_month

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_stock_at_c1(tree):
    lot = LotFactory(product=Product.objects.get(code="KONDOM"), batch="KD-CMD")
    thirty_a_month(tree["c1"], lot, 110)  # soh 20, AMC 30: below min
    return lot


def run(*args):
    out = StringIO()
    call_command("compute_alerts", *args, "--no-notify", stdout=out)
    return out.getvalue()


def counts(output, kind):
    line = next(line for line in output.splitlines() if line.split()[:1] == [kind])
    return [int(n) for n in line.split()[1:]]


def test_prints_opened_updated_resolved_per_kind(tree, low_stock_at_c1):
    first = run()
    assert counts(first, "low_stock") == [1, 0, 0]
    assert counts(first, "total") == [1, 0, 0]
    alert = Alert.objects.get(kind=AlertKind.LOW_STOCK)
    assert alert.location == tree["c1"] and alert.status == AlertStatus.OPEN

    second = run()
    assert counts(second, "low_stock") == [0, 1, 0]
    assert Alert.objects.filter(kind=AlertKind.LOW_STOCK).count() == 1

    dispense(tree["c1"], low_stock_at_c1, 10, timezone.localdate())  # soh 10: an emergency now
    third = run()
    assert counts(third, "low_stock") == [0, 0, 1]
    assert counts(third, "emergency") == [1, 0, 0]
    assert counts(third, "total") == [1, 0, 1]


def test_verbose_lists_each_alert(tree, low_stock_at_c1):
    output = run("-v", "2")
    alert = Alert.objects.get(kind=AlertKind.LOW_STOCK)
    assert f"opened    #{alert.pk} low_stock 72.71-001 KONDOM quantity=70" in output


def test_location_limits_the_run_to_its_subtree(tree, low_stock_at_c1):
    output = run("--location", "72.10")  # Sigi: c1 is in Palu
    assert counts(output, "total") == [0, 0, 0]
    assert not Alert.objects.exists()
    output = run("--location", "72.71")
    assert counts(output, "low_stock") == [1, 0, 0]


def test_quiet_prints_nothing_and_unknown_location_fails(tree, low_stock_at_c1):
    assert run("--quiet") == ""
    assert Alert.objects.filter(kind=AlertKind.LOW_STOCK).count() == 1
    with pytest.raises(CommandError, match="No location with code"):
        run("--location", "99.99")
