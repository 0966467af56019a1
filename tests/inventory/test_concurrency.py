"""Eight writers on one balance row: no lost update, never below zero.

Real threads, each with its own database connection, all posting at once against
the same (location, lot) with more demand than stock: exactly the stock is taken,
every other attempt gets InsufficientStock, and the ledger checks out.
"""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from inventory.errors import InsufficientStock
from inventory.models import LedgerEntry, MovementKind, StockBalance
from inventory.services.ledger_check import ledger_check
from inventory.services.posting import movement_post, transfer

WRITERS = 8
ATTEMPTS = 20  # 8 × 20 × 1 unit = 160 wanted, 100 on hand


@pytest.mark.django_db(transaction=True)
def test_eight_writers_on_one_row_lose_no_update_and_never_overdraw(stocked, lot):
    source, destinations = stocked["prov"], [stocked["palu"], stocked["sigi"]]
    barrier = threading.Barrier(WRITERS)
    results = {"ok": 0, "short": 0, "errors": []}
    lock = threading.Lock()

    def writer(n):
        try:
            barrier.wait(timeout=30)
            for i in range(ATTEMPTS):
                try:
                    movement_post(
                        kind=MovementKind.DISPATCH,
                        entries=transfer(source=source, destination=destinations[n % 2], lot=lot, quantity=1),
                        business_date=timezone.localdate(),
                        document=f"RACE-{n}-{i}",
                    )
                    outcome = "ok"
                except InsufficientStock:
                    outcome = "short"
                with lock:
                    results[outcome] += 1
        except Exception as exc:  # noqa: BLE001 - reported below
            with lock:
                results["errors"].append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert results["errors"] == []
    assert results["ok"] == 100
    assert results["short"] == WRITERS * ATTEMPTS - 100
    assert StockBalance.objects.get(location=source, lot=lot).quantity == 0
    received = sum(StockBalance.objects.get(location=d, lot=lot).quantity for d in destinations)
    assert received == 100
    # every successful posting left a balance-after in a gap-free chain down to zero
    afters = list(
        LedgerEntry.objects.filter(location=source, quantity__lt=0)
        .order_by("id")
        .values_list("balance_after", flat=True)
    )
    assert afters == list(range(99, -1, -1))
    assert ledger_check().ok
