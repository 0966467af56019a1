"""Property-based: random sequences of dispatches, receipts, resolutions, counts and
dispensing keep the ledger's invariants after every step.

Hypothesis draws a program (a list of operations with random parameters); each
operation calls the real service as a user would, and an operation the service
refuses (short stock, a wrong state, a quantity out of range) is part of the
program too: a refusal must leave nothing behind. After every step, checked with
SQL of its own (not the code under test):

- every balance equals the sum of its entries, and every entry is accounted for
  by a balance row (real locations);
- no real balance is negative;
- every movement nets to zero per lot;
- everything in transit belongs to a shipment, and no shipment has less than
  nothing in transit;
- every closed (or fully received) shipment has nothing left in transit;
and at the end of each program ``ledger_check`` agrees.

Each program runs in a transaction that is rolled back, so programs start from the
same state: two products in two lots each, stocked at the province, both
districts and two of the three clinics.
"""

import datetime as dt
import uuid

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from inventory.errors import AlokonError
from inventory.models import (
    Discrepancy,
    DiscrepancyStatus,
    Product,
    Shipment,
    ShipmentStatus,
    StockBalance,
)
from inventory.services.counts import CountLineSpec, count_approve, count_create_submitted
from inventory.services.discrepancies import discrepancy_resolve, open_overdue_discrepancies, resolutions_for
from inventory.services.dispensing import DispensingLineSpec, dispensing_record
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from inventory.services.receipts import ReceiptLineSpec, in_transit_by_lot, receipt_record
from inventory.services.shipments import LineSpec, shipment_create, shipment_dispatch
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

# (origin, destination) keys of the world below: down, up (a return) and sideways.
ROUTES = [("prov", "palu"), ("prov", "sigi"), ("palu", "c1"), ("palu", "c2"), ("sigi", "c3"), ("palu", "prov")]
COUNTED_AT = ["prov", "palu", "sigi", "c1", "c2", "c3"]
CLINICS = ["c1", "c2", "c3"]
RESOLUTIONS = ["write_off", "late_receipt", "return", "accept"]
REASONS = ["lost", "stolen", "expired"]

dispatch = st.tuples(
    st.just("dispatch"), st.integers(0, len(ROUTES) - 1), st.integers(0, 1), st.integers(1, 60), st.booleans()
)
# (shipment pick, good share in %, damaged units, other lot instead?)
receive = st.tuples(
    st.just("receive"), st.integers(0, 20), st.sampled_from([0, 50, 100, 100, 130]), st.integers(0, 3), st.booleans()
)
resolve = st.tuples(
    st.just("resolve"),
    st.integers(0, 20),
    st.sampled_from(RESOLUTIONS),
    st.sampled_from([None, 1, 2]),
    st.sampled_from(REASONS),
)
count = st.tuples(st.just("count"), st.integers(0, len(COUNTED_AT) - 1), st.integers(-5, 5), st.integers(0, 3))
dispense = st.tuples(st.just("dispense"), st.integers(0, len(CLINICS) - 1), st.integers(0, 1), st.integers(1, 30))
overdue = st.tuples(st.just("overdue"), st.integers(0, 60))
# Dispatches, receipts and resolutions twice as likely: they make the states worth checking.
operation = st.one_of(dispatch, dispatch, receive, receive, resolve, resolve, overdue, count, dispense)


