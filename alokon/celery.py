"""The Celery app: configuration from Django settings (``CELERY_*``), tasks found in each app's ``tasks.py``.

Broker: ``CELERY_BROKER_URL`` (Redis in production); without it, settings choose
kombu's filesystem transport under ``.data/broker`` so the embedded default needs no
server. Beat reads its schedule from the database (django-celery-beat), so an
administrator can change when periodic tasks run without a deploy.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alokon.settings")

app = Celery("alokon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_FILESYSTEM_FOLDERS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")


@app.on_after_configure.connect
def _ensure_filesystem_broker_folders(sender: Celery, **kwargs) -> None:
    # kombu's filesystem transport lists its folders but never creates them: the first
    # producer or worker on a fresh clone would fail with FileNotFoundError.
    if not str(sender.conf.broker_url or "").startswith("filesystem:"):
        return
    options = sender.conf.broker_transport_options or {}
    for key in _FILESYSTEM_FOLDERS:
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
