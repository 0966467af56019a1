import datetime as dt

import pytest
from django.utils import timezone, translation

from inventory.errors import InsufficientStock, InvalidMovement
from inventory.models import LedgerEntry, Movement, MovementKind, StockBalance, VirtualRole
from inventory.services.ledger_check import ledger_check
from inventory.services.posting import EntrySpec, movement_post, movement_reverse, transfer, virtual_location

pytestmark = pytest.mark.django_db


def test_opening_balance_moves_stock_from_supplier(stocked, lot):
    balance = StockBalance.objects.get(location=stocked["prov"], lot=lot)
    assert balance.quantity == 100
    supplier = virtual_location(VirtualRole.SUPPLIER)
    assert not StockBalance.objects.filter(location=supplier).exists()
    entry = LedgerEntry.objects.get(location=supplier, lot=lot)
    assert entry.quantity == -100 and entry.balance_after is None


def test_transfer_updates_both_balances_and_balance_after(stocked, lot):
    today = timezone.localdate()
    movement_post(
        kind=MovementKind.DISPATCH,
        entries=transfer(source=stocked["prov"], destination=stocked["palu"], lot=lot, quantity=30),
        business_date=today,
        document="T-1",
    )
    assert StockBalance.objects.get(location=stocked["prov"], lot=lot).quantity == 70
    assert StockBalance.objects.get(location=stocked["palu"], lot=lot).quantity == 30
    last = LedgerEntry.objects.filter(location=stocked["prov"], lot=lot).latest("id")
    assert last.balance_after == 70 and last.quantity == -30


def test_shortage_names_location_product_lot_and_writes_nothing(stocked, lot):
    before = (Movement.objects.count(), LedgerEntry.objects.count())
    with pytest.raises(InsufficientStock) as excinfo:
        movement_post(
            kind=MovementKind.DISPATCH,
            entries=transfer(source=stocked["prov"], destination=stocked["palu"], lot=lot, quantity=101),
            business_date=timezone.localdate(),
            document="T-2",
        )
    message = str(excinfo.value)
    for part in ("72", "PIL-KOMB", "PK-001", "100", "101"):
        assert part in message
    assert (Movement.objects.count(), LedgerEntry.objects.count()) == before
    assert StockBalance.objects.get(location=stocked["prov"], lot=lot).quantity == 100
    assert not StockBalance.objects.filter(location=stocked["palu"]).exists()


def test_unbalanced_movement_is_refused_before_the_database(stocked, lot):
    with pytest.raises(InvalidMovement):
        movement_post(
            kind=MovementKind.ADJUSTMENT,
            entries=[
                EntrySpec(location=stocked["prov"], lot=lot, quantity=-5),
                EntrySpec(location=virtual_location(VirtualRole.LOSS), lot=lot, quantity=4),
            ],
            business_date=timezone.localdate(),
            document="T-3",
        )


def test_future_date_is_refused(stocked, lot):
    with pytest.raises(InvalidMovement):
        movement_post(
            kind=MovementKind.DISPATCH,
            entries=transfer(source=stocked["prov"], destination=stocked["palu"], lot=lot, quantity=1),
            business_date=timezone.localdate() + dt.timedelta(days=1),
            document="T-4",
        )


def test_reversal_posts_the_opposite_once(stocked, lot):
    today = timezone.localdate()
    dispatch = movement_post(
        kind=MovementKind.DISPATCH,
        entries=transfer(source=stocked["prov"], destination=stocked["palu"], lot=lot, quantity=40),
        business_date=today,
        document="T-REV",
    )
    reversal = movement_reverse(movement=dispatch, actor=None)
    assert reversal.kind == MovementKind.REVERSAL and reversal.reverses_id == dispatch.pk
    assert reversal.document == "T-REV"
    assert StockBalance.objects.get(location=stocked["prov"], lot=lot).quantity == 100
    assert StockBalance.objects.get(location=stocked["palu"], lot=lot).quantity == 0
    quantities = sorted(LedgerEntry.objects.filter(movement=reversal).values_list("quantity", flat=True))
    assert quantities == [-40, 40]
    with pytest.raises(InvalidMovement, match="sudah dibatalkan"):
        movement_reverse(movement=dispatch, actor=None)
    assert ledger_check().ok


