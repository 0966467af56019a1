"""``make run``: prepare the database, then start web, worker and beat through honcho.

``python -m alokon.devrun`` starts (or attaches to) the database, migrates, loads the
demo data, prints the URL and the demo logins, and then replaces itself with honcho
running the ``Procfile``. Ctrl-C stops web, worker and beat; the embedded PostgreSQL
keeps running (it is shared with the tests) until ``make stop``.

``python -m alokon.devrun web`` is the Procfile's web process: Django's runserver
when DEBUG is on (the embedded default), gunicorn behind collected static files
otherwise.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from django.contrib.auth import get_user_model  # safe before settings: reads none on import

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def _environment() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alokon.settings")
    # The embedded default is a developer's machine: debug on unless asked otherwise.
    # With DATABASE_URL set this may be a real server, so DEBUG stays as given.
    if not os.environ.get("DATABASE_URL") and not os.environ.get("DEBUG"):
        os.environ["DEBUG"] = "1"
    # Without DEBUG the settings default to HTTPS only (redirect, secure cookies): make
    # run serves plain HTTP on this machine, so those stay off unless asked for.
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        os.environ.setdefault(name, "0")
    # honcho's processes run `python`, `celery`: make them this virtualenv's.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def _port() -> int:
    from alokon.env import env_int

    return env_int("PORT", 8000, minimum=1)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def prepare() -> bool:
    """Migrate and seed; return whether the demo data (and its users) exist."""
    import django
    from django.core.management import call_command, get_commands

    django.setup()  # starts or attaches to the embedded server when DATABASE_URL is unset
    call_command("migrate", interactive=False, verbosity=1)
    from django.conf import settings

    if not settings.DEBUG:
        call_command("collectstatic", interactive=False, verbosity=0)
    if "seed_demo" not in get_commands():
        print("seed_demo is not available in this checkout: starting without demo data.")
        return False
    call_command("seed_demo", quiet=True)  # the banner below lists what it made
    return True


def _demo_logins() -> list[str]:
    """The demo users as the database has them (seed_demo never overwrites a changed user)."""
    from inventory.demo.users import DEMO_USERS  # only present with seed_demo

    users = (
        get_user_model()
        .objects.select_related("location")
        .in_bulk([u.username for u in DEMO_USERS], field_name="username")
    )
    lines = []
    for spec in DEMO_USERS:
        user = users.get(spec.username)
        if user is None:
            continue
        what = "superuser" if user.is_superuser else user.get_role_display()
        where = f"{user.location.code} {user.location.name}" if user.location else ""
        lines.append(f"{user.username:<11} {what}, {where}")
    return lines


def banner(port: int, *, seeded: bool) -> str:
    from django.conf import settings

    url = f"http://{HOST}:{port}/"
    database = (
        _redact(os.environ["DATABASE_URL"])
        if os.environ.get("DATABASE_URL")
        else (f"embedded PostgreSQL, data in {settings.DATA_DIR / 'pg'} (stop it with `make stop`)")
    )
    broker = (
        _redact(os.environ["CELERY_BROKER_URL"])
        if os.environ.get("CELERY_BROKER_URL")
        else (f"filesystem transport in {settings.DATA_DIR / 'broker'}")
    )
    lines = [
        "",
        f"alokon: {url}   (admin: {url}admin/, API schema: {url}api/v1/schema/)",
        f"  database: {database}",
        f"  broker:   {broker}",
        f"  DEBUG:    {'on' if settings.DEBUG else 'off'}",
    ]
    if seeded:
        lines.append(f"  demo logins, all with password {settings.ALOKON_DEMO_PASSWORD!r} (ALOKON_DEMO_PASSWORD):")
        lines += [f"    {login}" for login in _demo_logins()]
    lines += ["  Ctrl-C stops web, worker and beat.", ""]
    return "\n".join(lines)


def main() -> None:
    _environment()
    port = _port()
    if not _port_is_free(port):
        sys.exit(f"port {port} on {HOST} is in use: choose another with PORT=8001 make run")
    seeded = prepare()
    print(banner(port, seeded=seeded), flush=True)
    honcho = [sys.executable, "-m", "honcho", "-f", str(BASE_DIR / "Procfile"), "-d", str(BASE_DIR)]
    os.execv(sys.executable, [*honcho, "start", "-p", str(port)])


def web() -> None:
    """The Procfile's web process; honcho gives it PORT."""
    _environment()
    port = _port()
    from alokon.env import env_bool

    if env_bool("DEBUG", False):
        args = [sys.executable, str(BASE_DIR / "manage.py"), "runserver", f"{HOST}:{port}"]
    else:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        args = [gunicorn, "alokon.wsgi", "--bind", f"{HOST}:{port}", "--workers", "2", "--access-logfile", "-"]
    os.chdir(BASE_DIR)
    os.execv(args[0], args)


if __name__ == "__main__":
    if sys.argv[1:] == ["web"]:
        web()
    elif sys.argv[1:]:
        sys.exit("usage: python -m alokon.devrun [web]")
    else:
        main()
