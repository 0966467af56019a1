"""Verify the ledger against its cache: the repair job's eyes.

Three set-based passes over the ledger, each one scan:

1. per (location, lot): the balance row equals the sum of the entries, and
   entries at virtual locations carry no running balance;
2. per entry at a real location: ``balance_after`` equals the running sum of the
   (location, lot)'s quantities in id (= posting) order, which is the same as
   "each balance_after is the previous one plus the quantity, starting at zero";
3. per movement and lot: the entries net to zero.

The database already refuses most of these states; this check is what notices when
something went around it (a restored backup, a manual fix, a bug in a trigger).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.utils.translation import gettext as _

#: at most this many mismatches of each kind are listed
LIMIT = 1000


@dataclass(frozen=True)
class Mismatch:
    kind: str  # "balance", "chain", "movement", "virtual_balance_after"
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


_BALANCES = f"""
WITH sums AS (
    SELECT location_id, lot_id, sum(quantity) AS total, count(balance_after) AS with_after
      FROM inventory_ledgerentry
     GROUP BY location_id, lot_id
)
SELECT CASE WHEN l.level = 'virtual' THEN 'virtual_balance_after' ELSE 'balance' END,
       l.code, p.code, lot.batch, s.total, b.quantity
  FROM sums s
  FULL OUTER JOIN inventory_stockbalance b ON b.location_id = s.location_id AND b.lot_id = s.lot_id
  JOIN inventory_location l ON l.id = coalesce(s.location_id, b.location_id)
  JOIN inventory_lot lot ON lot.id = coalesce(s.lot_id, b.lot_id)
  JOIN inventory_product p ON p.id = lot.product_id
 WHERE (l.level <> 'virtual' AND coalesce(s.total, 0) IS DISTINCT FROM b.quantity)
    OR (l.level = 'virtual' AND (s.with_after > 0 OR b.id IS NOT NULL))
 LIMIT {LIMIT}
"""

_CHAIN = f"""
SELECT e.id, e.movement_id, l.code, p.code, lot.batch, e.running, e.balance_after
  FROM (
        SELECT id, movement_id, location_id, lot_id, balance_after,
               sum(quantity) OVER (PARTITION BY location_id, lot_id ORDER BY id
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running
          FROM inventory_ledgerentry
         WHERE location_id IN (SELECT id FROM inventory_location WHERE level <> 'virtual')
       ) e
  JOIN inventory_location l ON l.id = e.location_id
  JOIN inventory_lot lot ON lot.id = e.lot_id
  JOIN inventory_product p ON p.id = lot.product_id
 WHERE e.balance_after IS DISTINCT FROM e.running
 ORDER BY e.id
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


def ledger_check() -> LedgerReport:
    """Check every balance, every running balance and every movement; return what differs."""
    mismatches: list[Mismatch] = []
    with connection.cursor() as cursor:
        cursor.execute(_BALANCES)
        for kind, loc, product, batch, total, quantity in cursor.fetchall():
            mismatches.append(Mismatch(kind, loc, product, batch, total, quantity))
        cursor.execute(_CHAIN)
        for entry_id, movement_id, loc, product, batch, running, after in cursor.fetchall():
            mismatches.append(
                Mismatch("chain", loc, product, batch, running, after, f"entry {entry_id} (movement {movement_id})")
            )
        cursor.execute(_MOVEMENTS)
        for movement_id, document, product, batch, net in cursor.fetchall():
            mismatches.append(Mismatch("movement", None, product, batch, 0, net, f"{movement_id} {document}"))
        cursor.execute(
            "SELECT (SELECT count(*) FROM inventory_ledgerentry), (SELECT count(*) FROM inventory_stockbalance),"
            " (SELECT count(*) FROM inventory_movement)"
        )
        entries, balances, movements = cursor.fetchone()
    return LedgerReport(entries=entries, balances=balances, movements=movements, mismatches=mismatches)
