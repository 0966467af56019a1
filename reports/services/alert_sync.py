"""Syncing the alert table with the conditions that hold now.

Each alert kind's computation returns ``Candidate`` rows: the (kind, location,
product) keys whose condition holds, with their figures. ``sync_alerts`` then, in one
transaction and a handful of set-based statements:

1. puts the candidates into a temporary table: COPY of the Python ``Candidate`` rows
   (``sync_alerts``), or ``CREATE TEMP TABLE … AS`` a statement that computes them in
   the database (``sync_alerts_sql``: no row goes through Python, and unlike
   ``INSERT … SELECT`` the statement may use a parallel plan);
2. a key with an active (open or acknowledged) alert updates it (an acknowledged
   alert stays acknowledged): its figures, severity, quantity and ``updated_at`` are
   rewritten when they changed, and an unchanged one is left alone (no new row
   version: most of a nightly run's alerts are the night before's);
3. a key without one opens an alert (a plain ``INSERT``: the kind's lock below makes
   ``ON CONFLICT``'s per-row speculative insertion unnecessary);
4. resolves every active alert of the same kinds, inside the same scope, whose key is
   no longer a candidate.

Runs may overlap (the nightly run and a debounced one, or a retried task beside its
first attempt): a transaction-level advisory lock per alert kind and shard of locations
(``lock_kinds``, taken before the kind is computed) makes syncs of a kind over the same
locations take turns, so each sees the result of the one before and nothing is opened
twice. The partial unique index
``alert_one_active`` is the last guard: an active alert opened by a writer that does
not take the lock makes the sync fail, never duplicates.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

# pg_advisory_xact_lock key of the debounced queue runs ("alokon alerts").
ALERT_LOCK = 0x616C_6572_7473
# First key of the two-key advisory locks of one alert kind and shard each ("al"; the
# second key is hashtext('<kind>:<shard>')).
KIND_LOCK_CLASS = 0x616C
# Locations fall into this many lock shards (by id): syncs of one kind over locations of
# different shards do not wait for each other (the nightly run syncs the stock kinds of
# each shard in parallel); a sync over locations of several shards locks each of them.
SHARDS = 2

# The candidates of one sync, in the transaction's temporary table.
_TABLE = "alert_candidate"
_COLUMNS = "kind, location_id, product_id, severity, quantity, figures"
_COLUMN_TYPES = "kind text, location_id bigint, product_id bigint, severity smallint, quantity numeric, figures jsonb"
_CASTS = "kind::text, location_id::bigint, product_id::bigint, severity::smallint, quantity::numeric, figures::jsonb"
# A candidate's active alert: the key of the partial unique index alert_one_active
# (product NULLS NOT DISTINCT), as a hashable join condition.
_SAME_KEY = (
    "a.kind = c.kind AND a.location_id = c.location_id AND coalesce(a.product_id, 0) = coalesce(c.product_id, 0)"
    " AND a.status IN ('open', 'acknowledged')"
)


@dataclass(frozen=True)
class Candidate:
    """A condition that holds now: (kind, location, product) and what to show about it."""

    kind: str
    location_id: int
    product_id: int | None
    severity: int
    quantity: Decimal | int | None = None
    figures: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class CandidateQuery:
    """Candidates computed by the database, for ``sync_alerts_sql``: ``sql`` is a SELECT of
    (kind, location_id, product_id, severity, quantity, figures jsonb), one row per key,
    run with ``params`` after setting ``settings`` for the rest of the transaction."""

    sql: str
    params: Mapping = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)


@dataclass
class SyncResult:
    opened: list[int] = field(default_factory=list)  # alert ids
    updated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)

    def merge(self, other: SyncResult) -> SyncResult:
        self.opened += other.opened
        self.updated += other.updated
        self.resolved += other.resolved
        return self


def _json_default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def lock_alerts() -> None:
    """Take the queue-run lock for the rest of the current transaction (one debounced
    batch at a time; each sync also locks its kinds)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ALERT_LOCK])


