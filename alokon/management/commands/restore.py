"""``manage.py restore FILE``: replace the database's contents with a ``manage.py backup`` (pg_dump -Fc) file.

Everything in the ``public`` schema is dropped and the archive loaded, all in one
transaction (``pg_restore`` writes the SQL, ``psql --single-transaction`` runs it
after ``DROP SCHEMA public CASCADE``): a restore that fails half-way leaves the
database as it was. Objects are created as the connecting user (``--no-owner``,
``--no-privileges``), so a backup restores into a server whose roles differ.

A database that holds tables is only replaced with ``--yes``. Stop the web, worker
and beat processes first: they hold connections and would write into a half-restored
database otherwise (the drop waits for their open transactions). Run ``migrate``
afterwards when the backup is older than the code.

The SQL comes from the newest ``pg_restore`` at hand (see ``backup``), which sets
options an older server does not know: its header's ``SET transaction_timeout``
(PostgreSQL 17) is left out for a server before 17.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from alokon.management.commands.backup import archive_entries, libpq_environment, pg_program

PROLOGUE = b"DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n"
#: header lines that only servers from the given version (server_version_num) understand
NEWER_SETTINGS = {b"SET transaction_timeout = 0;\n": 170000}


def inspect_database(alias: str) -> tuple[int, int]:
    """The number of tables in the public schema, and the server's version number."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'")
        (count,) = cursor.fetchone()
        version = connection.pg_version
    connection.close()  # hold nothing the restore's DROP SCHEMA would wait for
    return count, version


def _copy_sql(source, target, server_version: int) -> None:
    """Copy pg_restore's SQL to psql, leaving out header settings the server does not know."""
    for line in source:
        if line.startswith(b"-- Name:"):  # the header ends at the first object
            target.write(line)
            break
        if NEWER_SETTINGS.get(line, 0) > server_version:
            continue
        target.write(line)
    shutil.copyfileobj(source, target, 1 << 20)


def restore_database(settings_dict: dict, path: Path, server_version: int) -> None:
    """Replace the database's public schema with the archive's, in one transaction."""
    env = libpq_environment(settings_dict)
    psql = subprocess.Popen(
        [pg_program("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1"]
        + ["--no-password"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    pg_restore = subprocess.Popen(
        [pg_program("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        psql.stdin.write(PROLOGUE)
        _copy_sql(pg_restore.stdout, psql.stdin, server_version)
        psql.stdin.close()
    except BrokenPipeError:
        pass  # psql stopped at an error: reported below
    finally:
        restore_error = pg_restore.stderr.read().decode(errors="replace").strip()
        pg_restore.wait()
        psql_error = psql.stderr.read().decode(errors="replace").strip()
        psql.wait()
    if pg_restore.returncode != 0:
        pg_restore_failed = restore_error or f"exit status {pg_restore.returncode}"
        raise CommandError(f"pg_restore could not read {path}: {pg_restore_failed}; the database is unchanged")
    if psql.returncode != 0:
        raise CommandError(f"the restore failed and was rolled back, the database is unchanged: {psql_error}")


class Command(BaseCommand):
    help = "Replace the database's contents with a backup made by `manage.py backup` (pg_dump custom format)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the backup file (pg_dump --format=custom)")
        parser.add_argument("--yes", action="store_true", help="replace a database that holds tables")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="database alias (default: default)")

    def handle(self, *args, file, yes=False, database=DEFAULT_DB_ALIAS, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        settings_dict = connections[database].settings_dict
        env = libpq_environment(settings_dict)
        tables_in_archive = sum(" TABLE DATA " in e for e in archive_entries(pg_program("pg_restore"), path, env))
        existing, server_version = inspect_database(database)
        if existing and not yes:
            raise CommandError(
                f"the database {settings_dict['NAME']} holds {existing} tables: restoring replaces all of them "
                "with the backup's. Stop the web, worker and beat processes, then run again with --yes."
            )
        started = time.monotonic()
        restore_database(settings_dict, path, server_version)
        self.stdout.write(
            f"restore: {path} → {settings_dict['NAME']} ({tables_in_archive} tables with data, "
            f"{time.monotonic() - started:.1f} s). Run `manage.py migrate` if the backup is older than the code."
        )
