"""sync_alerts: one active alert per (kind, location, product), opened, updated, resolved.

Also the database's own guards, proven around the ORM: a second active alert for
the same key (NULL product included) is refused, and so is a resolved alert without
its time.
"""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from inventory.models import Product
from reports.models import Alert, AlertKind, AlertStatus
from reports.services.alert_sync import Candidate, sync_alerts

pytestmark = pytest.mark.django_db

LOW, OVER = AlertKind.LOW_STOCK, AlertKind.OVERSTOCK


def cand(kind, location, product=None, quantity=10, **figures):
    return Candidate(kind, location.pk, product.pk if product else None, 2, quantity, figures or {"soh": quantity})


def test_open_update_unchanged_and_resolve(tree):
    pill = Product.objects.get(code="PIL-KOMB")
    first = sync_alerts([LOW], [cand(LOW, tree["c1"], pill), cand(LOW, tree["c2"], pill)])
    assert len(first.opened) == 2 and not first.updated and not first.resolved
    c1 = Alert.objects.get(location=tree["c1"])
    before = c1.updated_at

    later = timezone.now() + dt.timedelta(minutes=5)
    second = sync_alerts([LOW], [cand(LOW, tree["c1"], pill), cand(LOW, tree["c2"], pill, quantity=4)], now=later)
    assert not second.opened and sorted(second.updated) == sorted(first.opened) and not second.resolved
    c1.refresh_from_db()
    c2 = Alert.objects.get(location=tree["c2"])
    assert c1.updated_at == before  # unchanged: left alone
    assert (c2.quantity, c2.figures, c2.updated_at) == (4, {"soh": 4}, later)  # changed: rewritten
    assert Alert.objects.count() == 2  # never duplicated

    third = sync_alerts([LOW], [cand(LOW, tree["c2"], pill, quantity=4)])
    assert third.resolved == [c1.pk]
    c1.refresh_from_db()
    assert c1.status == AlertStatus.RESOLVED and c1.resolved_at is not None

    # The condition comes back: a new alert, the resolved one stays as history.
    fourth = sync_alerts([LOW], [cand(LOW, tree["c1"], pill), cand(LOW, tree["c2"], pill, quantity=4)])
    assert len(fourth.opened) == 1 and Alert.objects.filter(location=tree["c1"]).count() == 2


def test_only_the_synced_kinds_and_scope_are_resolved(tree):
    pill = Product.objects.get(code="PIL-KOMB")
    sync_alerts([LOW, OVER], [cand(LOW, tree["c1"], pill), cand(OVER, tree["c3"], pill)])
    # Another kind, and a scope that leaves c3 out: nothing of theirs resolves.
    result = sync_alerts([LOW], [], location_ids=[tree["c2"].pk])
    assert result.resolved == []
    result = sync_alerts([LOW], [], location_ids=[tree["c1"].pk, tree["c2"].pk])
    assert len(result.resolved) == 1
    assert Alert.objects.get(kind=OVER).status == AlertStatus.OPEN


def test_an_acknowledged_alert_stays_acknowledged_when_updated(tree, make_user):
    pill = Product.objects.get(code="PIL-KOMB")
    sync_alerts([LOW], [cand(LOW, tree["c1"], pill)])
    alert = Alert.objects.get()
    user = make_user("kab7271", tree["palu"])
    Alert.objects.filter(pk=alert.pk).update(
        status=AlertStatus.ACKNOWLEDGED, acknowledged_by=user, acknowledged_at=timezone.now()
    )
    result = sync_alerts([LOW], [cand(LOW, tree["c1"], pill, quantity=3)])
    alert.refresh_from_db()
    assert result.updated == [alert.pk] and alert.status == AlertStatus.ACKNOWLEDGED and alert.quantity == 3


def test_alerts_without_a_product_are_one_per_location(tree):
    kind = AlertKind.LEDGER_MISMATCH
    sync_alerts([kind], [cand(kind, tree["palu"])])
    again = sync_alerts([kind], [cand(kind, tree["palu"], quantity=2)])
    assert not again.opened and Alert.objects.filter(kind=kind).count() == 1


def test_candidates_must_match_the_kinds_and_scope(tree):
    pill = Product.objects.get(code="PIL-KOMB")
    with pytest.raises(ValueError, match="kinds"):
        sync_alerts([LOW], [cand(OVER, tree["c1"], pill)])
    with pytest.raises(ValueError, match="scope"):
        sync_alerts([LOW], [cand(LOW, tree["c1"], pill)], location_ids=[tree["c2"].pk])