def shards_of(location_ids: Collection[int] | None) -> list[int]:
    """The lock shards of a scope: every shard for None (everywhere), else those of its ids."""
    if location_ids is None:
        return list(range(SHARDS))
    return sorted({int(location_id) % SHARDS for location_id in location_ids})


def lock_kinds(kinds: Collection[str], location_ids: Collection[int] | None = None) -> None:
    """Take the sync lock of each of ``kinds`` for the shards of ``location_ids`` (None:
    all) for the rest of the current transaction, in one order for every caller (so two
    transactions locking overlapping sets cannot deadlock). Take it before computing the
    kinds: the computation then sees every sync of them that finished before."""
    keys = [f"{kind}:{shard}" for kind in sorted({str(k) for k in kinds}) for shard in shards_of(location_ids)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, hashtext(k))) FROM (SELECT unnest(%s::text[]) AS k ORDER BY 1) ks",
            [KIND_LOCK_CLASS, keys],
        )


def _check_kinds_and_scope(kinds: list[str], found_kinds: set[str], found_locations: set[int], location_ids) -> None:
    stray = found_kinds - set(kinds)
    if stray:
        raise ValueError(f"candidates of kinds not being synced: {sorted(stray)}")
    if location_ids is not None:
        outside = found_locations - set(location_ids)
        if outside:
            raise ValueError(f"candidates outside the scope being synced: {sorted(outside)[:5]}")


def sync_alerts(
    kinds: Collection[str],
    candidates: Iterable[Candidate],
    *,
    location_ids: Collection[int] | None = None,
    now: dt.datetime | None = None,
) -> SyncResult:
    """Make the active alerts of ``kinds`` (at ``location_ids``, or everywhere when None)
    exactly the ``candidates``: open the new, update the still-true, resolve the rest."""
    kinds = sorted({str(k) for k in kinds})
    rows = {(c.kind, c.location_id, c.product_id): c for c in candidates}
    _check_kinds_and_scope(kinds, {c.kind for c in rows.values()}, {c.location_id for c in rows.values()}, location_ids)

    def fill(cursor) -> None:
        cursor.execute(f"CREATE TEMP TABLE {_TABLE} ({_COLUMN_TYPES}) ON COMMIT DROP")
        with cursor.cursor.copy(f"COPY {_TABLE} ({_COLUMNS}) FROM STDIN") as copy:
            for c in rows.values():
                copy.write_row(
                    (
                        c.kind,
                        c.location_id,
                        c.product_id,
                        int(c.severity),
                        c.quantity,
                        json.dumps(c.figures, default=_json_default),
                    )
                )

    return _sync(kinds, fill, location_ids=location_ids, now=now)


def sync_alerts_sql(
    kinds: Collection[str],
    select_sql: str,
    params: Mapping | Sequence | None = None,
    *,
    location_ids: Collection[int] | None = None,
    now: dt.datetime | None = None,
    settings: Mapping[str, str] | None = None,
) -> SyncResult:
    """``sync_alerts`` with the candidates computed by the database: ``select_sql`` (with
    ``params``) is a SELECT of (kind, location_id, product_id, severity, quantity, figures
    jsonb) rows, one per key, inserted into the candidate table as is. ``settings`` are
    set (``SET LOCAL``) for the rest of the transaction before it runs (work_mem, jit).
    Rows of other kinds or outside ``location_ids`` raise ``ValueError`` (nothing written)."""
    kinds = sorted({str(k) for k in kinds})

    def fill(cursor) -> None:
        for name, value in (settings or {}).items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, str(value)])
        cursor.execute(
            f"CREATE TEMP TABLE {_TABLE} ON COMMIT DROP AS SELECT {_CASTS} FROM ({select_sql}) AS found ({_COLUMNS})",
            params,
        )
        # One pass over the table, usually finding nothing.
        # NOT IN a subquery: a hashed subplan (a plain NOT … = ANY(array) here compares
        # every row with the whole array: ~0.8 s for a national shard).
        outside = "false" if location_ids is None else "location_id NOT IN (SELECT unnest(%(locations)s::bigint[]))"
        cursor.execute(
            f"""
            SELECT array_agg(DISTINCT kind) FILTER (WHERE NOT kind = ANY(%(kinds)s)),
                   (array_agg(DISTINCT location_id) FILTER (WHERE {outside}))[1:5]
              FROM {_TABLE}
             WHERE NOT kind = ANY(%(kinds)s) OR {outside}
            """,
            {"kinds": kinds, "locations": sorted(location_ids or [])},
        )
        stray_kinds, stray_locations = cursor.fetchone()
        _check_kinds_and_scope(kinds, set(stray_kinds or []), set(stray_locations or []), location_ids)

    return _sync(kinds, fill, location_ids=location_ids, now=now)


