"""Computing alerts: every kind's condition, synced into the alert table.

``compute_alerts(location_ids=None)`` is the one entry point (the nightly task, the
debounced task after postings and ``manage.py compute_alerts`` all call it):

- each alert kind's module computes the conditions that hold now, set-based, for
  the given locations (or every real location) and returns ``Candidate`` rows, or a
  ``CandidateQuery``: a statement computing them in the database (the stock kinds);
- ``alert_sync.sync_alerts`` (``sync_alerts_sql`` for a statement) opens, updates
  and resolves alerts to match; called outside a transaction (the nightly run), the
  computations run in a worker thread on its own connection one step ahead of the
  syncs, so dropout risk is computed while the stock statement runs;
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

import contextlib
import datetime as dt
import queue
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from reports.models import AlertSettings
from reports.services import document_alerts, dropout_alerts, stock_alerts
from reports.services.alert_sync import Candidate, CandidateQuery, SyncResult, lock_alerts, sync_alerts, sync_alerts_sql

# A computer returns its candidates, or a statement computing them (synced in the database).
Found = list[Candidate] | CandidateQuery
Computer = Callable[[Collection[int] | None, dt.date, AlertSettings], Found]

# Compute the kinds in a worker thread (its own connection), one step ahead of the syncs
# in the caller's transaction: dropout risk is computed while the stock statement runs.
COMPUTE_AHEAD = True


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
    result = SyncResult()
    # Ahead only when called outside a transaction: another connection would not see
    # the caller's uncommitted writes.
    ahead = COMPUTE_AHEAD and len(COMPUTERS) > 1 and not connection.in_atomic_block
    with transaction.atomic():
        lock_alerts()
        computed = _computed_ahead if ahead else _computed
        with contextlib.closing(computed(COMPUTERS, location_ids, today, thresholds)) as found_all:
            for computer, found in found_all:
                result.merge(_sync(computer.kinds, found, location_ids))
        if notify and result.opened:
            from reports.services.notifications import deliver_new_alerts

            opened = list(result.opened)
            transaction.on_commit(lambda: deliver_new_alerts(opened))
    return result


def _sync(kinds: tuple[str, ...], found: Found, location_ids: Collection[int] | None) -> SyncResult:
    if isinstance(found, CandidateQuery):
        return sync_alerts_sql(kinds, found.sql, found.params, location_ids=location_ids, settings=found.settings)
    return sync_alerts(kinds, found, location_ids=location_ids)


def _computed(computers, location_ids, today, thresholds) -> Iterator[tuple[KindComputer, Found]]:
    for computer in computers:
        yield computer, computer.compute(location_ids, today, thresholds)


def _computed_ahead(computers, location_ids, today, thresholds) -> Iterator[tuple[KindComputer, Found]]:
    """``_computed``, the computations running in a worker thread on its own connection
    (closed at the end) while the caller syncs what is ready. An error in the worker is
    raised here; closing this early stops the worker after its current computation."""
    ready: queue.Queue = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        try:
            for computer in computers:
                if stop.is_set():
                    return
                try:
                    ready.put((computer, computer.compute(location_ids, today, thresholds), None))
                except BaseException as error:  # raised in the caller
                    ready.put((computer, None, error))
                    return
        finally:
            connection.close()

    worker = threading.Thread(target=work, name="compute-alerts", daemon=True)
    worker.start()
    try:
        for _ in computers:
            computer, found, error = ready.get()
            if error is not None:
                raise error
            yield computer, found
    finally:
        stop.set()
        worker.join()
