"""Waking the alert worker after postings, without making anyone wait for the broker.

A posting that queues a quiet location (``inventory_locationchange``) registers
``wake_alert_worker`` to run after its commit. That only sets an event: one daemon
thread per process sends the message (``reports.tasks.compute_queued_alerts``, by
name), at most once per ``MIN_INTERVAL`` seconds however many postings asked, so a
burst of postings costs one message and no request waits for a broker connection.
A broker that is down costs that thread a warning, nothing else: the 5-minute sweep
picks up whatever is queued. Correctness never depends on the message.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)

TASK = "reports.tasks.compute_queued_alerts"
#: seconds between two messages from one process (the worker debounces by minutes anyway)
MIN_INTERVAL = 1.0


def send_wakeup() -> bool:
    """Send the message now; fail fast (2 s) when the broker cannot be reached."""
    from celery import current_app

    try:
        with current_app.connection_for_write(
            connect_timeout=2, transport_options={"max_retries": 0, "socket_connect_timeout": 2}
        ) as conn:
            current_app.send_task(TASK, retry=False, ignore_result=True, connection=conn)
        return True
    except Exception:  # noqa: BLE001 - a broker that is down must never fail anything
        logger.warning("alerts: could not reach the broker; the periodic run will pick the change up", exc_info=True)
        return False


class _Waker:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def wake(self) -> None:
        with self._lock:
            # A forked child (gunicorn, Celery prefork) starts its own thread.
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._event = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._event,), name="alert-waker", daemon=True)
                self._thread.start()
        self._event.set()

    @staticmethod
    def _run(event: threading.Event) -> None:
        while True:
            event.wait()
            event.clear()
            send_wakeup()
            time.sleep(MIN_INTERVAL)


_waker = _Waker()


def wake_alert_worker() -> None:
    """After a posting's commit: have the worker compute the queued locations' alerts soon."""
    if settings.ALOKON_ALERTS_WAKE_WORKER:
        _waker.wake()
