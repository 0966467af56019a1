"""Postings queue the real locations they touch for alert computation, once per quiet period."""

import pytest
from django.utils import timezone

from inventory.models import LocationChange, MovementKind
from inventory.services.posting import movement_post, transfer

pytestmark = pytest.mark.django_db


def post(source, destination, lot, quantity=1, document="T-1"):
    return movement_post(
        kind=MovementKind.DISPATCH,
        entries=transfer(source=source, destination=destination, lot=lot, quantity=quantity),
        business_date=timezone.localdate(),
        document=document,
    )


def test_a_posting_queues_each_real_location_once(stocked, lot):
    LocationChange.objects.all().delete()
    post(stocked["prov"], stocked["palu"], lot)
    queued = dict(LocationChange.objects.values_list("location_id", "changed_at"))
    assert set(queued) == {stocked["prov"].pk, stocked["palu"].pk}
    # A later posting adds nothing and keeps the first time (the debounce runs from it).
    post(stocked["prov"], stocked["sigi"], lot, document="T-2")
    again = dict(LocationChange.objects.values_list("location_id", "changed_at"))
    assert set(again) == {stocked["prov"].pk, stocked["palu"].pk, stocked["sigi"].pk}
    assert again[stocked["prov"].pk] == queued[stocked["prov"].pk]


def test_virtual_locations_are_never_queued(stocked, lot):
    LocationChange.objects.all().delete()
    from inventory.models import VirtualRole
    from inventory.services.posting import virtual_location

    post(stocked["prov"], virtual_location(VirtualRole.DISPENSED), lot)
    assert list(LocationChange.objects.values_list("location_id", flat=True)) == [stocked["prov"].pk]


def test_a_refused_posting_queues_nothing(stocked, lot):
    from inventory.errors import InsufficientStock

    LocationChange.objects.all().delete()
    with pytest.raises(InsufficientStock):
        post(stocked["palu"], stocked["sigi"], lot, quantity=10**6)
    assert not LocationChange.objects.exists()


def test_a_transaction_of_many_postings_registers_one_wake_up(stocked, lot):
    from django.db import connection

    from inventory.services.posting import wake_alert_worker

    def wake_ups():
        return sum(1 for entry in connection.run_on_commit if entry[1] is wake_alert_worker)

    # The test runs in one transaction: the fixture's opening balance registered the first.
    assert wake_ups() == 1
    LocationChange.objects.all().delete()
    post(stocked["prov"], stocked["palu"], lot, document="T-1")
    post(stocked["prov"], stocked["sigi"], lot, document="T-2")  # queues sigi: would wake again
    post(stocked["palu"], stocked["c1"], lot, document="T-3")
    assert LocationChange.objects.count() == 4
    assert wake_ups() == 1


def test_the_waker_coalesces_a_burst_into_one_message_per_interval(monkeypatch, settings):
    """Postings only set an event; one thread sends, at most once per interval."""
    import threading
    import time

    from inventory.services import alert_wakeup

    sent = []
    done = threading.Event()

    def fake_send():
        sent.append(time.monotonic())
        done.set()
        return True

    monkeypatch.setattr(alert_wakeup, "send_wakeup", fake_send)
    monkeypatch.setattr(alert_wakeup, "MIN_INTERVAL", 0.3)
    monkeypatch.setattr(alert_wakeup, "_waker", alert_wakeup._Waker())
    settings.ALOKON_ALERTS_WAKE_WORKER = True
    for _ in range(100):
        alert_wakeup.wake_alert_worker()
    assert done.wait(5)
    time.sleep(0.1)
    assert len(sent) == 1  # a burst of 100 wake-ups: one message
    for _ in range(10):
        alert_wakeup.wake_alert_worker()
    deadline = time.monotonic() + 5
    while len(sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sent) == 2 and sent[1] - sent[0] >= 0.3  # the next, after the interval
    settings.ALOKON_ALERTS_WAKE_WORKER = False
    alert_wakeup.wake_alert_worker()
    time.sleep(0.5)
    assert len(sent) == 2  # switched off: nothing
