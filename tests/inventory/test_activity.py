"""The activity page: who did what, when, to which document, in a location's subtree only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.errors import ScopeError
from inventory.selectors.activity import KINDS, activity_for
from inventory.views import activity as activity_view
from tests.reports import scenario

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def history(stocked, make_user, lot):
    return scenario.build(stocked, make_user, lot)


def url(code):
    return reverse("location-activity", args=[code])


def find(events, kind, document=None):
    return [e for e in events if e.kind == kind and (document is None or e.document == document)]


def test_every_document_says_who_and_when(history):
    users, shipments = history["users"], history["shipments"]
    events = activity_for(users["prov"], history["prov"])
    a = shipments["a"]

    (created,) = find(events, "shipment_created", a.number)
    assert (created.who, created.when) == ("Ani Province", a.created_at)
    assert [loc.code for loc in created.locations] == ["72", "72.71"]
    assert created.url == reverse("shipment-detail", args=[a.number])
    (dispatched,) = find(events, "shipment_dispatched", a.number)
    assert (dispatched.who, dispatched.when) == ("Ani Province", a.dispatched_at)

    receipt = a.receipts.get()
    (received,) = [e for e in find(events, "receipt_recorded") if e.when == receipt.received_at and "Palu" in e.who]
    assert received.document == receipt.movement.document
    assert received.url == reverse("shipment-detail", args=[a.number])

    opened = find(events, "discrepancy_opened", a.number)
    assert {e.who for e in opened} == {"Budi Palu"}
    assert sorted(e.detail.split(":")[0] for e in opened) == ["Damaged", "Short"]
    (overdue,) = find(events, "discrepancy_opened", shipments["c"].number)
    assert overdue.who == "System"  # the daily check opened it, not a person

    (late,) = find(events, "discrepancy_resolved", shipments["f"].number)
    assert "Late receipt" in late.detail
    (resolved,) = find(events, "discrepancy_resolved", shipments["d"].number)
    assert resolved.who == "Budi Palu"
    assert resolved.when == history["d_short"].resolved_at
    assert "Write-off" in resolved.detail and "Lost" in resolved.detail and "Fell off the boat" in resolved.detail
    # The discrepancy's own page if it exists yet, else its shipment's.
    assert resolved.url is not None

    (approved,) = find(events, "count_approved")
    assert (approved.who, approved.document) == ("kepala7271", history["palu_count"].number)
    assert {e.document for e in find(events, "count_submitted")} == {
        history["palu_count"].number,
        history["sigi_count"].number,
    }
    (dispensed,) = find(events, "dispensing_recorded")
    assert (dispensed.who, dispensed.document) == ("faskes7271", "DSP-72.71-001-1")
    (figures,) = find(events, "figures_recorded")
    assert "40 active" in figures.detail
    (closed,) = find(events, "month_closed")
    assert closed.who == "Budi Palu"


def test_stock_movements_appear_only_where_no_document_covers_them(history):
    events = find(activity_for(history["users"]["prov"], history["prov"]), "stock_movement")
    by_document = {e.document: e for e in events}
    assert by_document["DISP-72.71-001-1"].label == "Expired stock disposed of"
    assert by_document["LOSS-72.10-1"].label == "Loss written off"
    assert "Stolen" in by_document["LOSS-72.10-1"].detail
    assert [loc.code for loc in by_document["LOSS-72.10-1"].locations] == ["72.10"]
    # The write-off of D's short is the discrepancy's resolution, listed there; receipts,
    # dispatches and dispensing are their documents' events.
    assert f"WO-{history['shipments']['d'].number}" not in by_document
    assert {e.label for e in events} == {"Opening balance", "Expired stock disposed of", "Loss written off"}


def test_newest_first(history):
    events = activity_for(history["users"]["prov"], history["prov"])
    assert len(events) > 20
    assert [e.when for e in events] == sorted((e.when for e in events), reverse=True)


def test_district_sees_its_subtree_only(history):
    shipments = history["shipments"]
    events = activity_for(history["users"]["palu"], history["palu"])
    documents = {e.document for e in events}
    assert {shipments[k].number for k in "acdf"} <= documents
    assert shipments["b"].number not in documents and shipments["e"].number not in documents
    assert "LOSS-72.10-1" not in documents and history["sigi_count"].number not in documents
    assert {"DISP-72.71-001-1", "DSP-72.71-001-1", history["palu_count"].number} <= documents
    # A clinic sees its own receipts and dispensing, not the district's count.
    clinic_docs = {e.document for e in activity_for(history["users"]["clinic"], history["c1"])}
    assert shipments["d"].number in clinic_docs and history["palu_count"].number not in clinic_docs
    with pytest.raises(ScopeError):
        activity_for(history["users"]["palu"], history["sigi"])
    with pytest.raises(ScopeError):
        activity_for(history["users"]["palu"], history["prov"])


def test_period_and_kind_filters(history):
    today = timezone.localdate()
    user = history["users"]["prov"]
    old = activity_for(user, history["prov"], since=today - dt.timedelta(days=60), until=today - dt.timedelta(days=30))
    assert [(e.kind, e.document) for e in old] == [("shipment_created", history["shipments"]["e"].number)]
    only = activity_for(user, history["prov"], kinds=["count_approved", "month_closed"])
    assert sorted(e.kind for e in only) == ["count_approved", "month_closed"]
    assert len(activity_for(user, history["prov"], limit=3)) == 3


def test_queries_do_not_grow_with_events(history, django_assert_max_num_queries):
    user = history["users"]["prov"]
    # One query per source (13) and one for the movements' locations, however many events.
    with django_assert_max_num_queries(len(KINDS) + 1):
        assert len(activity_for(user, history["prov"])) > 20


def test_page_lists_events_with_links(client, history, password, django_assert_max_num_queries):
    client.login(username="gudang7271", password=password)
    a = history["shipments"]["a"]
    with django_assert_max_num_queries(25):
        response = client.get(url("72.71"))
    assert response.status_code == 200
    content = response.content.decode()
    assert f'href="{reverse("shipment-detail", args=[a.number])}"' in content
    assert "Budi Palu" in content and "Stock count approved" in content
    assert history["shipments"]["b"].number not in content


def test_page_filters_and_pages(client, history, password, monkeypatch):
    monkeypatch.setattr(activity_view, "PAGE_SIZE", 5)
    client.login(username="gudang72", password=password)
    everything = activity_for(history["users"]["prov"], history["prov"])
    seen = []
    page = 1
    while True:
        response = client.get(url("72"), {"page": page})
        assert response.status_code == 200
        seen.extend(response.context["page"].object_list)
        if not response.context["page"].has_next:
            break
        page += 1
    assert [(e.kind, e.document, e.when) for e in seen] == [(e.kind, e.document, e.when) for e in everything]

    response = client.get(url("72"), {"kind": "month_closed"})
    assert [e.kind for e in response.context["page"].object_list] == ["month_closed"]
    assert client.get(url("72"), {"from": "2026-02-01", "to": "2026-01-01"}).status_code == 400
    assert client.get(url("72"), {"kind": "nonsense"}).status_code == 400


def test_other_districts_page_is_404_and_anonymous_goes_to_login(client, history, password):
    response = client.get(url("72.71"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    client.login(username="gudang7271", password=password)
    assert client.get(url("72.10")).status_code == 404
    assert client.get(url("72")).status_code == 404
    assert client.get(url("~TRANSIT")).status_code == 404
    assert client.get(url("72.71-001")).status_code == 200
