"""Reads of stock counts: what a user may see, and which locations are due a count this month."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from alokon.models import Role
from inventory.models import CountStatus, Location, StockBalance, StockCount
from inventory.selectors.scope import visible_locations

OPEN_STATUSES = (CountStatus.DRAFT, CountStatus.SUBMITTED)


def counts_for(user) -> QuerySet:
    """Counts of locations in the user's subtree."""
    return StockCount.objects.filter(location__in=visible_locations(user))


def open_count(location: Location) -> StockCount | None:
    """The location's draft or submitted count, if there is one (there is at most one at a time)."""
    return StockCount.objects.filter(location=location, status__in=OPEN_STATUSES).order_by("created_at").first()


def month_start(today: dt.date | None = None) -> dt.datetime:
    """Midnight, local time, of the first day of the current month."""
    today = today or timezone.localdate()
    return timezone.make_aware(dt.datetime.combine(today.replace(day=1), dt.time.min))


def counts_due(user, today: dt.date | None = None) -> QuerySet:
    """Locations the user should see counted this month and that have not been.

    Counted means a count submitted (taken) or approved since the first day of the
    month; a draft or a rejected count does not. Warehouse staff see their own
    location; managers (and administrators) the active locations of their subtree
    that hold stock (an empty clinic has nothing to count). Field workers count
    nothing and get no reminders.
    """
    if not user.is_authenticated or (user.role == Role.FIELD and not user.is_superuser):
        return Location.objects.none()
    locations = visible_locations(user).filter(is_active=True)
    if user.role in (Role.WAREHOUSE, Role.HEAD) and not user.is_superuser:
        locations = locations.filter(pk=user.location_id)
    else:
        holds_stock = StockBalance.objects.filter(location=OuterRef("pk"), quantity__gt=0)
        locations = locations.filter(Exists(holds_stock))
    counted = StockCount.objects.filter(
        location=OuterRef("pk"),
        status__in=[CountStatus.SUBMITTED, CountStatus.APPROVED],
        counted_at__gte=month_start(today),
    )
    return locations.exclude(Exists(counted)).order_by("path")
