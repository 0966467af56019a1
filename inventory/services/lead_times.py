"""Expected lead times of routes (settings ALOKON_LEAD_DAYS, ALOKON_LEAD_DAYS_DEFAULT)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from inventory.models import Location


def lead_days(origin: Location, destination: Location) -> int:
    """Days a shipment from ``origin`` to ``destination`` is expected to take."""
    return settings.ALOKON_LEAD_DAYS.get(f"{origin.level}>{destination.level}", settings.ALOKON_LEAD_DAYS_DEFAULT)


def expected_arrival(origin: Location, destination: Location, dispatched_on: dt.date) -> dt.date:
    return dispatched_on + dt.timedelta(days=lead_days(origin, destination))
