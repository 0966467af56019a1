"""The stock alerts' statement (``stock_alerts.candidate_query``, synced by
``alert_sync.sync_alerts_sql``) against the same rules stated in Python
(``stock_indicators`` + ``status_candidate`` + ``lots_at_risk``) on a ledger state with
every kind, FEFO ties, lots expired or beyond the horizon, no AMC, an inactive product
and stock in transit: same keys, severities, quantities and stored figures."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from inventory.models import Lot, Product, StockPolicy
from inventory.services.ledger_check import ledger_check
from reports.models import Alert, AlertKind, AlertSettings, AlertStatus, Severity
from reports.services import dropout_alerts, stock_alerts
from reports.services.alert_sync import Candidate, _json_default, sync_alerts, sync_alerts_sql
from reports.services.alerts import compute_alerts
from tests.factories import LotFactory
from tests.reports.test_indicators import dispense, months, ship, stock

pytestmark = pytest.mark.django_db


def stored(candidate: Candidate) -> tuple:
    """What ``sync_alerts`` stores of a candidate: figures through JSON."""
    figures = json.loads(json.dumps(candidate.figures, default=_json_default))
    return (str(candidate.kind), int(candidate.severity), candidate.quantity, figures)


def by_key(candidates) -> dict:
    found = {(c.kind, c.location_id, c.product_id): stored(c) for c in candidates}
    assert len(found) == len(candidates)  # one per key
    return found


@pytest.fixture
def ledger(tree, make_user):
    """Every stock kind somewhere, and expiring lots in the awkward cases."""
    today = timezone.localdate()
    m1, m2, m3 = months()
    products = {p.code: p for p in Product.objects.all()}
    pill, inj, condom, implant = (products[c] for c in ("PIL-KOMB", "SUNTIK-3", "KONDOM", "IMPLAN-1"))
    c1, c2, c3, palu = tree["c1"], tree["c2"], tree["c3"], tree["palu"]
    far = LotFactory(product=pill, batch="P-FAR", expiry=today + dt.timedelta(days=700))

    # c1 pill: AMC 46/3 = 15.33 (31 dispensed, out 30 days); FEFO over a tie on expiry
    # (ordered by batch), a later lot, one beyond the horizon and one already expired.
    stock(c1, far, 31, m1 - dt.timedelta(days=3))
    for first, units in zip((m1, m2, m3), (7, 11, 13), strict=True):
        dispense(c1, far, units, first + dt.timedelta(days=2))
    tie_b = LotFactory(product=pill, batch="P-TIE-B", expiry=today + dt.timedelta(days=41))
    tie_a = LotFactory(product=pill, batch="P-TIE-A", expiry=today + dt.timedelta(days=41))
    later = LotFactory(product=pill, batch="P-LATER", expiry=today + dt.timedelta(days=97))
    beyond = LotFactory(product=pill, batch="P-BEYOND", expiry=today + dt.timedelta(days=400))
    gone = LotFactory(product=pill, batch="P-GONE", expiry=today + dt.timedelta(days=10))
    for lot, units in ((tie_b, 20), (tie_a, 15), (later, 60), (beyond, 50), (gone, 5)):
        stock(c1, lot, units, today)
    Lot.objects.filter(pk=gone.pk).update(expiry=today - dt.timedelta(days=3))

    # c2 pill: stocked out with an AMC (stockout); own policy overriding the level's.
    stock(c2, far, 60, m1 - dt.timedelta(days=3))
    dispense(c2, far, 20, m1 + dt.timedelta(days=5))
    dispense(c2, far, 40, m2 + dt.timedelta(days=5))
    StockPolicy.objects.create(location=c2, min_months=2, max_months=5, emergency_months=1)

    # c3 pill: overstock with a fractional AMC (ceil of max months × AMC).
    stock(c3, far, 500, m1 - dt.timedelta(days=3))
    for first, units in zip((m1, m2, m3), (10, 10, 11), strict=True):
        dispense(c3, far, units, first + dt.timedelta(days=1))
    # c3 injectable: emergency; c2 injectable: below minimum.
    inj_lot = LotFactory(product=inj, batch="I-1", expiry=today + dt.timedelta(days=600))
    stock(c3, inj_lot, 95, m1 - dt.timedelta(days=3))
    for first in (m1, m2, m3):
        dispense(c3, inj_lot, 30, first + dt.timedelta(days=1))
    stock(c2, inj_lot, 130, m1 - dt.timedelta(days=3))  # MOS 1.33 < its own min 2
    for first in (m1, m2, m3):
        dispense(c2, inj_lot, 30, first + dt.timedelta(days=1))

    # Palu condoms: expiring with no consumption (no AMC: at risk whole), some in transit to c1.
    soon = LotFactory(product=condom, batch="K-SOON", expiry=today + dt.timedelta(days=20))
    stock(palu, soon, 300, m3)
    ship(palu, c1, condom, 120, today, make_user("gudang", palu))

    # c3 implants: expiring, product no longer active (no indicator row, no AMC).
    implant_lot = LotFactory(product=implant, batch="IM-1", expiry=today + dt.timedelta(days=30))
    stock(c3, implant_lot, 4, today)
    Product.objects.filter(pk=implant.pk).update(is_active=False)
    assert ledger_check().ok
    return {"today": today, "tree": tree, "pill": pill}


def test_statement_matches_the_python_rules(ledger):
    today, thresholds = ledger["today"], AlertSettings.current()
    expected = by_key(stock_alerts.python_candidates(None, today, thresholds))
    # The scenario reaches every kind and the expiry cases it is about.
    assert {key[0] for key in expected} == set(stock_alerts.KINDS)
    c1, pill = ledger["tree"]["c1"], ledger["pill"]
    expiry = expected[AlertKind.EXPIRY_RISK, c1.pk, pill.pk][3]
    # P-TIE-A (15, 41 days) is used first: usable 15.33 × 41/30 = 20.95, none at risk; P-TIE-B
    # (20) after it: 5.95 → 15 at risk; P-LATER (60, 97 days): 49.57 − 35 = 14.57 → 46.
    risky = [(lot["batch"], lot["quantity"], lot["at_risk"]) for lot in expiry["lots"]]
    assert risky == [("P-TIE-B", 20, 15), ("P-LATER", 60, 46)]
    assert expiry["amc"] == "15.33"
    assert any(f[0] == AlertKind.EXPIRY_RISK and f[3]["amc"] is None for f in expected.values())

    assert by_key(stock_alerts.candidates(None, today, thresholds)) == expected

    scope = [c1.pk, ledger["tree"]["palu"].pk, ledger["tree"]["c3"].pk]
    scoped = by_key(stock_alerts.candidates(scope, today, thresholds))
    assert scoped == {key: value for key, value in expected.items() if key[1] in scope}
    assert stock_alerts.candidates([], today, thresholds) == []


def test_sync_by_statement_stores_what_sync_by_candidates_stores(ledger):
    today, thresholds = ledger["today"], AlertSettings.current()
    first = sync_alerts(stock_alerts.KINDS, stock_alerts.python_candidates(None, today, thresholds))
    before = list(Alert.objects.order_by("pk").values())
    assert len(before) == len(first.opened) > 0

    query = stock_alerts.candidate_query(None, today, thresholds)
    later = timezone.now() + dt.timedelta(hours=1)
    second = sync_alerts_sql(stock_alerts.KINDS, query.sql, query.params, now=later, settings=query.settings)
    # Every alert found again and none rewritten: identical severity, quantity and figures (jsonb).
    assert second.opened == [] and second.resolved == []
    assert sorted(second.updated) == [row["id"] for row in before]
    assert list(Alert.objects.order_by("pk").values()) == before

    # And the other way round, through compute_alerts.
    Alert.objects.all().delete()
    opened = compute_alerts(notify=False).opened
    stock_ids = set(Alert.objects.filter(kind__in=stock_alerts.KINDS).values_list("pk", flat=True))
    assert stock_ids <= set(opened)
    rows = list(Alert.objects.filter(pk__in=stock_ids).order_by("pk").values())
    again = sync_alerts(stock_alerts.KINDS, stock_alerts.python_candidates(None, today, thresholds), now=later)
    assert again.opened == [] and again.resolved == [] and set(again.updated) == stock_ids
    assert list(Alert.objects.filter(pk__in=stock_ids).order_by("pk").values()) == rows


def test_sync_by_statement_refuses_other_kinds_and_locations(tree):
    pill = Product.objects.get(code="PIL-KOMB")
    select = "SELECT %(kind)s::text, %(location)s::bigint, %(product)s::bigint, 2::smallint, 5::numeric, '{}'::jsonb"
    row = {"kind": AlertKind.LOW_STOCK, "location": tree["c1"].pk, "product": pill.pk}
    with pytest.raises(ValueError, match="kinds not being synced"):
        sync_alerts_sql([AlertKind.OVERSTOCK], select, row)
    with pytest.raises(ValueError, match="outside the scope"):
        sync_alerts_sql([AlertKind.LOW_STOCK], select, row, location_ids=[tree["c2"].pk])
    assert not Alert.objects.exists()
    # Nothing left behind: the candidate table is gone, the next sync works.
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('pg_temp.alert_candidate')")
        assert cursor.fetchone() == (None,)
    result = sync_alerts_sql([AlertKind.LOW_STOCK], select, row, location_ids=[tree["c1"].pk])
    (alert,) = Alert.objects.all()
    assert result.opened == [alert.pk] and alert.status == AlertStatus.OPEN and alert.quantity == 5


# --- compute_alerts outside a transaction: groups of kinds in parallel ------------------


@pytest.mark.django_db(transaction=True)
def test_compute_alerts_runs_the_other_groups_on_another_connection(tree, monkeypatch):
    from reports.services import alerts

    m1, m2, m3 = months()
    pill = Product.objects.get(code="PIL-KOMB")
    lot = LotFactory(product=pill, batch="P-AHEAD", expiry=timezone.localdate() + dt.timedelta(days=700))
    stock(tree["c1"], lot, 100, m1 - dt.timedelta(days=3))
    for first in (m1, m2, m3):
        dispense(tree["c1"], lot, 30, first + dt.timedelta(days=1))  # soh 10: emergency

    seen = []

    def spy(location_ids, today, thresholds):
        seen.append((threading.get_ident(), connections["default"]))
        return []

    computers = (*alerts.COMPUTERS, alerts.KindComputer((), spy))
    monkeypatch.setattr(alerts, "COMPUTERS", computers)
    result = compute_alerts(notify=False)
    (alert,) = Alert.objects.filter(kind__in=stock_alerts.KINDS)
    assert alert.kind == AlertKind.EMERGENCY and result.opened == [alert.pk]
    # Computed in the worker thread, whose connection is closed once done.
    ((thread, worker_connection),) = seen
    assert thread != threading.get_ident() and worker_connection is not connections["default"]
    assert worker_connection.connection is None

    # An error in a group is raised by compute_alerts once every group has run: the
    # failed group's transaction is rolled back (its open alert is not resolved), the
    # stock group is done (its alert resolved: the clinic is restocked).
    stock(tree["c1"], lot, 60, timezone.localdate())
    dropout = Alert.objects.create(
        kind=AlertKind.DROPOUT_RISK, location=tree["c1"], product=pill, severity=Severity.WARNING
    )

    def broken(location_ids, today, thresholds):
        raise RuntimeError("dropout computation failed")

    monkeypatch.setattr(alerts, "COMPUTERS", (alerts.COMPUTERS[0], alerts.KindComputer(dropout_alerts.KINDS, broken)))
    with pytest.raises(RuntimeError, match="dropout computation failed"):
        compute_alerts(notify=False)
    alert.refresh_from_db()
    dropout.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert dropout.status == AlertStatus.OPEN and dropout.resolved_at is None

    # Inside the caller's transaction, computed on the caller's connection (it sees its writes).
    seen.clear()
    monkeypatch.setattr(alerts, "COMPUTERS", computers)
    with transaction.atomic():
        compute_alerts(notify=False)
    assert seen == [(threading.get_ident(), connections["default"])]
