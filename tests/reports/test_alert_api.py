"""REST API v1 for alerts: the user's list (scope, role, filters, order, pages), one alert,
acknowledging it, clear 4xx; messages in the request's language."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from reports.models import AlertKind, AlertStatus, Notification
from tests.reports.alert_rows import STOCK_FIGURES, make_alert, notify

pytestmark = pytest.mark.django_db

API = "/api/v1"


def client_for(user, language="en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
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
        "low": make_alert(
            tree["c1"], AlertKind.LOW_STOCK, "KONDOM", age_days=3, figures={**STOCK_FIGURES, "soh": 1200}
        ),
        "stockout": make_alert(tree["c2"], AlertKind.STOCKOUT, "PIL-KOMB", age_days=5),
        "mismatch": make_alert(
            tree["palu"], AlertKind.LEDGER_MISMATCH, None, age_days=1, quantity=1, figures={"mismatches": ["x ≠ y"]}
        ),
        "old": make_alert(tree["c1"], AlertKind.EMERGENCY, "SUNTIK-3", status=AlertStatus.RESOLVED, age_days=30),
        "dropout": make_alert(
            tree["c1"], AlertKind.DROPOUT_RISK, "SUNTIK-3", age_days=2, figures={"rule": "stock_gap"}
        ),
        "sigi": make_alert(tree["c3"], AlertKind.STOCKOUT, "KONDOM", age_days=4),
    }
    notify(alerts["low"], users["palu"])
    return {**tree, "users": users, "alerts": alerts}


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def test_list_is_scoped_by_subtree_and_role(world):
    a = world["alerts"]
    palu = client_for(world["users"]["palu"])
    response = palu.get(f"{API}/alerts/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    # Active first, most severe, newest: the ledger mismatch (critical, 1 day), the stockout, the low stock.
    assert ids(response) == [a["mismatch"].pk, a["stockout"].pk, a["low"].pk]
    low = body["results"][2]
    assert low["kind"] == "low_stock" and low["kind_display"] == "Below minimum"
    assert low["location"] == "72.71-001" and low["product"] == "KONDOM" and low["status"] == "open"
    assert low["severity"] == 2 and low["quantity"] == 108 and low["figures"]["soh"] == 1200
    assert "1,200 in stock" in low["message"] and "below the minimum" in low["message"]
    assert low["acknowledged_by"] is None and low["note"] == ""
    assert body["results"][0]["product"] is None

    field = client_for(world["users"]["field"])
    assert ids(field.get(f"{API}/alerts/")) == [a["stockout"].pk, a["dropout"].pk]  # critical, then warning
    manager = client_for(world["users"]["manager"])
    assert manager.get(f"{API}/alerts/").json()["count"] == 5
    assert ids(manager.get(f"{API}/alerts/", {"status": "all"}))[-1] == a["old"].pk


def test_message_is_in_the_requests_language(world):
    low = world["alerts"]["low"]
    body = client_for(world["users"]["palu"], "id").get(f"{API}/alerts/{low.pk}/").json()
    assert "1.200" in body["message"]  # Indonesian digit grouping


def test_filters_and_their_errors(world):
    a = world["alerts"]
    manager = client_for(world["users"]["manager"])

    def get(**query):
        return manager.get(f"{API}/alerts/", query)

    assert ids(get(kind="stockout")) == [a["sigi"].pk, a["stockout"].pk]
    assert ids(get(product="KONDOM")) == [a["sigi"].pk, a["low"].pk]
    assert ids(get(location="72.71-001")) == [a["dropout"].pk, a["low"].pk]
    assert ids(get(status="resolved")) == [a["old"].pk]
    assert ids(get(kind="", status="", location="", product="")) == ids(get())
    assert ids(get(limit=2, offset=2)) == ids(get())[2:4]

    bad = get(kind="nonsense", status="later")
    assert bad.status_code == 400 and set(bad.json()) == {"kind", "status"}
    unknown_product = get(product="NOPE")
    assert unknown_product.status_code == 400 and unknown_product.json()["product"] == [
        "There is no product with code NOPE."
    ]
    assert get(location="bad code!").status_code == 400
    outside = get(location="73.71")
    assert outside.status_code == 404 and outside.json()["detail"] == "Location 73.71 was not found."
    assert get(location="99.99").status_code == 404


def test_detail_is_404_outside(world):
    a = world["alerts"]
    palu = client_for(world["users"]["palu"])
    assert palu.get(f"{API}/alerts/{a['low'].pk}/").json()["id"] == a["low"].pk
    for alert in (a["sigi"], a["dropout"]):  # another district; a kind warehouse staff do not receive
        response = palu.get(f"{API}/alerts/{alert.pk}/")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert palu.get(f"{API}/alerts/999999/").status_code == 404
    assert APIClient().get(f"{API}/alerts/").status_code in (401, 403)


def test_acknowledge(world):
    a, users = world["alerts"], world["users"]
    palu = client_for(users["palu"])
    url = f"{API}/alerts/{a['low'].pk}/acknowledge/"
    response = palu.post(url, {"note": "Ordered."}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "acknowledged" and body["acknowledged_by"] == "kab7271" and body["note"] == "Ordered."
    assert body["acknowledged_at"]
    assert Notification.objects.get(alert=a["low"], user=users["palu"]).read_at is not None

    again = client_for(users["manager"]).post(url, {"note": "me too"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert "Dewi Palu already acknowledged this alert" in again.json()["detail"]

    resolved = palu.post(f"{API}/alerts/{a['old'].pk}/acknowledge/", {}, format="json")
    assert resolved.status_code == 409

    stockout = f"{API}/alerts/{a['stockout'].pk}/acknowledge/"
    too_long = palu.post(stockout, {"note": "x" * 1001}, format="json")
    assert too_long.status_code == 400 and "note" in too_long.json()
    assert palu.post(stockout, "{not json", content_type="application/json").status_code == 400

    outside = palu.post(f"{API}/alerts/{a['sigi'].pk}/acknowledge/", {}, format="json")
    assert outside.status_code == 404
    a["sigi"].refresh_from_db()
    assert a["sigi"].status == AlertStatus.OPEN


def test_acknowledge_without_a_note(world):
    response = client_for(world["users"]["field"]).post(
        f"{API}/alerts/{world['alerts']['dropout'].pk}/acknowledge/", {}, format="json"
    )
    assert response.status_code == 200 and response.json()["note"] == ""
