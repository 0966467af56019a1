"""Container health checks: ``python docker/healthcheck.py web|worker|beat`` exits 0 when healthy.

- web: ``GET /healthz`` on this container's gunicorn (database and broker reachable),
  with a ``Host`` header from ALLOWED_HOSTS (Django refuses any other host) over plain
  HTTP (``/healthz`` is exempt from the HTTPS redirect);
- worker: this container's Celery worker answers a ping through the broker;
- beat (and the one-shot migrate): the database and the broker are reachable
  (``alokon.health``); beat serves nothing to ask, and its container stops when it dies.

.ci/smoke runs the same checks against the processes it starts.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, wherever this is run from
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alokon.settings")

TIMEOUT = 5


def _host() -> str:
    from alokon.env import env_list

    for host in env_list("ALLOWED_HOSTS", []):
        if host != "*":
            return host.lstrip(".")  # ".example.org" allows example.org too
    return "localhost"


def web() -> bool:
    port = os.environ.get("PORT") or "8000"
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": _host()})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"web: {exc}", file=sys.stderr)
        return False


def worker() -> bool:
    import django

    django.setup()
    from alokon.celery import app

    node = f"celery@{socket.gethostname()}"  # the worker's default node name
    replies = app.control.ping(destination=[node], timeout=TIMEOUT)
    if not replies:
        print(f"worker: {node} did not answer a ping within {TIMEOUT} s", file=sys.stderr)
    return bool(replies)


def dependencies() -> bool:
    import django

    django.setup()
    from alokon.health import healthy

    return healthy()


CHECKS = {"web": web, "worker": worker, "beat": dependencies, "migrate": dependencies}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CHECKS:
        sys.exit(f"usage: healthcheck.py {'|'.join(CHECKS)}")
    sys.exit(0 if CHECKS[sys.argv[1]]() else 1)
