"""check_ledger: silent and exit 0 on a sound ledger; lists each mismatch and fails otherwise."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from inventory.models import MovementKind, StockBalance
from inventory.services.ledger_check import ledger_check
from inventory.services.posting import movement_post, transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def moved(stocked, lot):
    for quantity, destination in ((30, "palu"), (20, "sigi"), (5, "palu")):
        movement_post(
            kind=MovementKind.DISPATCH,
            entries=transfer(source=stocked["prov"], destination=stocked[destination], lot=lot, quantity=quantity),
            business_date=timezone.localdate(),
            document=f"T-{destination}-{quantity}",
        )
    return stocked


def test_sound_ledger_passes(moved, capsys):
    call_command("check_ledger")
    out = capsys.readouterr().out
    assert out.startswith("OK: 8 entries, 3 balances, 4 movements")


def test_tampered_balance_is_listed_and_fails(moved, lot, capsys):
    StockBalance.objects.filter(location=moved["palu"], lot=lot).update(quantity=36)
    with pytest.raises(CommandError, match="1 mismatch"):
        call_command("check_ledger")
    out = capsys.readouterr().out
    assert "MISMATCH balance" in out and "72.71" in out and "36" in out and "35" in out


def test_broken_chain_is_found(moved, lot):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the checks queued by the postings above
        cursor.execute("ALTER TABLE inventory_ledgerentry DISABLE TRIGGER ledgerentry_append_only")
        cursor.execute(
            "UPDATE inventory_ledgerentry SET balance_after = balance_after + 1"
            " WHERE id = (SELECT min(id) FROM inventory_ledgerentry WHERE location_id = %s)",
            [moved["palu"].id],
        )
        cursor.execute("ALTER TABLE inventory_ledgerentry ENABLE TRIGGER ledgerentry_append_only")
    report = ledger_check()
    assert [m.kind for m in report.mismatches] == ["chain"]
    assert report.mismatches[0].found == 31 and report.mismatches[0].expected == 30


def test_unbalanced_movement_is_found(moved, lot):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the checks queued by the postings above
        # session_replication_role=replica silences triggers, as a careless restore would
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "INSERT INTO inventory_ledgerentry (movement_id, location_id, lot_id, product_id, quantity, kind,"
            " business_date, recorded_at)"
            " SELECT movement_id, location_id, lot_id, product_id, 4, kind, business_date, recorded_at"
            "   FROM inventory_ledgerentry WHERE balance_after IS NULL ORDER BY id LIMIT 1"
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
    kinds = sorted(m.kind for m in ledger_check().mismatches)
    assert kinds == ["movement"]


def test_balance_row_without_entries_is_found(moved, lot):
    StockBalance.objects.create(location=moved["c3"], lot=lot, product=lot.product, quantity=5)
    mismatches = ledger_check().mismatches
    assert [(m.kind, m.location, m.found, m.expected) for m in mismatches] == [("balance", "72.10-001", 5, 0)]


def test_balance_after_at_a_virtual_location_is_found(moved, lot):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE inventory_ledgerentry DISABLE TRIGGER ledgerentry_append_only")
        cursor.execute(
            "UPDATE inventory_ledgerentry SET balance_after = 1"
            " WHERE id = (SELECT min(id) FROM inventory_ledgerentry WHERE balance_after IS NULL)"
        )
        cursor.execute("ALTER TABLE inventory_ledgerentry ENABLE TRIGGER ledgerentry_append_only")
    mismatches = ledger_check().mismatches
    assert [(m.kind, m.location) for m in mismatches] == [("virtual_balance_after", "~SUPPLIER")]
    assert "virtual" in mismatches[0].describe()