def _raw_insert(kind, location_id, product_id, status="open", resolved_at=None):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reports_alert (kind, location_id, product_id, status, severity, figures, opened_at,"
            " updated_at, resolved_at, acknowledgement_note) VALUES (%s, %s, %s, %s, 2, '{}', now(), now(), %s, '')",
            [kind, location_id, product_id, status, resolved_at],
        )


def test_the_database_refuses_a_second_active_alert_for_a_key(tree):
    pill = Product.objects.get(code="PIL-KOMB")
    _raw_insert(LOW, tree["c1"].pk, pill.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_insert(LOW, tree["c1"].pk, pill.pk, status="acknowledged")
    # NULL products are equal here (NULLS NOT DISTINCT).
    _raw_insert(AlertKind.LEDGER_MISMATCH, tree["palu"].pk, None)
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_insert(AlertKind.LEDGER_MISMATCH, tree["palu"].pk, None)
    # Resolved ones are history: any number, but never without their time.
    _raw_insert(LOW, tree["c1"].pk, pill.pk, status="resolved", resolved_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_insert(LOW, tree["c1"].pk, pill.pk, status="resolved")


# --- overlapping syncs: one lock per kind ------------------------------------------------


def _in_thread(fn):
    """Run ``fn`` in a thread with its own connection; return (thread, outcome list)."""
    import threading

    from django.db import connections

    outcome = []

    def run():
        try:
            outcome.append(fn())
        except BaseException as error:
            outcome.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True)
def test_a_sync_waits_for_another_sync_of_its_kind_only(tree):
    import psycopg
    from django.conf import settings

    from reports.services.alert_sync import KIND_LOCK_CLASS, SHARDS

    pill = Product.objects.get(code="PIL-KOMB")
    db = settings.DATABASES["default"]
    other = psycopg.connect(
        dbname=connection.settings_dict["NAME"],
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        autocommit=False,
    )
    try:
        # Another transaction holds the lock of low_stock at c1's shard (as a sync of it would).
        key = f"{LOW}:{tree['c1'].pk % SHARDS}"
        other.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [KIND_LOCK_CLASS, key])
        over, over_outcome = _in_thread(lambda: sync_alerts([OVER], [cand(OVER, tree["c1"], pill)]))
        over.join(10)
        assert not over.is_alive() and len(over_outcome[0].opened) == 1  # another kind: not held up
        low, low_outcome = _in_thread(lambda: sync_alerts([LOW], [cand(LOW, tree["c1"], pill)]))
        low.join(1.0)
        assert low.is_alive() and not low_outcome  # waits for the lock
        assert not Alert.objects.filter(kind=LOW).exists()
        other.rollback()  # released
        low.join(10)
        assert not low.is_alive() and len(low_outcome[0].opened) == 1
        # A sync of the same kind over locations of the other shard only is not held up.
        other.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [KIND_LOCK_CLASS, key])
        shard_c1 = tree["c1"].pk % SHARDS
        elsewhere = next(loc for loc in (tree["c2"], tree["c3"], tree["palu"]) if loc.pk % SHARDS != shard_c1)
        shard, shard_outcome = _in_thread(
            lambda: sync_alerts([LOW], [cand(LOW, elsewhere, pill)], location_ids=[elsewhere.pk])
        )
        shard.join(10)
        assert not shard.is_alive() and len(shard_outcome[0].opened) == 1
        other.rollback()
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_overlapping_syncs_of_a_kind_open_each_alert_once(tree):
    import threading

    pill = Product.objects.get(code="PIL-KOMB")
    barrier = threading.Barrier(4)

    def sync():
        barrier.wait(5)
        return sync_alerts([LOW], [cand(LOW, tree["c1"], pill), cand(LOW, tree["c2"], pill)])

    runs = [_in_thread(sync) for _ in range(4)]
    for thread, _outcome in runs:
        thread.join(20)
    outcomes = [outcome[0] for _thread, outcome in runs]
    assert not [o for o in outcomes if isinstance(o, BaseException)]
    assert sorted(len(o.opened) for o in outcomes) == [0, 0, 0, 2]  # the first opens, the others update
    assert Alert.objects.filter(kind=LOW, status=AlertStatus.OPEN).count() == 2
