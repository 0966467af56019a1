"""Stock counts (stock opname): the services, the database guards, concurrency and the monthly reminder."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from inventory.errors import DocumentConflict, InsufficientStock, InvalidDocument, NotAllowed
from inventory.models import (
    CountStatus,
    LedgerEntry,
    Movement,
    MovementKind,
    Product,
    StockBalance,
    StockCount,
    StockCountLine,
    VirtualRole,
)
from inventory.selectors.counts import counts_due
from inventory.services.counts import (
    CountLineSpec,
    count_approve,
    count_create_submitted,
    count_reject,
    count_set_lines,
    count_start,
    count_submit,
)
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.posting import movement_post, transfer, virtual_location
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _messages_in_english(english):
    """Assertions read the English msgids."""


@pytest.fixture
def setup(tree, make_user):
    """At Kota Palu: 100 of pill lot PK-A, 40 of injectable lot S3-A, and an empty balance row of S3-OLD."""
    today = timezone.localdate()
    pill = Product.objects.get(code="PIL-KOMB")
    suntik = Product.objects.get(code="SUNTIK-3")
    pk_a = LotFactory(product=pill, batch="PK-A", expiry=today + dt.timedelta(days=400))
    s3_a = LotFactory(product=suntik, batch="S3-A", expiry=today + dt.timedelta(days=500))
    s3_old = LotFactory(product=suntik, batch="S3-OLD", expiry=today + dt.timedelta(days=90))
    opening_balance_post(
        location=tree["palu"], lines=[(pk_a, 100), (s3_a, 40), (s3_old, 5)], business_date=today - dt.timedelta(days=3)
    )
    # S3-OLD all gone to a clinic: a balance row at zero.
    movement_post(
        kind=MovementKind.ADJUSTMENT,
        entries=transfer(source=tree["palu"], destination=tree["c1"], lot=s3_old, quantity=5),
        business_date=today,
        document="TEST-1",
    )
    return {
        **tree,
        "pill": pill,
        "suntik": suntik,
        "pk_a": pk_a,
        "s3_a": s3_a,
        "s3_old": s3_old,
        "clerk": make_user("gudang7271", tree["palu"]),
        "clerk2": make_user("gudang7271b", tree["palu"]),
        "head": make_user("kepala7271", tree["palu"], role="head"),
        "manager": make_user("kabid72", tree["prov"], role="manager"),
        "sigi_manager": make_user("kabid7210", tree["sigi"], role="manager"),
        "sigi_head": make_user("kepala7210", tree["sigi"], role="head"),
        "field": make_user("plkb7271", tree["palu"], role="field"),
    }


def balance(location, lot) -> int:
    row = StockBalance.objects.filter(location=location, lot=lot).first()
    return row.quantity if row else 0


def taken(setup, counted: dict, *, actor=None) -> StockCount:
    """A submitted count of Kota Palu with ``counted`` {lot: quantity}."""
    return count_create_submitted(
        location=setup["palu"],
        lines=[CountLineSpec(lot.product, lot, quantity) for lot, quantity in counted.items()],
        actor=actor or setup["clerk"],
    ).count


# --- starting and filling in ----------------------------------------------------------------


def test_start_lists_the_lots_held_with_empty_counts(setup):
    count = count_start(location=setup["palu"], actor=setup["clerk"], blind=True)
    lines = {line.lot.batch: line for line in count.lines.select_related("lot")}
    # The empty balance row (S3-OLD) is not listed: a lot found anyway is added by scanning.
    assert set(lines) == {"PK-A", "S3-A"}
    assert all(line.counted is None and line.system_quantity is None for line in lines.values())
    assert count.status == CountStatus.DRAFT and count.blind


def test_one_open_count_per_location(setup):
    first = count_start(location=setup["palu"], actor=setup["clerk"])
    with pytest.raises(DocumentConflict, match=first.number):
        count_start(location=setup["palu"], actor=setup["clerk2"])


def test_only_staff_of_the_location_count(setup):
    for user in (setup["manager"], setup["field"], setup["sigi_head"]):
        with pytest.raises(NotAllowed):
            count_start(location=setup["palu"], actor=user)
    assert not StockCount.objects.exists()


def test_lines_are_saved_then_submitted_with_the_balance_at_that_moment(setup):
    count = count_start(location=setup["palu"], actor=setup["clerk"])
    count_set_lines(
        count=count,
        actor=setup["clerk"],
        lines=[
            CountLineSpec(setup["pill"], setup["pk_a"], 97),
            CountLineSpec(setup["suntik"], setup["s3_a"], None),
            CountLineSpec(setup["suntik"], setup["s3_old"], 2),  # found on the shelf, added by scanning
        ],
    )
    with pytest.raises(InvalidDocument, match="enter the counted quantity"):
        count_submit(count=count, actor=setup["clerk"])
    assert StockCount.objects.get(pk=count.pk).status == CountStatus.DRAFT

    line = count.lines.get(lot=setup["s3_a"])
    count_set_lines(
        count=count,
        actor=setup["clerk"],
        lines=[
            CountLineSpec(setup["pill"], setup["pk_a"], 97),
            CountLineSpec(setup["suntik"], setup["s3_a"], 40),
            CountLineSpec(setup["suntik"], setup["s3_old"], 2),
        ],
    )
    assert count.lines.get(lot=setup["s3_a"]).pk == line.pk  # updated in place, not replaced
    before = timezone.now()
    count_submit(count=count, actor=setup["clerk"])
    count.refresh_from_db()
    assert count.status == CountStatus.SUBMITTED and count.submitted_by == setup["clerk"]
    assert count.counted_at >= before
    system = dict(count.lines.values_list("lot__batch", "system_quantity"))
    assert system == {"PK-A": 100, "S3-A": 40, "S3-OLD": 0}
    with pytest.raises(DocumentConflict, match="already submitted"):
        count_set_lines(count=count, actor=setup["clerk"], lines=[])


@pytest.mark.parametrize(
    ("counted", "message"),
    [
        (-1, "cannot be negative"),
        (1.5, "whole numbers"),
        ("7", "whole numbers"),
        (True, "whole numbers"),
        (10**12, "check the quantity"),
    ],
)
def test_bad_counted_values_are_refused(setup, counted, message):
    with pytest.raises(InvalidDocument, match=message):
        taken(setup, {setup["pk_a"]: counted})
    assert not StockCount.objects.exists()


def test_lot_of_another_product_and_duplicate_lots_are_refused(setup):
    with pytest.raises(InvalidDocument, match="not a lot of SUNTIK-3"):
        count_create_submitted(
            location=setup["palu"], lines=[CountLineSpec(setup["suntik"], setup["pk_a"], 1)], actor=setup["clerk"]
        )
    with pytest.raises(InvalidDocument, match="count each lot once"):
        taken_twice = [CountLineSpec(setup["pill"], setup["pk_a"], 1), CountLineSpec(setup["pill"], setup["pk_a"], 2)]
        count_create_submitted(location=setup["palu"], lines=taken_twice, actor=setup["clerk"])
    assert not StockCount.objects.exists() and not StockCountLine.objects.exists()


# --- approval -------------------------------------------------------------------------------


def test_approval_after_intervening_movements_posts_only_the_true_difference(setup, make_user):
    # Counted: 95 of PK-A (5 missing), 42 of S3-A (2 more than the system), 3 of S3-OLD (found).
    count = taken(setup, {setup["pk_a"]: 95, setup["s3_a"]: 42, setup["s3_old"]: 3})
    # Between count and approval: 30 of PK-A dispatched to a clinic, 10 of S3-A arrive.
    shipment = shipment_create(
        origin=setup["palu"],
        destination=setup["c1"],
        lines=[LineSpec(setup["pill"], 30, setup["pk_a"])],
        actor=setup["clerk"],
    )
    shipment_dispatch(shipment=shipment, actor=setup["clerk"])
    opening_balance_post(location=setup["palu"], lines=[(setup["s3_a"], 10)], business_date=timezone.localdate())

    approved = count_approve(count=count, actor=setup["manager"], note="ok")
    assert approved.status == CountStatus.APPROVED and approved.decided_by == setup["manager"]
    assert balance(setup["palu"], setup["pk_a"]) == 100 - 30 - 5
    assert balance(setup["palu"], setup["s3_a"]) == 40 + 10 + 2
    assert balance(setup["palu"], setup["s3_old"]) == 3
    movement = approved.movement
    assert movement.kind == MovementKind.ADJUSTMENT and movement.document == f"OPN-{count.pk:06d}"
    adjustment = virtual_location(VirtualRole.ADJUSTMENT)
    entries = set(LedgerEntry.objects.filter(movement=movement).values_list("location_id", "lot__batch", "quantity"))
    assert entries == {
        (setup["palu"].pk, "PK-A", -5),
        (adjustment.pk, "PK-A", 5),
        (setup["palu"].pk, "S3-A", 2),
        (adjustment.pk, "S3-A", -2),
        (setup["palu"].pk, "S3-OLD", 3),
        (adjustment.pk, "S3-OLD", -3),
    }
    assert ledger_check().ok


def test_a_count_without_differences_posts_nothing(setup):
    count = taken(setup, {setup["pk_a"]: 100})
    movements = Movement.objects.count()
    approved = count_approve(count=count, actor=setup["head"])
    assert approved.status == CountStatus.APPROVED and approved.movement is None
    assert Movement.objects.count() == movements


def test_approval_that_the_current_stock_cannot_absorb_writes_nothing(setup):
    count = taken(setup, {setup["s3_a"]: 10})  # 30 missing at count time
    movement_post(
        kind=MovementKind.ADJUSTMENT,
        entries=transfer(source=setup["palu"], destination=setup["c1"], lot=setup["s3_a"], quantity=25),
        business_date=timezone.localdate(),
        document="TEST-2",
    )  # 15 left: cannot lose 30 more
    movements = Movement.objects.count()
    with pytest.raises(InsufficientStock, match="S3-A"):
        count_approve(count=count, actor=setup["manager"])
    count.refresh_from_db()
    assert count.status == CountStatus.SUBMITTED and count.movement is None and count.decided_by is None
    assert Movement.objects.count() == movements and balance(setup["palu"], setup["s3_a"]) == 15


def test_who_may_approve(setup):
    count = taken(setup, {setup["pk_a"]: 99})
    for user in (setup["clerk"], setup["clerk2"], setup["field"], setup["sigi_manager"], setup["sigi_head"]):
        with pytest.raises(NotAllowed):
            count_approve(count=count, actor=user)
    assert StockCount.objects.get(pk=count.pk).status == CountStatus.SUBMITTED
    count_approve(count=count, actor=setup["head"])
    assert balance(setup["palu"], setup["pk_a"]) == 99


def test_head_who_took_the_count_cannot_approve_it(setup):
    count = taken(setup, {setup["pk_a"]: 99}, actor=setup["head"])
    with pytest.raises(NotAllowed, match="someone else"):
        count_approve(count=count, actor=setup["head"])
    count_approve(count=count, actor=setup["manager"])


def test_approving_twice_or_a_draft_is_a_conflict(setup):
    draft = count_start(location=setup["palu"], actor=setup["clerk"])
    with pytest.raises(DocumentConflict, match="not been submitted"):
        count_approve(count=draft, actor=setup["manager"])
    count_set_lines(count=draft, actor=setup["clerk"], lines=[CountLineSpec(setup["pill"], setup["pk_a"], 90)])
    count_submit(count=draft, actor=setup["clerk"])
    count_approve(count=draft, actor=setup["manager"])
    with pytest.raises(DocumentConflict, match="already approved by kabid72"):
        count_approve(count=draft, actor=setup["head"])
    with pytest.raises(DocumentConflict, match="already approved"):
        count_reject(count=draft, actor=setup["head"], note="no")
    assert balance(setup["palu"], setup["pk_a"]) == 90


def test_reject_needs_a_reason_and_posts_nothing(setup):
    count = taken(setup, {setup["pk_a"]: 1})
    with pytest.raises(InvalidDocument):
        count_reject(count=count, actor=setup["manager"], note="  ")
    rejected = count_reject(count=count, actor=setup["manager"], note="Recount the top shelf.")
    assert rejected.status == CountStatus.REJECTED and rejected.decision_note == "Recount the top shelf."
    assert balance(setup["palu"], setup["pk_a"]) == 100
    with pytest.raises(DocumentConflict, match="already rejected"):
        count_approve(count=count, actor=setup["head"])


def test_a_second_count_waits_until_the_first_is_decided(setup):
    # Two pending counts would both adjust against balances without the other's adjustment.
    first = taken(setup, {setup["pk_a"]: 90})
    with pytest.raises(DocumentConflict, match=first.number):
        taken(setup, {setup["pk_a"]: 90}, actor=setup["clerk2"])
    count_approve(count=first, actor=setup["manager"])
    second = taken(setup, {setup["pk_a"]: 90}, actor=setup["clerk2"])
    assert second.lines.get().system_quantity == 90
    count_approve(count=second, actor=setup["manager"])
    assert balance(setup["palu"], setup["pk_a"]) == 90  # adjusted once, not twice


def test_same_client_uuid_is_one_count(setup):
    key = uuid.uuid4()
    lines = [CountLineSpec(setup["pill"], setup["pk_a"], 90)]
    first = count_create_submitted(location=setup["palu"], lines=lines, actor=setup["clerk"], client_uuid=key)
    again = count_create_submitted(location=setup["palu"], lines=lines, actor=setup["clerk"], client_uuid=key)
    assert first.created and not again.created and again.count.pk == first.count.pk
    with pytest.raises(DocumentConflict, match="different count"):
        count_create_submitted(
            location=setup["palu"],
            lines=[CountLineSpec(setup["pill"], setup["pk_a"], 91)],
            actor=setup["clerk"],
            client_uuid=key,
        )
    assert StockCount.objects.count() == 1


# --- the database guards ----------------------------------------------------------------------


def test_database_refuses_approval_by_the_counter(setup):
    count = taken(setup, {setup["pk_a"]: 90})
    with (
        pytest.raises(IntegrityError, match="count_not_approved_by_counter"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE inventory_stockcount SET status = 'approved', decided_by_id = submitted_by_id, "
            "decided_at = now() WHERE id = %s",
            [count.pk],
        )


def test_database_refuses_changes_to_an_approved_count(setup):
    count = taken(setup, {setup["pk_a"]: 90})
    count_approve(count=count, actor=setup["manager"])
    for sql in (
        "UPDATE inventory_stockcountline SET counted = 1 WHERE count_id = %s",
        "UPDATE inventory_stockcount SET status = 'submitted' WHERE id = %s",
    ):
        with (
            pytest.raises(IntegrityError, match="it was approved"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [count.pk])
    assert count.lines.get().counted == 90


# --- concurrency ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_eight_simultaneous_approvals_post_once(setup):
    count = taken(setup, {setup["pk_a"]: 93})
    approvers = [setup["manager"], setup["head"]] * 4
    barrier = threading.Barrier(8)
    outcomes, lock = [], threading.Lock()

    def approve(user):
        try:
            barrier.wait(timeout=30)
            try:
                count_approve(count=count, actor=user)
                outcome = "ok"
            except DocumentConflict as error:
                outcome = "conflict" if "already approved" in error.message else error.message
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(user,)) for user in approvers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
    assert Movement.objects.filter(document=f"OPN-{count.pk:06d}").count() == 1
    assert balance(setup["palu"], setup["pk_a"]) == 93
    assert ledger_check().ok


# --- the monthly reminder -------------------------------------------------------------------


def test_counts_due_until_the_location_is_counted_this_month(setup):
    clerk, manager = setup["clerk"], setup["manager"]
    assert list(counts_due(clerk)) == [setup["palu"]]
    # The manager sees the locations of the subtree that hold stock: Kota Palu and the clinic.
    assert list(counts_due(manager)) == [setup["palu"], setup["c1"]]
    assert not counts_due(setup["field"]).exists()

    draft = count_start(location=setup["palu"], actor=clerk)  # a draft is not a count yet
    assert counts_due(clerk).exists()
    count_set_lines(count=draft, actor=clerk, lines=[CountLineSpec(setup["pill"], setup["pk_a"], 100)])
    count = count_submit(count=draft, actor=clerk)
    assert not counts_due(clerk).exists()
    assert list(counts_due(manager)) == [setup["c1"]]
    # A count taken last month does not answer for this one.
    StockCount.objects.filter(pk=count.pk).update(counted_at=timezone.now() - dt.timedelta(days=40))
    assert counts_due(clerk).exists()
