"""Acknowledging an alert: who may, only once, only while open, with a note; the
actor's notification is read; eight people at once → one acknowledgement, seven 409s."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction

from inventory.errors import DocumentConflict, InvalidDocument, ScopeError
from reports.models import Alert, AlertKind, AlertStatus, Notification
from reports.services.acknowledge import NOTE_MAX_LENGTH, alert_acknowledge
from tests.reports.alert_rows import make_alert, notify


@pytest.fixture
def users(tree, make_user):
    return {
        "palu": make_user("kab7271", tree["palu"], first_name="Dewi", last_name="Palu"),
        "clinic": make_user("pkm7271001", tree["c1"]),
        "field": make_user("plkb7271", tree["palu"], role="field"),
        "sigi": make_user("kab7210", tree["sigi"]),
        "manager": make_user("kabid72", tree["prov"], role="manager"),
    }


@pytest.mark.django_db
def test_acknowledge_records_who_when_note_and_reads_only_the_actors_notification(tree, users):
    alert = make_alert(tree["c1"])
    mine, theirs = notify(alert, users["palu"], users["clinic"])

    result = alert_acknowledge(alert=alert, actor=users["palu"], note="  Order sent to the district.  ")

    alert.refresh_from_db()
    assert result.pk == alert.pk
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_by == users["palu"]
    assert alert.acknowledged_at is not None
    assert alert.acknowledgement_note == "Order sent to the district."
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None
    assert theirs.read_at is None


@pytest.mark.django_db
def test_note_is_optional_and_at_most_1000_characters(tree, users):
    alert = make_alert(tree["c1"])
    with pytest.raises(InvalidDocument):
        alert_acknowledge(alert=alert, actor=users["palu"], note="x" * (NOTE_MAX_LENGTH + 1))
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    alert_acknowledge(alert=alert, actor=users["palu"], note="")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledgement_note == ""


@pytest.mark.django_db
@pytest.mark.usefixtures("english")
def test_second_acknowledgement_is_a_conflict_naming_who(tree, users):
    alert = make_alert(tree["c1"])
    alert_acknowledge(alert=alert, actor=users["palu"], note="first")
    with pytest.raises(DocumentConflict, match="Dewi Palu already acknowledged this alert") as refusal:
        alert_acknowledge(alert=alert, actor=users["manager"], note="second")
    assert refusal.value.http_status == 409
    alert.refresh_from_db()
    assert alert.acknowledged_by == users["palu"] and alert.acknowledgement_note == "first"


@pytest.mark.django_db
@pytest.mark.usefixtures("english")
def test_resolved_alert_cannot_be_acknowledged(tree, users):
    alert = make_alert(tree["c1"], status=AlertStatus.RESOLVED)
    with pytest.raises(DocumentConflict, match="resolved"):
        alert_acknowledge(alert=alert, actor=users["palu"])
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.acknowledged_by is None


@pytest.mark.django_db
def test_only_those_who_receive_the_alert_may_acknowledge(tree, users):
    low = make_alert(tree["c1"], AlertKind.LOW_STOCK)
    # Another district: not found, as if it did not exist.
    with pytest.raises(ScopeError) as refusal:
        alert_acknowledge(alert=low, actor=users["sigi"])
    assert refusal.value.http_status == 404
    # A field worker does not receive low-stock alerts…
    with pytest.raises(ScopeError):
        alert_acknowledge(alert=low, actor=users["field"])
    low.refresh_from_db()
    assert low.status == AlertStatus.OPEN
    # …but does receive dropout risk and stockouts; a manager receives every kind.
    dropout = make_alert(tree["c1"], AlertKind.DROPOUT_RISK, "SUNTIK-3", figures={"rule": "stock_gap"})
    alert_acknowledge(alert=dropout, actor=users["field"])
    alert_acknowledge(alert=low, actor=users["manager"])
    # Warehouse staff do not receive dropout risk.
    other = make_alert(tree["c2"], AlertKind.DROPOUT_RISK, "SUNTIK-3", figures={"rule": "stock_gap"})
    with pytest.raises(ScopeError):
        alert_acknowledge(alert=other, actor=users["palu"])


@pytest.mark.django_db
def test_database_refuses_an_acknowledgement_without_who(tree):
    alert = make_alert(tree["c1"])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE reports_alert SET status = 'acknowledged' WHERE id = %s", [alert.pk])


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_acknowledgements_one_wins(tree, make_user):
    """The eight arrive while the row is busy (the alert computation updating it, say), so
    all of them read it before any writes: without the row lock taken before the state
    check, each would see "open" and overwrite the one before."""
    actors = [make_user(f"staf7271-{i}", tree["palu"]) for i in range(8)]
    alert = make_alert(tree["c1"])
    notify(alert, *actors)
    outcomes, lock = [], threading.Lock()

    def acknowledge(actor):
        try:
            try:
                alert_acknowledge(alert=Alert.objects.get(pk=alert.pk), actor=actor, note=actor.username)
                outcome = ("ok", actor.pk)
            except DocumentConflict:
                outcome = ("conflict", actor.pk)
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=acknowledge, args=(actor,)) for actor in actors]
    with transaction.atomic():
        Alert.objects.select_for_update().get(pk=alert.pk)  # hold the row
        for t in threads:
            t.start()
        time.sleep(1.5)  # every thread is now waiting on the row
    for t in threads:
        t.join(timeout=120)
    assert sorted(o for o, _pk in outcomes) == ["conflict"] * 7 + ["ok"]
    winner = next(a for a in actors if (("ok", a.pk)) in outcomes)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_by == winner
    assert alert.acknowledgement_note == winner.username
    # Only the winner's notification was read by acknowledging.
    assert list(Notification.objects.filter(read_at__isnull=False).values_list("user_id", flat=True)) == [winner.pk]
