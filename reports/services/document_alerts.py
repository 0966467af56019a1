"""Alerts about documents: overdue shipments, old open discrepancies, ledger mismatches.

``candidates(location_ids, today, thresholds)`` (run by ``compute_alerts``):

- ``overdue_shipment``, per (destination, product): shipments dispatched or partially
  received whose expected arrival has passed while units of the product are still in
  transit. "Still in transit" is read from the ledger, as the daily overdue task does
  (``inventory.services.discrepancies._OPEN_OVERDUE``): what the shipment's own
  movements (its dispatch, its receipts, the resolutions of its discrepancies) left at
  the in-transit location. quantity = units overdue; one entry per shipment in the
  figures.
- ``open_discrepancy``, per (the shipment's destination, product): discrepancies still
  open more than ``AlertSettings.open_discrepancy_days`` whole days after they were
  opened (their age in days is counted in the local calendar). quantity = how many.

``sync_ledger_mismatches(report)`` syncs ``ledger_mismatch`` from a ``ledger_check()``
report: it is called by the nightly ``check_ledger`` task only (``compute_alerts``
never recomputes the ledger check, which reads every entry). One alert per
(location, product) a mismatch names; a mismatch without a location (a movement that
does not net to zero, a shipment with units left in transit) or at a virtual
location goes to the national root. A sound ledger resolves every open one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection

from django.db import connection
from django.utils import timezone

from inventory.models import Level, Location, Product, VirtualRole
from inventory.selectors.shipments import SHIPMENT_MOVEMENTS_SQL
from inventory.services.ledger_check import LedgerReport
from inventory.services.posting import virtual_location
from reports.models import AlertKind, AlertSettings, Severity
from reports.services.alert_sync import Candidate, SyncResult, sync_alerts

KINDS = (AlertKind.OVERDUE_SHIPMENT, AlertKind.OPEN_DISCREPANCY)

#: at most this many mismatch descriptions are stored on one alert (its quantity counts them all)
MAX_DESCRIBED = 100


def in_transit_sql(where: str = "") -> str:
    """Units of each product still in transit per open shipment (dispatched or partially
    received): one row (shipment_id, destination_id, expected_arrival, product_id, quantity)
    per shipment and product with a positive remainder. Parameter ``%(transit)s`` is the
    in-transit location's id; ``where`` adds conditions on the shipment ``s``.

    UNION (not UNION ALL): two discrepancies may share one resolution movement.
    """
    return f"""
    SELECT s.id AS shipment_id, s.destination_id, s.expected_arrival, e.product_id, sum(e.quantity) AS quantity
      FROM inventory_shipment s
      JOIN {SHIPMENT_MOVEMENTS_SQL} ON m.movement_id IS NOT NULL
      JOIN inventory_ledgerentry e ON e.movement_id = m.movement_id AND e.location_id = %(transit)s
     WHERE s.status IN ('dispatched', 'partially_received') {where}
     GROUP BY s.id, e.product_id
    HAVING sum(e.quantity) > 0
    """


def _scope(column: str, location_ids: Collection[int] | None) -> str:
    return "" if location_ids is None else f"AND {column} = ANY(%(locations)s)"


def _overdue_sql(location_ids) -> str:
    where = "AND s.expected_arrival < %(today)s " + _scope("s.destination_id", location_ids)
    return f"""
    SELECT t.destination_id, t.product_id, s.number, o.name, t.expected_arrival, t.quantity
      FROM ({in_transit_sql(where)}) t
      JOIN inventory_shipment s ON s.id = t.shipment_id
      JOIN inventory_location o ON o.id = s.origin_id
     ORDER BY t.destination_id, t.product_id, t.expected_arrival, s.number
    """


def _discrepancy_sql(location_ids) -> str:
    return f"""
    SELECT s.destination_id, d.product_id, d.id, s.number, d.kind, d.quantity, d.age_days
      FROM (
            SELECT id, shipment_id, product_id, kind, quantity,
                   %(today)s::date - (created_at AT TIME ZONE %(tz)s)::date AS age_days
              FROM inventory_discrepancy
             WHERE status = 'open'
           ) d
      JOIN inventory_shipment s ON s.id = d.shipment_id
     WHERE d.age_days > %(days)s {_scope("s.destination_id", location_ids)}
     ORDER BY s.destination_id, d.product_id, d.age_days DESC, d.id
    """


def candidates(location_ids: Collection[int] | None, today: dt.date, thresholds: AlertSettings) -> list[Candidate]:
    """Overdue shipments and old open discrepancies at ``location_ids`` (None: everywhere)."""
    if location_ids is not None and not location_ids:
        return []
    params = {
        "transit": virtual_location(VirtualRole.IN_TRANSIT).pk,
        "today": today,
        "tz": timezone.get_current_timezone_name(),
        "days": thresholds.open_discrepancy_days,
        "locations": list(location_ids or []),
    }
    overdue: dict[tuple[int, int], list[dict]] = defaultdict(list)
    discrepancies: dict[tuple[int, int], list[dict]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(_overdue_sql(location_ids), params)
        for destination, product, number, origin, expected, quantity in cursor.fetchall():
            overdue[destination, product].append(
                {
                    "number": number,
                    "origin": origin,
                    "expected_arrival": expected.isoformat(),
                    "days_overdue": (today - expected).days,
                    "quantity": int(quantity),
                }
            )
        cursor.execute(_discrepancy_sql(location_ids), params)
        for destination, product, pk, number, kind, quantity, age in cursor.fetchall():
            discrepancies[destination, product].append(
                {"id": pk, "shipment": number, "kind": kind, "quantity": quantity, "age_days": age}
            )
    result = [
        Candidate(
            kind=AlertKind.OVERDUE_SHIPMENT,
            location_id=location,
            product_id=product,
            severity=Severity.WARNING,
            quantity=sum(s["quantity"] for s in shipments),
            figures={"shipments": shipments},
        )
        for (location, product), shipments in overdue.items()
    ]
    result += [
        Candidate(
            kind=AlertKind.OPEN_DISCREPANCY,
            location_id=location,
            product_id=product,
            severity=Severity.WARNING,
            quantity=len(records),
            figures={"discrepancies": records, "oldest_days": max(r["age_days"] for r in records)},
        )
        for (location, product), records in discrepancies.items()
    ]
    return result


# --- ledger mismatches (nightly check_ledger) --------------------------------------------------


def _national_root() -> Location | None:
    root = Location.objects.filter(level=Level.NATIONAL).order_by("path").first()
    return root or Location.objects.real().filter(parent=None).order_by("path").first()


def ledger_mismatch_candidates(report: LedgerReport) -> list[Candidate]:
    """One candidate per (location, product) the report's mismatches name (see the module docstring)."""
    if report.ok:
        return []
    codes = {m.location for m in report.mismatches if m.location}
    locations = dict(Location.objects.real().filter(code__in=codes).values_list("code", "pk"))
    products = dict(
        Product.objects.filter(code__in={m.product for m in report.mismatches if m.product}).values_list("code", "pk")
    )
    root = None
    grouped: dict[tuple[int, int | None], list[str]] = defaultdict(list)
    for mismatch in report.mismatches:
        location_id = locations.get(mismatch.location)
        if location_id is None:
            root = root or _national_root()
            if root is None:  # no location tree at all: nowhere to show it (the task's log still has it)
                continue
            location_id = root.pk
        grouped[location_id, products.get(mismatch.product)].append(mismatch.describe())
    return [
        Candidate(
            kind=AlertKind.LEDGER_MISMATCH,
            location_id=location,
            product_id=product,
            severity=Severity.CRITICAL,
            quantity=len(described),
            figures={"mismatches": described[:MAX_DESCRIBED]},
        )
        for (location, product), described in grouped.items()
    ]


def sync_ledger_mismatches(report: LedgerReport) -> SyncResult:
    """Make the active ``ledger_mismatch`` alerts exactly what ``report`` found (everywhere)."""
    return sync_alerts([AlertKind.LEDGER_MISMATCH], ledger_mismatch_candidates(report))
