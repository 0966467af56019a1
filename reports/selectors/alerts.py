"""Which alerts a user sees: the inbox of the pages, the API and the home page.

An alert is visible when its location lies in the user's subtree (``Location.path``
prefix, one range scan) and its kind is one the user's role receives:

- warehouse staff and warehouse heads: ``STOCK_KINDS`` (stock levels, expiry,
  shipments, discrepancies, ledger mismatches);
- field workers (PKB/PLKB): ``FIELD_KINDS`` (dropout risk, stockouts);
- managers, administrators and superusers: every kind.

This is the same rule that decides who is notified of an alert, so a user's inbox
and their notifications agree, and whoever receives an alert may acknowledge it.
Anything else (another subtree, a kind the role does not receive, an unknown id) is
the same 404.
"""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import Http404
from django.utils.translation import gettext as _

from alokon.models import Role
from inventory.models import Location, Product
from inventory.selectors.scope import is_unscoped
from reports.models import ACTIVE, FIELD_KINDS, STOCK_KINDS, Alert, AlertKind, AlertStatus, Notification

#: the ``status`` filter: the three states, plus "active" (open or acknowledged, the default) and "all"
STATUS_ACTIVE = "active"
STATUS_ALL = "all"
STATUS_FILTERS = (STATUS_ACTIVE, *AlertStatus.values, STATUS_ALL)


def kinds_for(user) -> tuple[str, ...] | None:
    """The kinds the user's role receives; None for every kind."""
    if user.is_superuser or user.role in (Role.MANAGER, Role.ADMIN):
        return None
    if user.role == Role.FIELD:
        return tuple(FIELD_KINDS)
    return tuple(STOCK_KINDS)


def alerts_for(
    user,
    *,
    kind: str | None = None,
    status: str | None = STATUS_ACTIVE,
    location: Location | None = None,
    product: Product | None = None,
) -> QuerySet:
    """The user's alerts, narrowed by kind, status (a state, "active" or "all"), a location
    (its whole subtree; the caller checks it is the user's) and a product; active first,
    then most severe, then newest."""
    alerts = Alert.objects.all()
    if not user.is_authenticated:
        return alerts.none()
    if not is_unscoped(user):
        root = user.location
        if root is None:
            return alerts.none()
        alerts = alerts.filter(location__path__startswith=root.path)
    kinds = kinds_for(user)
    if kinds is not None:
        alerts = alerts.filter(kind__in=kinds)
    if kind:
        alerts = alerts.filter(kind=kind)
    if status == STATUS_ACTIVE:
        alerts = alerts.filter(status__in=ACTIVE)
    elif status and status != STATUS_ALL:
        alerts = alerts.filter(status=status)
    if location is not None:
        alerts = alerts.filter(location__path__startswith=location.path)
    if product is not None:
        alerts = alerts.filter(product=product)
    return alerts.select_related("location", "product", "acknowledged_by").order_by(
        Case(When(status__in=ACTIVE, then=Value(0)), default=Value(1), output_field=IntegerField()),
        "-severity",
        "-opened_at",
        "-id",
    )


def alert_for_user(user, pk) -> Alert:
    """The alert ``pk`` if the user receives it; otherwise ``Http404``."""
    found = alerts_for(user, status=STATUS_ALL).filter(pk=pk).first()
    if found is None:
        raise Http404(_("Alert %(id)s was not found.") % {"id": pk})
    return found


def open_alerts_for(user) -> QuerySet:
    """What needs the user now (the home page): open, not yet acknowledged, most severe first."""
    return alerts_for(user, status=AlertStatus.OPEN).order_by("-severity", "-opened_at", "-id")


def unread_count(user) -> int:
    """Unread notifications of active alerts (the header badge): one COUNT on the user's index."""
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True, alert__status__in=ACTIVE).count()


def kind_choices(user) -> list[tuple[str, str]]:
    """The kinds the user receives, as choices for a filter."""
    kinds = kinds_for(user)
    return [(value, label) for value, label in AlertKind.choices if kinds is None or value in kinds]
