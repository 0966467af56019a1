"""The stock card (kartu stok): its Excel/CSV export holds the card's entries with the running
balance summed here from the ledger; the printable card; scope; a long card as a job."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import LedgerEntry, MovementKind, VirtualRole
from inventory.services.opening import opening_balance_post
from inventory.services.posting import movement_post, transfer, virtual_location
from inventory.services.receipts import ReceiptLineSpec, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from inventory.views import stock_card as stock_card_view
from reports.models import ExportJob, ExportStatus
from tests.factories import LotFactory
from tests.reports.test_exports import csv_table, eager, export, media, xlsx_table  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

COLUMNS = [
    "date",
    "recorded at",
    "document",
    "kind",
    "reason",
    "batch number",
    "expiry date",
    "in",
    "out",
    "lot balance",
    "balance",
    "recorded by",
]


@pytest.fixture
def card(stocked, lot, make_user):
    """The province's pill card: 100 opening (30 days ago), a second lot (10 days ago), 40 shipped
    to Palu and 25 to Sigi (today), and a backdated correction posted last (5 days ago)."""
    today = timezone.localdate()
    prov, palu, sigi = stocked["prov"], stocked["palu"], stocked["sigi"]
    clerk = make_user("gudang72", prov)
    second = LotFactory(product=lot.product, batch="PK-002", expiry=today + dt.timedelta(days=400))
    opening_balance_post(location=prov, lines=[(second, 50)], business_date=today - dt.timedelta(days=10))
    for destination, quantity, which in ((palu, 40, lot), (sigi, 25, second)):
        shipment = shipment_create(
            origin=prov, destination=destination, lines=[LineSpec(lot.product, quantity, which)], actor=clerk
        )
        shipment_dispatch(shipment=shipment, actor=clerk)
        receipt_record(
            shipment=shipment,
            lines=[ReceiptLineSpec(lot.product, which, quantity)],
            client_uuid=uuid.uuid4(),
            actor=make_user(f"gudang{destination.code}", destination),
        )
    movement_post(
        kind=MovementKind.LOSS,
        entries=transfer(source=prov, destination=virtual_location(VirtualRole.LOSS), lot=lot, quantity=2),
        business_date=today - dt.timedelta(days=5),
        document="LOSS-72-1",
        actor=clerk,
    )
    return {**stocked, "clerk": clerk, "lot": lot, "second": second, "today": today}


def expected_rows(location, product, date_from=None, date_to=None) -> list[tuple]:
    """(date, document, batch, in, out, lot balance, balance) of the card, the balance summed
    here over every entry in posting order (those outside the dates included)."""
    rows, balance = [], 0
    for e in LedgerEntry.objects.filter(location=location, product=product).select_related("movement", "lot"):
        balance += e.quantity
        if (date_from and e.business_date < date_from) or (date_to and e.business_date > date_to):
            continue
        rows.append(
            (
                e.business_date,
                e.movement.document,
                e.lot.batch,
                max(e.quantity, 0),
                max(-e.quantity, 0),
                e.balance_after,
                balance,
            )
        )
    return rows


def card_url(location="72", product="PIL-KOMB"):
    return reverse("stock-card", args=[location, product])


def from_xlsx(rows) -> list[tuple]:
    return [(r[0].date(), r[2], r[5], r[7], r[8], r[9], r[10]) for r in rows]


def test_the_export_holds_every_entry_with_the_running_balance(client, card):
    client.force_login(card["clerk"])
    expected = expected_rows(card["prov"], card["lot"].product)
    assert [r[-1] for r in expected] == [100, 150, 110, 85, 83]  # by hand
    response = export(client, "stock-card", "xlsx", {"location": "72", "product": "PIL-KOMB"})
    assert response["Content-Disposition"].startswith('attachment; filename="stock-card_72_PIL-KOMB_')
    header, rows = xlsx_table(response.content)
    assert header == COLUMNS
    assert from_xlsx(rows) == expected
    # An empty text (no reason; the opening posted by no one) is an empty cell.
    assert rows[-1][3:5] == ["Loss", None] and rows[0][11] is None
    assert rows[2][11] == "gudang72"

    header, rows = csv_table(export(client, "stock-card", "csv", {"location": "72", "product": "PIL-KOMB"}).content)
    assert header == COLUMNS
    assert [(r[0], r[2], r[7], r[8], r[10]) for r in rows] == [
        (d.isoformat(), doc, str(i), str(o), str(b)) for d, doc, _batch, i, o, _lot, b in expected
    ]


def test_the_date_range_limits_the_rows_not_the_balance(client, card):
    client.force_login(card["clerk"])
    start = card["today"] - dt.timedelta(days=6)
    query = {"location": "72", "product": "PIL-KOMB", "from": start.isoformat(), "to": card["today"].isoformat()}
    _header, rows = xlsx_table(export(client, "stock-card", "xlsx", query).content)
    expected = expected_rows(card["prov"], card["lot"].product, start, card["today"])
    assert from_xlsx(rows) == expected
    assert [r[-1] for r in expected] == [110, 85, 83]  # the two openings before the range still count

    # The page's buttons post the same filters.
    html = client.get(card_url(), {"from": start.isoformat()}).content.decode()
    url = reverse("report-export", args=["stock-card"])
    assert f'action="{url}?from={start.isoformat()}&amp;location=72&amp;product=PIL-KOMB"' in html


def test_the_export_stays_in_the_users_scope(client, card, make_user):
    client.force_login(make_user("gudang7210x", card["sigi"]))
    response = export(client, "stock-card", "xlsx", {"location": "72", "product": "PIL-KOMB"}, expect=400)
    assert "Location 72 was not found." in response.content.decode()
    response = export(client, "stock-card", "csv", {"location": "72.10"}, expect=400)  # the product is required
    assert "This field is required." in response.content.decode()
    response = export(client, "stock-card", "csv", {"location": "72.10", "product": "NOPE"}, expect=400)
    assert "Select a valid choice." in response.content.decode()


def test_the_printable_card_holds_every_entry_of_the_period(client, card, monkeypatch):
    monkeypatch.setattr(stock_card_view, "PAGE_SIZE", 2)
    client.force_login(card["clerk"])
    paged = client.get(card_url())
    assert len(paged.context["rows"]) == 2 and paged.context["page"].has_next()
    printed = client.get(card_url(), {"print": "1"})
    assert printed.status_code == 200
    expected = expected_rows(card["prov"], card["lot"].product)
    assert [(row.entry.business_date, row.balance) for row in printed.context["rows"]] == [
        (r[0], r[-1]) for r in expected
    ]
    html = printed.content.decode()
    assert "window.print()" in html and "Head of the warehouse (name, signature)" in html
    assert 'name="print" value="1"' in html  # the filters keep the printable view
    assert f'href="{card_url()}?print=1"' not in html  # …and it does not offer itself again

    monkeypatch.setattr(stock_card_view, "PRINT_LIMIT", 4)
    too_long = client.get(card_url(), {"print": "1"})
    assert too_long.status_code == 200 and "rows" not in too_long.context
    assert "This card has more than 4 entries in the period" in too_long.content.decode()
    shorter = client.get(card_url(), {"print": "1", "from": (card["today"] - dt.timedelta(days=6)).isoformat()})
    assert len(shorter.context["rows"]) == 3


def test_a_long_card_is_exported_as_a_job(client, card, settings, eager, django_capture_on_commit_callbacks):  # noqa: F811
    settings.ALOKON_EXPORT_SYNC_ROWS = 3
    client.force_login(card["clerk"])
    with django_capture_on_commit_callbacks(execute=True):
        response = export(client, "stock-card", "xlsx", {"location": "72", "product": "PIL-KOMB"}, expect=302)
    assert response["Location"] == reverse("report-exports")
    job = ExportJob.objects.get()
    assert (job.status, job.rows) == (ExportStatus.DONE, 5)
    download = client.get(reverse("report-export-download", args=[job.pk]))
    _header, rows = xlsx_table(b"".join(download.streaming_content))
    assert from_xlsx(rows) == expected_rows(card["prov"], card["lot"].product)
