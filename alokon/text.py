"""Formatting shared by messages: a moment as the reader's local date and time."""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone


def local_datetime(moment: dt.datetime) -> str:
    """``moment`` in the current time zone, in the active language's DATETIME_FORMAT."""
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
