"""Alert pages: the inbox (scope, role, filters, order, pages), one alert (figures, the
acknowledge form, POST + CSRF, errors on the page), the e-mail preference, the home
page's open alerts and the header's unread count."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from alokon.models import AlertEmail
from reports import views_alerts
from reports.models import AlertKind, AlertStatus, Notification, Severity
from reports.services.acknowledge import alert_acknowledge
from tests.reports.alert_rows import make_alert, notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def world(tree, make_user):
    users = {
        "palu": make_user("kab7271", tree["palu"], first_name="Dewi", last_name="Palu"),
        "field": make_user("plkb7271", tree["palu"], role="field"),
        "sigi": make_user("kab7210", tree["sigi"]),
        "manager": make_user("kabid72", tree["prov"], role="manager"),
    }
    alerts = {
        "low": make_alert(tree["c1"], AlertKind.LOW_STOCK, "KONDOM", age_days=3),
        "stockout": make_alert(tree["c2"], AlertKind.STOCKOUT, "PIL-KOMB", age_days=5),
        "over": make_alert(tree["palu"], AlertKind.OVERSTOCK, "IUD", age_days=1),
        "old": make_alert(tree["c1"], AlertKind.EMERGENCY, "SUNTIK-3", status=AlertStatus.RESOLVED, age_days=30),
        "dropout": make_alert(
            tree["c1"],
            AlertKind.DROPOUT_RISK,
            "SUNTIK-3",
            severity=Severity.CRITICAL,
            age_days=2,
            quantity=12,
            figures={
                "rule": "stock_gap",
                "active_users": 40,
                "users_at_risk": 12,
                "soh": 5,
                "amc": 30.0,
                "stock_days": 5,
                "resupply_days": 30,
                "next_resupply": None,
            },
        ),
        "sigi": make_alert(tree["c3"], AlertKind.STOCKOUT, "KONDOM", age_days=4),
    }
    notify(alerts["low"], users["palu"], users["manager"])
    notify(alerts["stockout"], users["palu"], users["field"], users["manager"])
    return {**tree, "users": users, "alerts": alerts}


def listed(response):
    return [row["alert"] for row in response.context["rows"]]


def detail(alert):
    return reverse("alert-detail", args=[alert.pk])


def test_inbox_is_scoped_by_subtree_and_role_and_ordered(client, world):
    a = world["alerts"]
    client.force_login(world["users"]["palu"])
    response = client.get(reverse("alert-list"))
    assert response.status_code == 200
    # Active only by default; most severe first, then newest; no dropout risk for warehouse staff; not Sigi's.
    assert listed(response) == [a["stockout"], a["low"], a["over"]]
    text = response.content.decode()
    assert "below the minimum of" in text and detail(a["low"]) in text  # describe(), in the reader's language
    assert "Puskesmas Talise" in text

    client.force_login(world["users"]["field"])
    assert listed(client.get(reverse("alert-list"))) == [a["dropout"], a["stockout"]]

    client.force_login(world["users"]["manager"])
    assert listed(client.get(reverse("alert-list"))) == [a["dropout"], a["sigi"], a["stockout"], a["low"], a["over"]]
    everything = listed(client.get(reverse("alert-list"), {"status": "all"}))
    assert everything[-1] == a["old"]  # active first, then resolved

    client.force_login(world["users"]["sigi"])
    assert listed(client.get(reverse("alert-list"))) == [a["sigi"]]


def test_inbox_filters(client, world):
    a = world["alerts"]
    client.force_login(world["users"]["manager"])
    get = lambda **q: client.get(reverse("alert-list"), q)  # noqa: E731
    assert listed(get(kind="stockout")) == [a["sigi"], a["stockout"]]
    assert listed(get(product="KONDOM")) == [a["sigi"], a["low"]]
    assert listed(get(location="72.71-001")) == [a["dropout"], a["low"]]
    assert listed(get(location="72.71")) == [a["dropout"], a["stockout"], a["low"], a["over"]]
    assert listed(get(status="resolved")) == [a["old"]]
    assert listed(get(status="open", kind="", product="", location="")) == listed(get())
    a["low"].status, a["low"].acknowledged_by = AlertStatus.ACKNOWLEDGED, world["users"]["palu"]
    a["low"].acknowledged_at = a["low"].opened_at
    a["low"].save()
    assert a["low"] not in listed(get(status="open"))
    assert listed(get(status="acknowledged")) == [a["low"]]
    assert a["low"] in listed(get())

    bad_kind = get(kind="nonsense")
    assert bad_kind.status_code == 400 and not bad_kind.context["rows"]
    assert get(product="NOPE").status_code == 400
    outside = get(location="73.71")
    assert outside.status_code == 400 and b"Location 73.71 was not found." in outside.content
    # A warehouse user is not offered (nor given) kinds their role does not receive.
    client.force_login(world["users"]["palu"])
    assert get(kind="dropout_risk").status_code == 400


def test_inbox_pages(client, world, monkeypatch):
    monkeypatch.setattr(views_alerts, "PAGE_SIZE", 2)
    client.force_login(world["users"]["manager"])
    first = client.get(reverse("alert-list"), {"product": ""})
    assert len(first.context["rows"]) == 2 and first.context["page"].paginator.count == 5
    assert b"page=2" in first.content and b"product=" in first.content
    third = client.get(reverse("alert-list"), {"page": 3})
    assert listed(third) == [world["alerts"]["over"]]


def test_detail_shows_figures_marks_read_and_is_404_outside(client, world):
    a, users = world["alerts"], world["users"]
    client.force_login(users["palu"])
    assert Notification.objects.get(alert=a["low"], user=users["palu"]).read_at is None
    page = client.get(detail(a["low"]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Suggested order" in text and "108" in text and "Average monthly consumption" in text
    labels = [label for label, _value in page.context["facts"]]
    assert labels[:3] == ["Stock on hand", "Average monthly consumption", "Months of stock"]  # not JSONB's order
    assert b'name="csrfmiddlewaretoken"' in page.content and b'name="note"' in page.content
    assert Notification.objects.get(alert=a["low"], user=users["palu"]).read_at is not None
    assert Notification.objects.get(alert=a["low"], user=users["manager"]).read_at is None

    assert client.get(detail(a["sigi"])).status_code == 404  # another district
    assert client.get(detail(a["dropout"])).status_code == 404  # a kind warehouse staff do not receive
    assert client.post(detail(a["sigi"]), {"note": "x"}).status_code == 404
    assert client.get(reverse("alert-detail", args=[999999])).status_code == 404

    client.force_login(users["field"])
    dropout = client.get(detail(a["dropout"]))
    assert dropout.status_code == 200 and b"Users at risk" in dropout.content and b"not planned" in dropout.content


def test_acknowledge_from_the_page(client, world):
    a, users = world["alerts"], world["users"]
    client.force_login(users["palu"])
    response = client.post(detail(a["low"]), {"note": "Ordered 108 from the district."})
    assert response.status_code == 302 and response["Location"] == detail(a["low"])
    page = client.get(response["Location"])
    text = page.content.decode()
    assert "You acknowledged the alert." in text and "Ordered 108 from the district." in text and "Dewi Palu" in text
    assert page.context["form"] is None
    a["low"].refresh_from_db()
    assert a["low"].status == AlertStatus.ACKNOWLEDGED and a["low"].acknowledged_by == users["palu"]

    # Someone else, on a page opened before: 409, on the page, nothing changed.
    client.force_login(users["manager"])
    again = client.post(detail(a["low"]), {"note": "me too"})
    assert again.status_code == 409 and b"Dewi Palu already acknowledged this alert" in again.content
    a["low"].refresh_from_db()
    assert a["low"].acknowledgement_note == "Ordered 108 from the district."

    resolved = client.post(detail(a["old"]), {"note": ""})
    assert resolved.status_code == 409 and b"resolved" in resolved.content
    assert client.get(detail(a["old"])).context["form"] is None

    too_long = client.post(detail(a["over"]), {"note": "x" * 1001})
    assert too_long.status_code == 400
    a["over"].refresh_from_db()
    assert a["over"].status == AlertStatus.OPEN


def test_acknowledge_needs_csrf_and_login(world, password):
    strict = Client(enforce_csrf_checks=True)
    assert strict.get(detail(world["alerts"]["low"])).status_code == 302  # to the login page
    strict.login(username="kab7271", password=password)
    assert strict.post(detail(world["alerts"]["low"]), {"note": ""}).status_code == 403
    world["alerts"]["low"].refresh_from_db()
    assert world["alerts"]["low"].status == AlertStatus.OPEN
    assert strict.get(reverse("alert-list")).status_code == 200


def test_preferences(client, world):
    user = world["users"]["palu"]
    assert client.get(reverse("alert-preferences")).status_code == 302
    client.force_login(user)
    page = client.get(reverse("alert-preferences"))
    assert page.status_code == 200 and b'value="daily"' in page.content
    saved = client.post(reverse("alert-preferences"), {"alert_email": "daily"})
    assert saved.status_code == 302
    user.refresh_from_db()
    assert user.alert_email == AlertEmail.DAILY
    bad = client.post(reverse("alert-preferences"), {"alert_email": "hourly"})
    assert bad.status_code == 400 and b"Select a valid choice" in bad.content
    client.post(reverse("alert-preferences"), {"alert_email": "off"})
    user.refresh_from_db()
    assert user.alert_email == AlertEmail.OFF


@pytest.mark.parametrize("who", ["palu", "field", "manager"])
def test_home_page_shows_open_alerts(client, world, who):
    client.force_login(world["users"][who])
    page = client.get(reverse("home"))
    assert page.status_code == 200
    shown = [row["alert"] for row in page.context["open_alerts"]]
    expected = {
        "palu": ["stockout", "low", "over"],
        "field": ["dropout", "stockout"],
        "manager": ["dropout", "sigi", "stockout", "low", "over"],
    }[who]
    assert shown == [world["alerts"][k] for k in expected]
    assert page.context["open_alerts_total"] == len(expected)
    assert reverse("alert-list").encode() in page.content
    assert detail(shown[0]).encode() in page.content


def test_home_page_lists_five_and_counts_the_rest(client, world, tree, make_user):
    for code in ("PIL-PROG", "IMPLAN-1", "IMPLAN-2"):
        make_alert(tree["c2"], AlertKind.LOW_STOCK, code)
    client.force_login(world["users"]["manager"])
    page = client.get(reverse("home"))
    assert len(page.context["open_alerts"]) == 5 and page.context["open_alerts_total"] == 8
    assert b"The 5 most severe of 8 are listed" in page.content
    # The stock-count reminder is still there.
    assert "counts_due_total" in page.context
    # Acknowledged alerts leave the home page (they stay in the inbox).
    client.force_login(world["users"]["field"])
    alert_acknowledge(alert=world["alerts"]["dropout"], actor=world["users"]["field"])
    assert [r["alert"] for r in client.get(reverse("home")).context["open_alerts"]] == [world["alerts"]["stockout"]]


def test_header_shows_unread_count_of_active_alerts(client, world):
    users, a = world["users"], world["alerts"]
    client.force_login(users["palu"])
    page = client.get(reverse("alert-list"))
    assert page.context["unread_alerts"] == 2
    client.get(detail(a["low"]))
    assert client.get(reverse("alert-list")).context["unread_alerts"] == 1
    # A resolved alert's notification no longer counts.
    a["stockout"].status, a["stockout"].resolved_at = AlertStatus.RESOLVED, a["stockout"].opened_at
    a["stockout"].save()
    page = client.get(reverse("home"))
    assert page.context["unread_alerts"] == 0 and reverse("alert-list").encode() in page.content
    # Signed out: no link, no query.
    client.logout()
    assert b'class="alerts"' not in client.get(reverse("login")).content


FIGURES = {
    AlertKind.EXPIRY_RISK: (
        {"lots": [{"batch": "K-01", "expiry": "2030-01-31", "quantity": 500, "at_risk": 120}], "amc": 40.0},
        ["K-01", "At risk", "120"],
    ),
    AlertKind.OVERDUE_SHIPMENT: (
        {
            "shipments": [
                {
                    "number": "SBBK-72-2030-0001",
                    "origin": "72",
                    "expected_arrival": "2030-01-02",
                    "days_overdue": 4,
                    "quantity": 50,
                }
            ]
        },
        ["SBBK-72-2030-0001", "/shipments/SBBK-72-2030-0001/", "Days overdue"],
    ),
    AlertKind.OPEN_DISCREPANCY: (
        {
            "discrepancies": [
                {"id": 7, "shipment": "SBBK-72-2030-0001", "kind": "short", "quantity": 3, "age_days": 20}
            ],
            "oldest_days": 20,
        },
        ["/discrepancies/7/", "Age (days)", "Oldest (days)"],
    ),
    AlertKind.LEDGER_MISMATCH: ({"mismatches": ["balance 10 ≠ entries 12"]}, ["balance 10 ≠ entries 12", "Mismatch"]),
    AlertKind.DROPOUT_RISK: (
        {
            "rule": "falling_dispensing",
            "active_users": 40,
            "users_at_risk": 9,
            "share": 0.7,
            "months": [{"month": "2030-01", "dispensed": 20, "need": 40}],
        },
        ["Dispensing below what active users need", "70%", "2030-01", "Need"],
    ),
}


@pytest.mark.parametrize("kind", list(FIGURES))
def test_detail_shows_each_kinds_figures(client, tree, make_user, kind):
    figures, expected = FIGURES[kind]
    alert = make_alert(tree["c1"], kind, "KONDOM", figures=figures, quantity=1)
    client.force_login(make_user("kabid72", tree["prov"], role="manager"))
    page = client.get(detail(alert))
    assert page.status_code == 200
    text = page.content.decode()
    for snippet in expected:
        assert snippet in text
