"""Structured logs: one JSON object per line on stdout, for the web, worker and beat processes alike.

A log collector (``docker compose logs``, journald, Loki, CloudWatch…) reads stdout;
one JSON object per line keeps a traceback or a message with a newline in it one
record, and lets it filter by ``level``, ``logger`` or an HTTP ``status`` without
regular expressions. ``LOG_FORMAT=plain`` gives the old human-readable lines (the
default when DEBUG is on, and in the tests, whose worker tests read the worker's log).

The module imports nothing from Django, so gunicorn's configuration file
(``docker/gunicorn.conf.py``) can use it before the application is loaded.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

#: gunicorn's access-log atoms (``record.args`` of a ``gunicorn.access`` record) kept as fields
_ACCESS_FIELDS = {"m": "method", "U": "path", "s": "status", "B": "bytes", "M": "duration_ms", "h": "remote_addr"}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", …}``; exceptions as ``exc_info`` text."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            for atom, field in _ACCESS_FIELDS.items():
                if atom in record.args:
                    entry[field] = record.args[atom]
        status = getattr(record, "status_code", None)  # django.request's and django.server's extra
        if status is not None:
            entry["status"] = status
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            entry["method"], entry["path"] = getattr(request, "method", None), request.path
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(*, log_format: str, level: str) -> dict:
    """The ``LOGGING`` dict of Django's settings: everything through the root logger (JSON: on stdout)."""
    if log_format == "json":
        formatter, stream = {"()": f"{__name__}.JsonFormatter"}, "ext://sys.stdout"
    else:  # as before structured logs: human-readable lines on stderr
        formatter, stream = {"format": PLAIN_FORMAT}, "ext://sys.stderr"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "main", "stream": stream}},
        "root": {"handlers": ["console"], "level": level},
    }


def gunicorn_logging_config(*, log_format: str, level: str) -> dict:
    """gunicorn's ``logconfig_dict``: its error and access loggers in the same format on stdout."""
    config = logging_config(log_format=log_format, level=level)
    config["loggers"] = {
        "gunicorn.error": {"level": level, "handlers": ["console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
    }
    return config