def _sync(
    kinds: list[str],
    fill: Callable,
    *,
    location_ids: Collection[int] | None,
    now: dt.datetime | None,
) -> SyncResult:
    """Lock ``kinds``, ``fill(cursor)`` the candidate table, then open, update and resolve."""
    now = now or timezone.now()
    result = SyncResult()
    with transaction.atomic(), connection.cursor() as cursor:
        lock_kinds(kinds, location_ids)
        # A ValueError from here rolls the savepoint back: the table goes with it.
        fill(cursor)
        # Temporary tables get no statistics otherwise: without them the joins below
        # probe the alert table's index once per candidate instead of hashing.
        cursor.execute(f"ANALYZE {_TABLE}")
        # Updated: every candidate that already has an active alert, whether its figures
        # changed (rewritten below) or not (left alone).
        cursor.execute(f"SELECT a.id FROM {_TABLE} c JOIN reports_alert a ON {_SAME_KEY}")
        result.updated = [row[0] for row in cursor.fetchall()]
        if result.updated:
            cursor.execute(
                f"""
                UPDATE reports_alert a
                   SET severity = c.severity, quantity = c.quantity, figures = c.figures, updated_at = %(now)s
                  FROM {_TABLE} c
                 WHERE {_SAME_KEY}
                   -- An unchanged condition writes nothing (no new row version, no WAL).
                   AND (a.severity, a.quantity, a.figures) IS DISTINCT FROM (c.severity, c.quantity, c.figures)
                """,
                {"now": now},
            )
        cursor.execute(
            f"""
            INSERT INTO reports_alert
                   (kind, location_id, product_id, status, severity, quantity, figures, opened_at, updated_at,
                    acknowledgement_note)
            SELECT kind, location_id, product_id, 'open', severity, quantity, figures, %(now)s, %(now)s, ''
              FROM {_TABLE} c
             WHERE NOT EXISTS (SELECT 1 FROM reports_alert a WHERE {_SAME_KEY})
             ORDER BY kind, location_id, product_id
            RETURNING id
            """,
            {"now": now},
        )
        result.opened = [row[0] for row in cursor.fetchall()]
        scope = "" if location_ids is None else "AND a.location_id = ANY(%(locations)s)"
        cursor.execute(
            f"""
            UPDATE reports_alert a SET status = 'resolved', resolved_at = %(now)s, updated_at = %(now)s
             WHERE a.kind = ANY(%(kinds)s) AND a.status IN ('open', 'acknowledged') {scope}
               AND NOT EXISTS (
                    SELECT 1 FROM {_TABLE} c
                     WHERE c.kind = a.kind AND c.location_id = a.location_id
                       AND c.product_id IS NOT DISTINCT FROM a.product_id)
            RETURNING a.id
            """,
            {"now": now, "kinds": kinds, "locations": list(location_ids or [])},
        )
        result.resolved = [r[0] for r in cursor.fetchall()]
        # ON COMMIT DROP drops it at the end of the transaction; compute_alerts syncs
        # several kinds in one transaction, so drop it now.
        cursor.execute(f"DROP TABLE {_TABLE}")
    return result
