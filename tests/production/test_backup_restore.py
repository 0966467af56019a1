"""``manage.py backup`` and ``manage.py restore``: a backup, a loss, a restore, and everything is back.

The data is posted (and committed) in the test database through the services; the
backup is taken of it; the restore goes into a scratch database of this test's own on
the same server (``<test database>_scratch``, created and dropped here), first empty,
then damaged. The restored rows are compared with the originals by SQL on both
databases, the ledger's guards must refuse an UPDATE again, and ``check_ledger`` must
pass on the restored copy. Restores run as ``manage.py`` processes pointed at the
scratch database with DATABASE_URL, as an operator would run them.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from inventory.services.opening import opening_balance_post
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory, UserFactory

BASE_DIR = Path(__file__).resolve().parent.parent.parent

#: what must come back: the ledger, the balances, the shipment with its token
SNAPSHOT = {
    "balances": """SELECT l.code, t.batch, b.quantity FROM inventory_stockbalance b
                   JOIN inventory_location l ON l.id = b.location_id JOIN inventory_lot t ON t.id = b.lot_id
                   ORDER BY 1, 2""",
    "entries": "SELECT count(*), sum(quantity), sum(abs(quantity)) FROM inventory_ledgerentry",
    "shipments": "SELECT number, status, token FROM inventory_shipment ORDER BY number",
    "users": "SELECT username, password FROM alokon_user ORDER BY username",
}


def scratch_settings() -> dict:
    return {**connection.settings_dict, "NAME": f"{connection.settings_dict['NAME']}_scratch"}


def conninfo(settings: dict, name: str | None = None) -> dict:
    return {
        "dbname": name or settings["NAME"],
        "user": settings["USER"],
        "password": settings["PASSWORD"] or None,
        "host": settings["HOST"] or None,
        "port": settings["PORT"] or None,
        "autocommit": True,
    }


def database_url(settings: dict) -> str:
    auth = quote(settings["USER"] or "", safe="") + (
        ":" + quote(settings["PASSWORD"], safe="") if settings["PASSWORD"] else ""
    )
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    return f"postgresql://{auth}@{quote(str(settings['HOST'] or 'localhost'), safe='')}{port}/{settings['NAME']}"


def snapshot(conn) -> dict:
    return {name: conn.execute(sql).fetchall() for name, sql in SNAPSHOT.items()}


def manage(settings: dict, *args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DJANGO_SETTINGS_MODULE="alokon.test_settings",
        DATABASE_URL=database_url(settings),
        ALOKON_DATA_DIR=str(tmp_path),
        PYTHONPATH=str(BASE_DIR),
    )
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def scratch():
    """An empty database beside the test database, dropped afterwards."""
    settings = scratch_settings()
    with psycopg.connect(**conninfo(settings, "postgres")) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{settings["NAME"]}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{settings["NAME"]}"')
    try:
        yield settings
    finally:
        with psycopg.connect(**conninfo(settings, "postgres")) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{settings["NAME"]}" WITH (FORCE)')


@pytest.fixture
def committed(transactional_db, tree):
    """Stock at the province and Kota Palu, and a dispatched shipment: committed, so pg_dump sees it."""
    today = timezone.localdate()
    from inventory.models import Product

    pill = LotFactory(product=Product.objects.get(code="PIL-KOMB"), batch="BK-1")
    condom = LotFactory(product=Product.objects.get(code="KONDOM"), batch="BK-2")
    user = UserFactory(username="kab7271", location=tree["palu"])
    opening_balance_post(location=tree["prov"], lines=[(pill, 400), (condom, 1200)], business_date=today)
    opening_balance_post(location=tree["palu"], lines=[(pill, 90)], business_date=today)
    shipment = shipment_create(
        origin=tree["palu"], destination=tree["c1"], lines=[LineSpec(pill.product, 40, pill)], actor=user
    )
    shipment_dispatch(shipment=shipment, actor=user, business_date=today - dt.timedelta(days=1))
    return tree


def test_backup_then_restore_into_an_empty_and_then_a_damaged_database(committed, scratch, tmp_path):
    backup = tmp_path / "backups" / "alokon.dump"
    call_command("backup", output=str(backup))
    assert backup.is_file() and backup.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    assert not list(backup.parent.glob(".*partial")), "no half-written file is left"
    with psycopg.connect(**conninfo(connection.settings_dict)) as original:
        expected = snapshot(original)
    assert expected["balances"] == [
        ("72", "BK-1", 400),
        ("72", "BK-2", 1200),
        ("72.71", "BK-1", 50),
    ]
    # Each posting is two legs per lot that net to zero: 400 + 1200 + 90 opened, 40 dispatched.
    assert expected["entries"] == [(8, 0, 2 * (400 + 1200 + 90 + 40))]
    assert len(expected["shipments"]) == 1 and expected["shipments"][0][2]

    # Into an empty database: no --yes needed.
    result = manage(scratch, "restore", str(backup), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "restore:" in result.stdout
    with psycopg.connect(**conninfo(scratch)) as copy:
        assert snapshot(copy) == expected

        # Disaster: a table lost, a stray one added, a password changed.
        copy.execute("DROP TABLE inventory_stockbalance CASCADE")
        copy.execute("CREATE TABLE stray (x int)")
        copy.execute("UPDATE alokon_user SET password = 'changed' WHERE username = 'kab7271'")
        assert copy.execute(SNAPSHOT["users"]).fetchall() != expected["users"]

    # A database that holds tables is only replaced with --yes.
    result = manage(scratch, "restore", str(backup), tmp_path=tmp_path)
    assert result.returncode != 0
    assert "holds" in result.stderr and "--yes" in result.stderr
    with psycopg.connect(**conninfo(scratch)) as copy:
        assert copy.execute("SELECT to_regclass('public.stray')").fetchone()[0] == "stray", "nothing was touched"

    result = manage(scratch, "restore", str(backup), "--yes", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    with psycopg.connect(**conninfo(scratch)) as copy:
        assert snapshot(copy) == expected
        assert copy.execute("SELECT to_regclass('public.stray')").fetchone()[0] is None
        # The ledger's guards came back with it.
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            copy.execute("UPDATE inventory_ledgerentry SET quantity = quantity")

    result = manage(scratch, "check_ledger", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert result.stdout.startswith("OK: 8 entries")


def test_restore_refuses_a_file_that_is_no_backup_and_leaves_the_database_alone(db, tmp_path):
    garbage = tmp_path / "not-a-backup.dump"
    garbage.write_bytes(b"this is not pg_dump's custom format\n")
    with pytest.raises(CommandError, match="not a readable pg_dump archive"):
        call_command("restore", str(garbage), yes=True)
    with pytest.raises(CommandError, match="no such file"):
        call_command("restore", str(tmp_path / "missing.dump"), yes=True)


def test_restore_refuses_a_database_with_tables_without_yes(db, tmp_path):
    backup = tmp_path / "alokon.dump"
    call_command("backup", output=str(backup))
    with pytest.raises(CommandError, match=r"holds \d+ tables.*--yes"):
        call_command("restore", str(backup))


def test_backup_without_output_writes_into_the_backup_directory(db, settings, tmp_path):
    settings.ALOKON_BACKUP_DIR = tmp_path / "backups"
    call_command("backup")
    (written,) = (tmp_path / "backups").iterdir()
    assert written.name.startswith(connection.settings_dict["NAME"] + "-") and written.suffix == ".dump"
