"""The location tree: materialised paths, subtree queries, level rules, policies."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from inventory.models import Level, Location, StockPolicy
from tests.factories import LocationFactory

pytestmark = pytest.mark.django_db


def test_paths_follow_the_tree(tree):
    assert tree["c1"].path == "00/72/72.71/72.71-001/"
    codes = list(Location.objects.subtree(tree["palu"]).values_list("code", flat=True))
    assert codes == ["72.71", "72.71-001", "72.71-002"]
    assert set(Location.objects.subtree(tree["prov"], include_root=False).values_list("code", flat=True)) == {
        "72.71",
        "72.71-001",
        "72.71-002",
        "72.10",
        "72.10-001",
    }
    assert [a.code for a in tree["c1"].ancestors()] == ["00", "72", "72.71"]


def test_virtual_locations_sit_outside_the_tree(tree):
    codes = set(Location.objects.subtree(tree["national"]).values_list("code", flat=True))
    assert not any(code.startswith("~") for code in codes)
    assert Location.objects.filter(level=Level.VIRTUAL).count() == 5


def test_moving_a_district_rewrites_its_subtree_paths(tree):
    palu = tree["palu"]
    palu.parent = tree["other"]
    palu.save()
    tree["c1"].refresh_from_db()
    assert tree["c1"].path == "00/73/72.71/72.71-001/"
    assert "72.71-001" not in Location.objects.subtree(tree["prov"]).values_list("code", flat=True)


def test_prefix_of_a_code_is_not_a_subtree(tree):
    """72.1 must not swallow 72.10 (the path separator prevents it)."""
    district = LocationFactory(code="72.1", name="Pretend", level=Level.DISTRICT, parent=tree["prov"])
    assert list(Location.objects.subtree(district).values_list("code", flat=True)) == ["72.1"]


def test_subtree_query_can_use_the_path_index(tree):
    """One range scan on the varchar_pattern_ops index, whatever the collation."""
    qs = Location.objects.subtree(tree["prov"])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = qs.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan" in plan and "~>=~ '00/72/'" in plan


def test_level_rules_are_validated(tree):
    bad = Location(code="72.71-009", name="x", level=Level.CLINIC, parent=tree["prov"])
    with pytest.raises(ValidationError):
        bad.full_clean()
    with pytest.raises(ValidationError):
        Location(code="72.99", name="x", level=Level.DISTRICT, parent=tree["prov"], clinic_kind="rs").full_clean()


def test_database_refuses_clinic_kind_outside_clinics(tree):
    with pytest.raises(IntegrityError), transaction.atomic():
        Location.objects.filter(pk=tree["palu"].pk).update(clinic_kind="rs")


def test_database_refuses_a_parentless_district(tree):
    with pytest.raises(IntegrityError), transaction.atomic():
        Location.objects.filter(pk=tree["palu"].pk).update(parent=None)


def test_policy_per_level_with_location_override(tree):
    level_policy = StockPolicy.objects.for_location(tree["c1"])
    assert level_policy.level == "clinic" and level_policy.location_id is None
    StockPolicy.objects.create(
        location=tree["c1"], min_months=Decimal(2), max_months=Decimal(5), emergency_months=Decimal(1)
    )
    override = StockPolicy.objects.for_location(tree["c1"])
    assert override.location_id == tree["c1"].pk and override.max_months == 5
    assert StockPolicy.objects.for_location(tree["c2"]).location_id is None


def test_database_refuses_an_inverted_policy(tree):
    with pytest.raises(IntegrityError), transaction.atomic():
        StockPolicy.objects.filter(level="clinic").update(min_months=Decimal(4))  # min above max (3)
