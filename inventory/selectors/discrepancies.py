"""Which discrepancies a user may see, and the list filters of the pages and the API.

A discrepancy is visible when its shipment is (origin or destination in the user's
subtree): the staff of both ends and every manager above either of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _

from inventory.models import Discrepancy, Level, Location, Shipment
from inventory.selectors.shipments import shipments_for


def discrepancies_for(user) -> QuerySet:
    return Discrepancy.objects.filter(shipment__in=shipments_for(user))


def discrepancy_for_user(user, pk) -> Discrepancy:
    """The discrepancy ``pk`` with its shipment, or ``Http404`` (unknown, or not the user's)."""
    found = (
        discrepancies_for(user)
        .select_related(
            "shipment__origin",
            "shipment__destination",
            "shipment__created_by",
            "shipment__dispatched_by",
            "shipment__returns",
            "product",
            "lot",
            "receipt__received_by",
            "resolved_by",
            "resolution_movement",
            "return_shipment",
            "mixup_lot",
            "split_from",
        )
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404(_("Discrepancy %(id)s was not found.") % {"id": pk})
    return found


def filter_discrepancies(
    queryset: QuerySet,
    *,
    status: str = "",
    kind: str = "",
    location: Location | None = None,
    route: str = "",
    min_age_days: int | None = None,
    today: dt.date | None = None,
) -> QuerySet:
    """Narrow a list: status, kind, a location (origin or destination in its subtree),
    a route level (``"province>district"``, as in ALOKON_LEAD_DAYS), at least so many days old."""
    if status:
        queryset = queryset.filter(status=status)
    if kind:
        queryset = queryset.filter(kind=kind)
    if location is not None:
        queryset = queryset.filter(
            Q(shipment__origin__path__startswith=location.path)
            | Q(shipment__destination__path__startswith=location.path)
        )
    if route:
        origin_level, _sep, destination_level = route.partition(">")
        queryset = queryset.filter(shipment__origin__level=origin_level, shipment__destination__level=destination_level)
    if min_age_days:
        today = today or timezone.localdate()
        since = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=min_age_days), dt.time.max))
        queryset = queryset.filter(created_at__lte=since)
    return queryset


def list_queryset(queryset: QuerySet) -> QuerySet:
    return queryset.select_related(
        "shipment__origin", "shipment__destination", "product", "lot", "resolved_by", "return_shipment"
    ).order_by("-created_at", "-id")


def route_choices() -> list[tuple[str, str]]:
    """The route levels shipments travel: down, up and sideways between real levels."""
    levels = [Level.NATIONAL, Level.PROVINCE, Level.DISTRICT, Level.CLINIC]
    routes = []
    for index, origin in enumerate(levels):
        for destination in levels[max(index - 1, 0) : index + 2]:
            # Lazy: the choices are built at import, the labels are read in each request's language.
            routes.append(
                (f"{origin.value}>{destination.value}", format_lazy("{} → {}", origin.label, destination.label))
            )
    return routes


@dataclass(frozen=True)
class Event:
    when: dt.datetime
    what: str
    who: object = None  # a user, or None for the system
    discrepancy: Discrepancy | None = None


def shipment_history(shipment: Shipment) -> list[Event]:
    """What happened to ``shipment``, oldest first: created, dispatched, each receipt,
    each discrepancy opened and resolved, closed. Three queries."""
    events = [Event(shipment.created_at, _("Created"), shipment.created_by)]
    if shipment.dispatched_at:
        events.append(Event(shipment.dispatched_at, _("Dispatched"), shipment.dispatched_by))
    for receipt in shipment.receipts.select_related("received_by"):
        events.append(Event(receipt.received_at, _("Received"), receipt.received_by))
    for item in shipment.discrepancies.select_related("product", "lot", "resolved_by").order_by("id"):
        label = f"{item.get_kind_display()} {item.product.code} {item.lot.batch} ({item.quantity})"
        if item.split_from_id is None:
            events.append(Event(item.created_at, _("Discrepancy opened: %(what)s") % {"what": label}, None, item))
        if item.resolved_at:
            what = _("Discrepancy resolved: %(what)s, %(resolution)s") % {
                "what": label,
                "resolution": item.get_resolution_display(),
            }
            events.append(Event(item.resolved_at, what, item.resolved_by, item))
    if shipment.closed_at:
        events.append(Event(shipment.closed_at, _("Closed"), None))
    return sorted(events, key=lambda event: event.when)
