"""Computing alerts: every kind's condition, synced into the alert table.

``compute_alerts(location_ids=None)`` is the one entry point (the nightly task, the
debounced task after postings and ``manage.py compute_alerts`` all call it):

- each alert kind's module computes the conditions that hold now, set-based, for
  the given locations (or every real location) and returns ``Candidate`` rows;
- ``alert_sync.sync_alerts`` opens, updates and resolves alerts to match;
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
from collections.abc import Callable, Collection
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from reports.models import AlertSettings
from reports.services import document_alerts, dropout_alerts, stock_alerts
from reports.services.alert_sync import Candidate, SyncResult, lock_alerts, sync_alerts

Computer = Callable[[Collection[int] | None, dt.date, AlertSettings], list[Candidate]]


@dataclass(frozen=True)
class KindComputer:
    kinds: tuple[str, ...]
    compute: Computer


COMPUTERS: tuple[KindComputer, ...] = (
    KindComputer(stock_alerts.KINDS, stock_alerts.candidates),
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
    with transaction.atomic():
        lock_alerts()
        for computer in COMPUTERS:
            candidates = computer.compute(location_ids, today, thresholds)
            result.merge(sync_alerts(computer.kinds, candidates, location_ids=location_ids))
        if notify and result.opened:
            from reports.services.notifications import deliver_new_alerts

            opened = list(result.opened)
            transaction.on_commit(lambda: deliver_new_alerts(opened))
    return result
