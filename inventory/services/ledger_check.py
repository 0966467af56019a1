"""Verify the ledger against its cache: the repair job's eyes.

Set-based passes over the ledger, each one ordered index-only scan:

1. per entry, in (location, lot, id) order: at a real location ``balance_after``
   equals the running sum of the (location, lot)'s quantities in id (= posting)
   order, which is "each balance_after is the previous one plus the quantity,
   starting at zero"; the last one equals the balance row; entries at virtual
   locations carry no balance-after;
2. balance rows with no entries at all must be zero (and never at a virtual location);
3. per movement and lot: the entries net to zero;
4. per shipment that is received or closed, and lot: nothing is left in transit from
   the shipment's own movements (its dispatch, its receipts, the resolutions of its
   discrepancies).

The database already refuses most of these states; this check is what notices when
something went around it (a restored backup, a manual fix, a bug in a trigger).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.utils.translation import gettext as _

from inventory.selectors.shipments import SHIPMENT_MOVEMENTS_SQL

#: at most this many mismatches of each kind are listed
LIMIT = 1000


@dataclass(frozen=True)
class Mismatch:
    # "balance", "chain", "movement", "virtual_balance_after", "virtual_balance", "shipment_in_transit"
    kind: str
    location: str | None
    product: str | None
    batch: str | None
    expected: int | None
    found: int | None
    reference: str = ""

    def describe(self) -> str:
        where = f"{self.location} {self.product} {self.batch}" if self.location else self.reference
        if self.kind == "balance":
            return _("balance of %(where)s is %(found)s but its entries sum to %(expected)s") % {
                "where": where,
                "found": self.found,
                "expected": self.expected,
            }
        if self.kind == "chain":
            return _("%(ref)s at %(where)s: balance after is %(found)s, running total is %(expected)s") % {
                "ref": self.reference,
                "where": where,
                "found": self.found,
                "expected": self.expected,
            }
        if self.kind == "movement":
            return _("movement %(ref)s does not net to zero for %(product)s %(batch)s (net %(found)s)") % {
                "ref": self.reference,
                "product": self.product,
                "batch": self.batch,
                "found": self.found,
            }
        if self.kind == "shipment_in_transit":
            return _(
                "shipment %(ref)s is received or closed but still has %(found)s of %(product)s %(batch)s in transit"
            ) % {
                "ref": self.reference,
                "found": self.found,
                "product": self.product,
                "batch": self.batch,
            }
        if self.kind == "virtual_balance":
            return _("%(where)s: a virtual location keeps no balance row, but one holds %(found)s") % {
                "where": where,
                "found": self.found,
            }
        return _("%(where)s: entries at a virtual location must not carry a balance after") % {"where": where}


@dataclass
class LedgerReport:
    entries: int
    balances: int
    movements: int
    mismatches: list[Mismatch]

    @property
    def ok(self) -> bool:
        return not self.mismatches


# One pass over every entry in (location, lot, id) order: an index-only scan of
# entry_location_lot, which includes quantity and balance_after. The running sum
# checks each balance-after; the last entry of each (location, lot) meets its
# balance row; entries at virtual locations must carry no balance-after.
_ENTRIES = f"""
SELECT e.id, l.level = 'virtual', l.code, p.code, lot.batch, e.running, e.balance_after, e.is_last, b.quantity
  FROM (
        -- only columns of entry_location_lot, so the scan never visits the table
        SELECT id, location_id, lot_id, balance_after,
               sum(quantity) OVER w AS running,
               lead(id) OVER w IS NULL AS is_last
          FROM inventory_ledgerentry
        WINDOW w AS (PARTITION BY location_id, lot_id ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
       ) e
  JOIN inventory_location l ON l.id = e.location_id
  LEFT JOIN inventory_stockbalance b ON e.is_last AND b.location_id = e.location_id AND b.lot_id = e.lot_id
  JOIN inventory_lot lot ON lot.id = e.lot_id
  JOIN inventory_product p ON p.id = lot.product_id
 WHERE (l.level = 'virtual' AND e.balance_after IS NOT NULL)
    OR (l.level <> 'virtual' AND e.balance_after IS DISTINCT FROM e.running)
    OR (l.level <> 'virtual' AND e.is_last AND b.quantity IS DISTINCT FROM e.running)
 ORDER BY e.id
 LIMIT {LIMIT}
"""

# Balance rows the pass above cannot see: at a (location, lot) without entries, or
# at a virtual location (the trigger refuses those; a restore might not).
_ORPHAN_BALANCES = f"""
SELECT l.level = 'virtual', l.code, p.code, lot.batch, b.quantity
  FROM inventory_stockbalance b
  JOIN inventory_location l ON l.id = b.location_id
  JOIN inventory_lot lot ON lot.id = b.lot_id
  JOIN inventory_product p ON p.id = lot.product_id
 WHERE (b.quantity <> 0 OR l.level = 'virtual')
   AND NOT EXISTS (
        SELECT 1 FROM inventory_ledgerentry e WHERE e.location_id = b.location_id AND e.lot_id = b.lot_id
       )
 LIMIT {LIMIT}
"""

_MOVEMENTS = f"""
SELECT m.id, m.document, p.code, lot.batch, u.net
  FROM (
        SELECT movement_id, lot_id, sum(quantity) AS net
          FROM inventory_ledgerentry
         GROUP BY movement_id, lot_id
        HAVING sum(quantity) <> 0
         LIMIT {LIMIT}
       ) u
  JOIN inventory_movement m ON m.id = u.movement_id
  JOIN inventory_lot lot ON lot.id = u.lot_id
  JOIN inventory_product p ON p.id = lot.product_id
"""

# A received or closed shipment has nothing left in transit: its dispatch, receipts
# and resolution movements net to zero at the in-transit location, per lot. UNION
# (not UNION ALL): two discrepancies may share one resolution movement.
_SHIPMENTS_IN_TRANSIT = f"""
SELECT s.number, s.status, p.code, lot.batch, sum(e.quantity)
  FROM inventory_shipment s
  JOIN {SHIPMENT_MOVEMENTS_SQL} ON m.movement_id IS NOT NULL
  JOIN inventory_ledgerentry e ON e.movement_id = m.movement_id
  JOIN inventory_location l ON l.id = e.location_id AND l.virtual_role = 'in_transit'
  JOIN inventory_lot lot ON lot.id = e.lot_id
  JOIN inventory_product p ON p.id = lot.product_id
 WHERE s.status IN ('received', 'closed')
 GROUP BY s.id, s.number, s.status, p.code, lot.batch
HAVING sum(e.quantity) <> 0
 ORDER BY s.number, lot.batch
 LIMIT {LIMIT}
"""


def ledger_check() -> LedgerReport:
    """Check every balance, every running balance and every movement; return what differs."""
    mismatches: list[Mismatch] = []
    with connection.cursor() as cursor:
        cursor.execute(_ENTRIES)
        rows = cursor.fetchall()
        movements = {}
        if rows:
            cursor.execute(
                "SELECT id, movement_id FROM inventory_ledgerentry WHERE id = ANY(%s)", [[row[0] for row in rows]]
            )
            movements = dict(cursor.fetchall())
        for entry_id, virtual, loc, product, batch, running, after, is_last, quantity in rows:
            reference = f"entry {entry_id} (movement {movements.get(entry_id)})"
            if virtual:
                mismatches.append(Mismatch("virtual_balance_after", loc, product, batch, None, after, reference))
                continue
            if after != running:
                mismatches.append(Mismatch("chain", loc, product, batch, running, after, reference))
            if is_last and quantity != running:
                mismatches.append(Mismatch("balance", loc, product, batch, running, quantity))
        cursor.execute(_ORPHAN_BALANCES)
        for virtual, loc, product, batch, quantity in cursor.fetchall():
            kind = "virtual_balance" if virtual else "balance"
            mismatches.append(Mismatch(kind, loc, product, batch, 0, quantity))
        cursor.execute(_MOVEMENTS)
        for movement_id, document, product, batch, net in cursor.fetchall():
            mismatches.append(Mismatch("movement", None, product, batch, 0, net, f"{movement_id} {document}"))
        cursor.execute(_SHIPMENTS_IN_TRANSIT)
        for number, status, product, batch, left in cursor.fetchall():
            mismatches.append(Mismatch("shipment_in_transit", None, product, batch, 0, left, f"{number} ({status})"))
        cursor.execute(
            "SELECT (SELECT count(*) FROM inventory_ledgerentry), (SELECT count(*) FROM inventory_stockbalance),"
            " (SELECT count(*) FROM inventory_movement)"
        )
        entries, balances, movements = cursor.fetchone()
    return LedgerReport(entries=entries, balances=balances, movements=movements, mismatches=mismatches)
