"""The SQL of the posting path, kept apart so the benchmark's raw-psycopg baseline
runs exactly these statements (bench/posting.py, scenario ``raw``).

A posting is two round trips plus the commit: ``LOCK`` (lock and read the balance
rows, in a fixed order) and ``WRITE`` (move the balances, insert the movement and
its entries, in one statement). ``CREATE`` runs only when a (location, lot) receives
stock for the first time.
"""

#: lock the balance rows of the given (location, lot) pairs, in (location, lot) order
LOCK = """
SELECT b.location_id, b.lot_id, b.quantity
  FROM inventory_stockbalance b
  JOIN unnest(%(locations)s::bigint[], %(lots)s::bigint[]) AS t(location_id, lot_id)
    ON b.location_id = t.location_id AND b.lot_id = t.lot_id
 ORDER BY b.location_id, b.lot_id
   FOR UPDATE OF b
"""

#: create missing balance rows at zero (in the same order), for pairs about to receive stock
CREATE = """
INSERT INTO inventory_stockbalance (location_id, lot_id, product_id, quantity, updated_at)
SELECT t.location_id, t.lot_id, t.product_id, 0, %(now)s::timestamptz
  FROM unnest(%(locations)s::bigint[], %(lots)s::bigint[], %(products)s::bigint[])
       AS t(location_id, lot_id, product_id)
 ORDER BY t.location_id, t.lot_id
ON CONFLICT (location_id, lot_id) DO NOTHING
"""

#: increment the (locked) balances, insert the movement and its entries; entries get
#: their ids in the order given (WITH ORDINALITY), which is the balance-after order
WRITE = """
WITH balances AS (
    UPDATE inventory_stockbalance b
       SET quantity = b.quantity + t.delta, updated_at = %(now)s::timestamptz
      FROM unnest(%(b_locations)s::bigint[], %(b_lots)s::bigint[], %(b_deltas)s::bigint[])
           AS t(location_id, lot_id, delta)
     WHERE b.location_id = t.location_id AND b.lot_id = t.lot_id
    RETURNING 1
), movement AS (
    INSERT INTO inventory_movement (kind, document, business_date, recorded_at, recorded_by_id, note, reverses_id)
    VALUES (%(kind)s::varchar, %(document)s::varchar, %(date)s::date, %(now)s::timestamptz, %(actor)s::bigint,
            %(note)s::text, %(reverses)s::bigint)
    RETURNING id
), entries AS (
    INSERT INTO inventory_ledgerentry (movement_id, location_id, lot_id, product_id, quantity, kind, reason,
                                       business_date, recorded_at, recorded_by_id, balance_after)
    SELECT movement.id, e.location_id, e.lot_id, e.product_id, e.quantity, %(kind)s::varchar, e.reason,
           %(date)s::date, %(now)s::timestamptz, %(actor)s::bigint, e.balance_after
      FROM movement,
           unnest(%(e_locations)s::bigint[], %(e_lots)s::bigint[], %(e_products)s::bigint[],
                  %(e_quantities)s::bigint[], %(e_after)s::bigint[], %(e_reasons)s::varchar[])
           WITH ORDINALITY AS e(location_id, lot_id, product_id, quantity, balance_after, reason, ord)
     ORDER BY e.ord
    RETURNING 1
), changes AS (
    -- Queue the real locations for alert computation; an already queued one adds
    -- nothing and locks nothing (inventory.models.changes).
    INSERT INTO inventory_locationchange (location_id, changed_at)
    SELECT DISTINCT t.location_id, %(now)s::timestamptz FROM unnest(%(b_locations)s::bigint[]) AS t(location_id)
    ON CONFLICT (location_id) DO NOTHING
    RETURNING location_id
)
SELECT movement.id, (SELECT count(*) FROM balances), (SELECT count(*) FROM entries),
       (SELECT count(*) FROM changes)
  FROM movement
"""


def lock_params(keys: list[tuple[int, int]]) -> dict:
    """Parameters of ``LOCK`` for (location id, lot id) pairs in lock order."""
    return {"locations": [k[0] for k in keys], "lots": [k[1] for k in keys]}


def create_params(keys: list[tuple[int, int]], products: dict[tuple[int, int], int], now) -> dict:
    """Parameters of ``CREATE`` for pairs without a balance row; ``products`` maps a pair to its product id."""
    return {**lock_params(keys), "products": [products[k] for k in keys], "now": now}


def write_params(
    *, now, deltas: dict[tuple[int, int], int], kind: str, document: str, date, actor_id, note: str, reverses_id, rows
) -> dict:
    """Parameters of ``WRITE``.

    ``deltas``: net change per real (location id, lot id), in lock order; ``rows``:
    the entries in order, each (location id, lot id, product id, quantity, balance
    after, reason).
    """
    return {
        "now": now,
        "b_locations": [k[0] for k in deltas],
        "b_lots": [k[1] for k in deltas],
        "b_deltas": list(deltas.values()),
        "kind": kind,
        "document": document,
        "date": date,
        "actor": actor_id,
        "note": note,
        "reverses": reverses_id,
        "e_locations": [r[0] for r in rows],
        "e_lots": [r[1] for r in rows],
        "e_products": [r[2] for r in rows],
        "e_quantities": [r[3] for r in rows],
        "e_after": [r[4] for r in rows],
        "e_reasons": [r[5] for r in rows],
    }
