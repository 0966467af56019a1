"""Celery tasks of the inventory app. Thin: each calls one service and logs what it found.

``check_ledger`` is the nightly repair check (scheduled in the database by migration
0004, so an administrator can move it): it recomputes balances from the ledger and
reports every mismatch; it never repairs anything by itself. Its findings become
``ledger_mismatch`` alerts (one per location and product; a sound ledger resolves them).

``open_overdue`` runs each morning (migration 0013): it opens an overdue discrepancy
for every lot a dispatched shipment still has in transit past its expected arrival.
"""

from __future__ import annotations

import logging
from functools import partial

from celery import shared_task
from django.db import OperationalError, transaction

from inventory.services.discrepancies import open_overdue_discrepancies
from inventory.services.ledger_check import ledger_check
from reports.services.document_alerts import sync_ledger_mismatches

logger = logging.getLogger(__name__)


@shared_task(
    # A database that restarts or fails over at night should not cost a night's check.
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
    # Generous: the check reads every ledger entry (tens of millions at national scale).
    soft_time_limit=30 * 60,
    time_limit=32 * 60,
)
def check_ledger() -> int:
    """Run the ledger check; log each mismatch; return how many there are."""
    report = ledger_check()
    for mismatch in report.mismatches:
        logger.error("ledger mismatch: %s", mismatch.describe())
    counts = f"{report.entries} entries, {report.balances} balances, {report.movements} movements"
    if report.ok:
        logger.info("ledger check: consistent (%s)", counts)
    else:
        logger.error("ledger check: %d mismatch(es) in %s", len(report.mismatches), counts)
    with transaction.atomic():
        result = sync_ledger_mismatches(report)
        if result.opened:
            # Imported when needed, as compute_alerts does.
            from reports.services.notifications import deliver_new_alerts

            transaction.on_commit(partial(deliver_new_alerts, list(result.opened)))
    logger.info(
        "ledger check alerts: %d opened, %d updated, %d resolved",
        len(result.opened),
        len(result.updated),
        len(result.resolved),
    )
    return len(report.mismatches)


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
    # One set-based statement; minutes even with every shipment of the country in transit.
    soft_time_limit=10 * 60,
    time_limit=11 * 60,
)
def open_overdue() -> int:
    """Open overdue discrepancies (at most one open per shipment and lot); return how many were opened."""
    result = open_overdue_discrepancies()
    for record in result.opened:
        logger.info(
            "overdue: %s %s lot %s, %d in transit since %s (expected %s)",
            record.shipment.number,
            record.product.code,
            record.lot.batch,
            record.quantity,
            record.shipment.dispatch_date,
            record.shipment.expected_arrival,
        )
    logger.info("overdue: %d record(s) opened for %d shipment(s)", result.count, result.shipments)
    return result.count


@shared_task(time_limit=30)
def ping() -> str:
    """Answer ``"pong"``: proves a worker consumes from the configured broker."""
    return "pong"
