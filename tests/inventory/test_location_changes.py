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