def check_invariants():
    with connection.cursor() as cursor:
        # balance = sum of entries, both ways round (a real location's entries all have a balance row)
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT e.location_id, e.lot_id, sum(e.quantity) AS total
                  FROM inventory_ledgerentry e JOIN inventory_location l ON l.id = e.location_id
                 WHERE l.level <> 'virtual' GROUP BY e.location_id, e.lot_id
            ) s FULL JOIN inventory_stockbalance b ON b.location_id = s.location_id AND b.lot_id = s.lot_id
             WHERE coalesce(s.total, 0) <> coalesce(b.quantity, 0)
            """
        )
        assert cursor.fetchone()[0] == 0, "a balance differs from the sum of its entries"
        cursor.execute("SELECT count(*) FROM inventory_stockbalance WHERE quantity < 0")
        assert cursor.fetchone()[0] == 0, "a real balance is negative"
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM inventory_ledgerentry GROUP BY movement_id, lot_id"
            " HAVING sum(quantity) <> 0) s"
        )
        assert cursor.fetchone()[0] == 0, "a movement does not net to zero"
        # Everything in transit belongs to a shipment: per lot, the in-transit location's
        # total equals the sum over shipments of what their own movements (dispatch,
        # receipts, resolutions) left there, and no shipment has a negative amount.
        cursor.execute(
            """
            WITH per_shipment AS (
                SELECT s.id, e.lot_id, sum(e.quantity) AS quantity
                  FROM inventory_shipment s
                  JOIN LATERAL (
                        SELECT s.dispatch_movement_id AS movement_id
                        UNION SELECT r.movement_id FROM inventory_receipt r WHERE r.shipment_id = s.id
                        UNION SELECT d.resolution_movement_id FROM inventory_discrepancy d WHERE d.shipment_id = s.id
                       ) m ON m.movement_id IS NOT NULL
                  JOIN inventory_ledgerentry e ON e.movement_id = m.movement_id
                  JOIN inventory_location l ON l.id = e.location_id AND l.virtual_role = 'in_transit'
                 GROUP BY s.id, e.lot_id
            )
            SELECT (SELECT count(*) FROM per_shipment WHERE quantity < 0),
                   (SELECT count(*) FROM (
                        SELECT e.lot_id, sum(e.quantity) AS total FROM inventory_ledgerentry e
                          JOIN inventory_location l ON l.id = e.location_id AND l.virtual_role = 'in_transit'
                         GROUP BY e.lot_id) t
                     FULL JOIN (SELECT lot_id, sum(quantity) AS total FROM per_shipment GROUP BY lot_id) p
                       ON p.lot_id = t.lot_id
                    WHERE coalesce(t.total, 0) <> coalesce(p.total, 0))
            """
        )
        negative, unaccounted = cursor.fetchone()
        assert negative == 0, "a shipment has a negative quantity in transit"
        assert unaccounted == 0, "stock in transit that no shipment accounts for"
    for shipment in Shipment.objects.filter(status__in=[ShipmentStatus.CLOSED, ShipmentStatus.RECEIVED]):
        assert not in_transit_by_lot(shipment), f"{shipment.number} is {shipment.status} with stock in transit"
    for shipment in Shipment.objects.filter(status=ShipmentStatus.CLOSED):
        assert not shipment.discrepancies.filter(status=DiscrepancyStatus.OPEN).exists()


@pytest.fixture
def world(tree, make_user):
    today = timezone.localdate()
    products = [Product.objects.get(code="SUNTIK-3"), Product.objects.get(code="PIL-KOMB")]
    lots = {
        p.code: [
            LotFactory(product=p, batch=f"{p.code}-A", expiry=today + dt.timedelta(days=400)),
            LotFactory(product=p, batch=f"{p.code}-B", expiry=today + dt.timedelta(days=700)),
        ]
        for p in products
    }
    for key, quantity in (("prov", 300), ("palu", 80), ("sigi", 80), ("c1", 20), ("c3", 20)):
        opening_balance_post(
            location=tree[key], lines=[(lot, quantity) for pair in lots.values() for lot in pair], business_date=today
        )
    users = {key: make_user(f"u-{key}", tree[key]) for key in COUNTED_AT}
    manager = make_user("manager72", tree["prov"], role="manager")
    return {"tree": tree, "products": products, "lots": lots, "users": users, "manager": manager}


def pick(queryset, index):
    items = list(queryset)
    return items[index % len(items)] if items else None


def run(world, op):
    tree, users, products, lots = world["tree"], world["users"], world["products"], world["lots"]
    kind = op[0]
    if kind == "dispatch":
        _, route, product_index, quantity, choose_lot = op
        origin, destination = ROUTES[route]
        product = products[product_index]
        lot = lots[product.code][quantity % 2] if choose_lot else None
        shipment = shipment_create(
            origin=tree[origin],
            destination=tree[destination],
            lines=[LineSpec(product, quantity, lot)],
            actor=users[origin],
        )
        shipment_dispatch(shipment=shipment, actor=users[origin])
    elif kind == "receive":
        _, index, good_share, damaged, other_lot = op
        shipment = pick(
            Shipment.objects.filter(status__in=[ShipmentStatus.DISPATCHED, ShipmentStatus.PARTIALLY_RECEIVED])
            .select_related("destination")
            .order_by("id"),
            index,
        )
        if shipment is None:
            return
        key = next(k for k in COUNTED_AT if tree[k].pk == shipment.destination_id)
        specs = []
        for line in shipment.lines.select_related("product", "lot"):
            lot = line.lot
            if other_lot:
                lot = next(candidate for candidate in lots[line.product.code] if candidate.pk != line.lot_id)
            good = line.quantity * good_share // 100
            if good or damaged:
                specs.append(ReceiptLineSpec(line.product, lot, good, damaged))
        if specs:
            receipt_record(shipment=shipment, lines=specs, client_uuid=uuid.uuid4(), actor=users[key])
    elif kind == "resolve":
        _, index, resolution, quantity, reason = op
        record = pick(Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN).order_by("id"), index)
        if record is None:
            return
        allowed = resolutions_for(world["manager"], record)
        if allowed and resolution not in allowed:
            resolution = allowed[index % len(allowed)]
        discrepancy_resolve(
            discrepancy=record,
            resolution=resolution,
            actor=world["manager"],
            quantity=quantity,
            reason=reason if resolution == "write_off" else "",
            note="property test",
        )
    elif kind == "count":
        _, where, delta, lot_index = op
        key = COUNTED_AT[where]
        balance = pick(StockBalance.objects.filter(location=tree[key]).select_related("lot", "product"), lot_index)
        if balance is None:
            return
        result = count_create_submitted(
            location=tree[key],
            lines=[CountLineSpec(balance.product, balance.lot, max(0, balance.quantity + delta))],
            actor=users[key],
        )
        count_approve(count=result.count, actor=world["manager"])
    elif kind == "dispense":
        _, clinic, product_index, quantity = op
        key = CLINICS[clinic]
        dispensing_record(
            location=tree[key],
            date=timezone.localdate(),
            lines=[DispensingLineSpec(products[product_index], quantity)],
            actor=users[key],
        )
    elif kind == "overdue":
        open_overdue_discrepancies(today=timezone.localdate() + dt.timedelta(days=op[1]))


class Rollback(Exception):
    pass


@settings(
    max_examples=60,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(program=st.lists(operation, min_size=3, max_size=30))
# Always run too, whatever the random search finds: an overdue shipment half received,
# then its overdue record written off in full (only half is still in transit), and an
# other-lot receipt accepted against the short it leaves.
@example(
    program=[
        ("dispatch", 0, 0, 10, False),
        ("overdue", 30),
        ("receive", 0, 50, 0, False),
        ("resolve", 0, "write_off", None, "lost"),
        ("resolve", 0, "late_receipt", None, "lost"),
    ]
)
@example(
    program=[
        ("dispatch", 1, 1, 12, True),
        ("receive", 0, 100, 1, True),
        ("resolve", 0, "accept", None, "lost"),
        ("resolve", 0, "accept", None, "lost"),
        ("resolve", 0, "write_off", 1, "stolen"),
        ("count", 1, -2, 0),
        ("dispense", 2, 1, 5),
    ]
)
def test_random_programs_keep_the_ledger_sound(world, program):
    try:
        with transaction.atomic():
            for op in program:
                try:
                    with transaction.atomic():
                        run(world, op)
                    event(f"{op[0]}: done")  # --hypothesis-show-statistics shows the mix
                except AlokonError as error:
                    event(f"{op[0]}: refused ({type(error).__name__})")
                    # refused and rolled back: the invariants below must still hold
                check_invariants()
            assert ledger_check().ok
            raise Rollback
    except Rollback:
        pass
