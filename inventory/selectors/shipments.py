"""Which shipments a user may see: those whose origin or destination lies in the
user's subtree. Pages, the API and the scanner all ask here."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from inventory.models import Shipment
from inventory.selectors.scope import is_unscoped, visible_locations


def shipments_for(user) -> QuerySet:
    """Shipments with the origin or the destination in the user's subtree."""
    if is_unscoped(user):
        return Shipment.objects.all()
    visible = visible_locations(user)
    return Shipment.objects.filter(Q(origin__in=visible) | Q(destination__in=visible))
