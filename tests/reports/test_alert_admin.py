"""Alerts in the admin: the thresholds are one editable row with defaults; alerts and
notifications are read-only and a scoped user sees only their subtree's."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from reports.models import Alert, AlertKind, AlertSettings, Notification
from tests.reports.alert_rows import make_alert, notify

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.fixture
def world(tree, make_user):
    users = {"palu": make_user("kab7271", tree["palu"]), "sigi": make_user("kab7210", tree["sigi"])}
    alerts = {
        "palu": make_alert(tree["c1"], AlertKind.LOW_STOCK, "KONDOM"),
        "sigi": make_alert(tree["c3"], AlertKind.STOCKOUT, "KONDOM"),
    }
    notify(alerts["palu"], users["palu"])
    notify(alerts["sigi"], users["sigi"])
    return {**tree, "users": users, "alerts": alerts}


def settings_form(**changes):
    data = {
        "expiry_horizon_days": 180,
        "open_discrepancy_days": 14,
        "dropout_share": "0.70",
        "dropout_months": 2,
        "resupply_days": 30,
        "debounce_seconds": 300,
    }
    return {**data, **changes}


def test_settings_have_defaults_and_a_superuser_edits_them(admin_client, db):
    # The changelist goes straight to the one row, created with the defaults.
    response = admin_client.get(admin_url(AlertSettings, "changelist"))
    assert response.status_code == 302 and response["Location"] == admin_url(AlertSettings, "change", 1)
    current = AlertSettings.current()
    assert (current.expiry_horizon_days, current.dropout_share, current.dropout_months) == (180, Decimal("0.70"), 2)
    assert admin_client.get(admin_url(AlertSettings, "change", 1)).status_code == 200

    saved = admin_client.post(
        admin_url(AlertSettings, "change", 1), settings_form(dropout_share="0.60", open_discrepancy_days=7)
    )
    assert saved.status_code == 302
    current.refresh_from_db()
    assert current.dropout_share == Decimal("0.60") and current.open_discrepancy_days == 7

    refused = admin_client.post(admin_url(AlertSettings, "change", 1), settings_form(dropout_share="1.50"))
    assert refused.status_code == 200 and refused.context["adminform"].form.errors
    current.refresh_from_db()
    assert current.dropout_share == Decimal("0.60")

    # One row: no add, no delete, not even for a superuser.
    assert admin_client.get(admin_url(AlertSettings, "add")).status_code == 403
    assert admin_client.post(admin_url(AlertSettings, "delete", 1), {"post": "yes"}).status_code == 403
    assert AlertSettings.objects.count() == 1


@pytest.mark.parametrize("model", [Alert, Notification])
def test_alerts_and_notifications_are_read_only(admin_client, world, model):
    assert admin_client.get(admin_url(model, "changelist")).status_code == 200
    obj = model.objects.first()
    assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.post(admin_url(model, "change", obj.pk), {"status": "resolved"}).status_code == 403
    assert admin_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_alert_changelist_shows_the_message(admin_client, world):
    response = admin_client.get(admin_url(Alert, "changelist"))
    assert b"below the minimum of" in response.content


@pytest.fixture
def district_client(client, world, password):
    user = world["users"]["palu"]
    user.is_staff = True
    user.save()
    codenames = ["view_alert", "view_notification"]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.login(username=user.username, password=password)
    return client


def rows(response):
    return list(response.context["cl"].result_list)


def test_district_user_sees_only_their_subtree(district_client, world):
    alerts = world["alerts"]
    assert rows(district_client.get(admin_url(Alert, "changelist"))) == [alerts["palu"]]
    assert [n.alert for n in rows(district_client.get(admin_url(Notification, "changelist")))] == [alerts["palu"]]
    assert district_client.get(admin_url(Alert, "change", alerts["sigi"].pk)).status_code in (302, 404)
    sigi_note = Notification.objects.get(alert=alerts["sigi"])
    assert district_client.get(admin_url(Notification, "change", sigi_note.pk)).status_code in (302, 404)
    assert district_client.get(admin_url(Alert, "change", alerts["palu"].pk)).status_code == 200
    # The location filter stays inside the subtree.
    assert rows(district_client.get(admin_url(Alert, "changelist"), {"location": "72.10"})) == []
    assert rows(district_client.get(admin_url(Alert, "changelist"), {"location": "72.71-001"})) == [alerts["palu"]]
    # Without the change permission, the thresholds are not theirs to edit.
    assert district_client.post(admin_url(AlertSettings, "change", 1), settings_form()).status_code == 403
