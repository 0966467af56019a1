"""Which shipments a user may see: those whose origin or destination lies in the
user's subtree. Pages, the API and the scanner all ask here."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from inventory.models import Shipment
from inventory.selectors.scope import is_unscoped, visible_locations

# The movements that moved a shipment's goods: its dispatch, each receipt, each
# discrepancy's resolution. A LATERAL subquery over a shipment aliased ``s``, giving
# ``m.movement_id`` (NULL for a draft's missing dispatch). UNION, not UNION ALL: two
# discrepancies may share one resolution movement. What a shipment still has in
# transit is the sum of these movements' entries at the in-transit location.
SHIPMENT_MOVEMENTS_SQL = """LATERAL (
            SELECT s.dispatch_movement_id AS movement_id
            UNION SELECT r.movement_id FROM inventory_receipt r WHERE r.shipment_id = s.id
            UNION SELECT d.resolution_movement_id FROM inventory_discrepancy d WHERE d.shipment_id = s.id
           ) m"""


def shipments_for(user) -> QuerySet:
    """Shipments with the origin or the destination in the user's subtree."""
    if is_unscoped(user):
        return Shipment.objects.all()
    visible = visible_locations(user)
    return Shipment.objects.filter(Q(origin__in=visible) | Q(destination__in=visible))