def test_reversal_that_would_overdraw_is_refused(stocked, lot):
    today = timezone.localdate()
    dispatch = movement_post(
        kind=MovementKind.DISPATCH,
        entries=transfer(source=stocked["prov"], destination=stocked["palu"], lot=lot, quantity=40),
        business_date=today,
        document="T-REV2",
    )
    movement_post(
        kind=MovementKind.DISPATCH,
        entries=transfer(source=stocked["palu"], destination=stocked["c1"], lot=lot, quantity=30),
        business_date=today,
        document="T-ON",
    )
    with pytest.raises(InsufficientStock, match="tersedia 10, diminta 40"):
        movement_reverse(movement=dispatch, actor=None)
    assert not Movement.objects.filter(reverses=dispatch).exists()


def test_returned_movement_matches_what_was_stored(stocked, lot, make_user):
    clerk = make_user("clerk", stocked["prov"])
    movement = movement_post(
        kind=MovementKind.DISPATCH,
        entries=transfer(source=stocked["prov"], destination=stocked["palu"], lot=lot, quantity=1),
        business_date=timezone.localdate(),
        document="T-RET",
        actor=clerk,
        note="catatan",
    )
    stored = Movement.objects.get(pk=movement.pk)
    assert (stored.kind, stored.document, stored.recorded_by, stored.note, stored.recorded_at) == (
        movement.kind,
        movement.document,
        clerk,
        "catatan",
        movement.recorded_at,
    )
    entries = LedgerEntry.objects.filter(movement=movement).order_by("id")
    assert [(e.quantity, e.recorded_by_id, e.kind) for e in entries] == [
        (-1, clerk.pk, "dispatch"),
        (1, clerk.pk, "dispatch"),
    ]


def test_same_lot_twice_in_one_movement_keeps_the_chain(stocked, lot):
    loss = virtual_location(VirtualRole.LOSS)
    movement_post(
        kind=MovementKind.LOSS,
        entries=[
            EntrySpec(location=stocked["prov"], lot=lot, quantity=-3),
            EntrySpec(location=loss, lot=lot, quantity=3),
            EntrySpec(location=stocked["prov"], lot=lot, quantity=-4),
            EntrySpec(location=loss, lot=lot, quantity=4),
        ],
        business_date=timezone.localdate(),
        document="T-TWICE",
    )
    afters = list(
        LedgerEntry.objects.filter(location=stocked["prov"]).order_by("id").values_list("balance_after", flat=True)
    )
    assert afters == [100, 97, 93]
    assert ledger_check().ok


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "id",
            "Stok tidak cukup untuk 1 baris: Sulawesi Tengah (72), PIL-KOMB batch PK-001: tersedia 100, diminta 101",
        ),
        ("en", "Not enough stock for 1 line: Sulawesi Tengah (72), PIL-KOMB lot PK-001: 100 available, 101 requested"),
    ],
)
def test_shortage_message_in_both_languages(stocked, lot, language, expected):
    with translation.override(language), pytest.raises(InsufficientStock) as excinfo:
        movement_post(
            kind=MovementKind.DISPATCH,
            entries=transfer(source=stocked["prov"], destination=stocked["palu"], lot=lot, quantity=101),
            business_date=timezone.localdate(),
            document="T-LANG",
        )
    assert str(excinfo.value) == expected


def test_reason_is_stored_and_an_unknown_one_refused(stocked, lot):
    loss = virtual_location(VirtualRole.LOSS)
    movement = movement_post(
        kind=MovementKind.LOSS,
        entries=[
            EntrySpec(location=stocked["prov"], lot=lot, quantity=-2, reason="expired"),
            EntrySpec(location=loss, lot=lot, quantity=2, reason="expired"),
        ],
        business_date=timezone.localdate(),
        document="T-REASON",
    )
    assert set(LedgerEntry.objects.filter(movement=movement).values_list("reason", flat=True)) == {"expired"}
    with pytest.raises(InvalidMovement):
        movement_post(
            kind=MovementKind.LOSS,
            entries=[
                EntrySpec(location=stocked["prov"], lot=lot, quantity=-1, reason="eaten"),
                EntrySpec(location=loss, lot=lot, quantity=1, reason="eaten"),
            ],
            business_date=timezone.localdate(),
            document="T-REASON2",
        )
