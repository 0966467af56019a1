"""``/healthz``: is this process able to serve? The database answers and the broker accepts a connection.

200 ``ok`` when both do, 503 otherwise. The body says nothing more (a host name or an
error message would tell a stranger about the inside); the reason goes to the log.
No login, no session, no database query but ``SELECT 1``: load balancers and
container health checks call it every few seconds. It is exempt from the HTTPS
redirect (``SECURE_REDIRECT_EXEMPT``) so that a check from inside the container can
use plain HTTP.

``python -m alokon.health`` runs the same two checks without HTTP and exits 0 or 1:
the health check of the worker and beat containers, which serve no HTTP.
"""

from __future__ import annotations

import logging

from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

#: seconds to wait for the broker; a load balancer's own timeout is usually a few seconds
BROKER_TIMEOUT = 2


def database_ok(alias: str = "default") -> bool:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception as exc:  # any failure means "not healthy"; the log says which (one line per probe)
        logger.warning("healthz: the database did not answer: %s", str(exc).strip())
        return False


def broker_ok() -> bool:
    from alokon.celery import app

    try:
        with app.connection_for_write(
            connect_timeout=BROKER_TIMEOUT,
            transport_options={
                "max_retries": 0,
                "socket_connect_timeout": BROKER_TIMEOUT,
                "socket_timeout": BROKER_TIMEOUT,
            },
        ) as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
        return True
    except Exception as exc:
        logger.warning("healthz: the broker did not accept a connection: %s", str(exc).strip())
        return False


def healthy() -> bool:
    database, broker = database_ok(), broker_ok()  # both, so the log names every failure
    return database and broker


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    if healthy():
        return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")
    return HttpResponse("unavailable\n", status=503, content_type="text/plain; charset=utf-8")


if __name__ == "__main__":
    import os
    import sys

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alokon.settings")
    django.setup()
    sys.exit(0 if healthy() else 1)
