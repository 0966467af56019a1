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
