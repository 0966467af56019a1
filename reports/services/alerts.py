"""Computing alerts: every kind's condition, synced into the alert table.

``compute_alerts(location_ids=None)`` is the one entry point (the nightly task, the
debounced task after postings and ``manage.py compute_alerts`` all call it):

- each alert kind's module computes the conditions that hold now, set-based, for
  the given locations (or every real location) and returns ``Candidate`` rows, or a
  ``CandidateQuery``: a statement computing them in the database (the stock kinds);
- ``alert_sync.sync_alerts`` (``sync_alerts_sql`` for a statement) opens, updates
  and resolves alerts to match, after locking the kinds (``alert_sync.lock_kinds``,
  taken before they are computed);
- called inside a transaction (the debounced runs), every kind is computed and synced
  in it; called outside one (the nightly run, ``manage.py compute_alerts``), each
  group of kinds below is computed and synced in a transaction of its own, the groups
  in parallel on their own connections: dropout risk and the document kinds are done
  while the stock statement runs, itself once per lock shard of locations
  (``alert_sync.SHARDS``) when the run is everywhere. A group's alerts are all the same
  moment's; a group that fails leaves the others done (the next run redoes it);
- on commit, the opened alerts are delivered (inbox rows and e-mail) by
  ``reports.services.notifications``.

The kinds and their modules:

============================================  =============================================
stockout, emergency, low_stock, overstock     ``stock_alerts`` (indicators: AMC, MOS, status
expiry_risk                                   class, suggested order, in transit)
dropout_risk (MOBIYA)                         ``dropout_alerts`` (stock, service figures)
overdue_shipment, open_discrepancy            ``document_alerts`` (shipments, discrepancies)
ledger_mismatch                               the nightly ``check_ledger`` task only
                                              (``document_alerts.sync_ledger_mismatches``)
============================================  =============================================
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from reports.models import AlertSettings
from reports.services import document_alerts, dropout_alerts, stock_alerts
from reports.services.alert_sync import (
    SHARDS,
    Candidate,
    CandidateQuery,
    SyncResult,
    lock_kinds,
    sync_alerts,
    sync_alerts_sql,
)

# A computer returns its candidates, or a statement computing them (synced in the database).
Found = list[Candidate] | CandidateQuery
Computer = Callable[[Collection[int] | None, dt.date, AlertSettings], Found]

# Outside a transaction, compute and sync the groups of kinds in parallel (one
# transaction and connection each).
PARALLEL_GROUPS = True


@dataclass(frozen=True)
class KindComputer:
    kinds: tuple[str, ...]
    compute: Computer


COMPUTERS: tuple[KindComputer, ...] = (
    KindComputer(stock_alerts.KINDS, stock_alerts.candidate_query),
    KindComputer(dropout_alerts.KINDS, dropout_alerts.candidates),
    KindComputer(document_alerts.KINDS, document_alerts.candidates),
)


def compute_alerts(
    location_ids: Collection[int] | None = None, *, today: dt.date | None = None, notify: bool = True
) -> SyncResult:
    """Recompute every alert kind for ``location_ids`` (None: everywhere); return what changed."""
    today = today or timezone.localdate()
    thresholds = AlertSettings.current()
    # Other connections would not see the caller's uncommitted writes: in a transaction,
    # everything happens in it.
    if PARALLEL_GROUPS and len(COMPUTERS) > 1 and not connection.in_atomic_block:
        return _compute_groups_in_parallel(location_ids, today, thresholds, notify)
    result = SyncResult()
    with transaction.atomic():
        lock_kinds([kind for computer in COMPUTERS for kind in computer.kinds], location_ids)
        for computer in COMPUTERS:
            result.merge(_sync(computer.kinds, computer.compute(location_ids, today, thresholds), location_ids))
        _deliver_on_commit(result, notify)
    return result


def _compute_group(computer: KindComputer, location_ids, today, thresholds, notify: bool) -> SyncResult:
    """One group of kinds, locked, computed and synced in a transaction of its own."""
    with transaction.atomic():
        lock_kinds(computer.kinds, location_ids)
        result = _sync(computer.kinds, computer.compute(location_ids, today, thresholds), location_ids)
        _deliver_on_commit(result, notify)
    return result


def _compute_groups_in_parallel(location_ids, today, thresholds, notify: bool) -> SyncResult:
    """Every group in a transaction of its own, in parallel: the first group (the stock
    statement, the longest) once per lock shard of locations when the run is everywhere
    (each shard's locations on its own connection), the other groups one after another
    on one more connection. Each worker thread closes its connection at the end. Every
    job runs to its end; then the first error, if any, is raised."""
    first, *others = COMPUTERS
    shards = _location_ids_by_shard() if location_ids is None else [location_ids]
    lanes = [[(first, ids)] for ids in shards] + [[(computer, location_ids) for computer in others]]
    results: list[SyncResult] = []
    errors: list[BaseException] = []

    def run(lane) -> None:
        try:
            for computer, ids in lane:
                results.append(_compute_group(computer, ids, today, thresholds, notify))
        except BaseException as error:  # raised in the caller
            errors.append(error)

    def work(lane) -> None:
        try:
            run(lane)
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(lane,), name="compute-alerts", daemon=True) for lane in lanes[1:]]
    for worker in workers:
        worker.start()
    try:
        run(lanes[0])
    finally:
        for worker in workers:
            worker.join()
    if errors:
        raise errors[0]
    result = SyncResult()
    for part in results:
        result.merge(part)
    return result


def _location_ids_by_shard() -> list[list[int]]:
    """Every location id (active or not: an alert at a location made inactive must still
    resolve), by lock shard."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM inventory_location GROUP BY id %% %s ORDER BY id %% %s",
            [SHARDS, SHARDS],
        )
        return [row[0] for row in cursor.fetchall()]


def _deliver_on_commit(result: SyncResult, notify: bool) -> None:
    if notify and result.opened:
        from reports.services.notifications import deliver_new_alerts

        opened = list(result.opened)
        transaction.on_commit(lambda: deliver_new_alerts(opened))


def _sync(kinds: tuple[str, ...], found: Found, location_ids: Collection[int] | None) -> SyncResult:
    if isinstance(found, CandidateQuery):
        return sync_alerts_sql(kinds, found.sql, found.params, location_ids=location_ids, settings=found.settings)
    return sync_alerts(kinds, found, location_ids=location_ids)
