"""Service figures: edited in place until the district closes the month, corrected with history after it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory.errors import DocumentConflict, InvalidDocument, NotAllowed
from inventory.models import MonthClose, ServiceFigure
from inventory.services.service_figures import (
    add_months,
    is_month_closed,
    month_close,
    service_figures_set,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
THIS_MONTH = timezone.localdate().replace(day=1)
LAST_MONTH = add_months(THIS_MONTH, -1)


def client_for(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def people(tree, make_user, products):
    return {
        **tree,
        "products": products,
        "clinic": make_user("pkm1", tree["c1"]),
        "other_clinic": make_user("pkm2", tree["c2"]),
        "district": make_user("kab7271", tree["palu"]),
        "head": make_user("kepala7271", tree["palu"], role="head"),
        "sigi": make_user("kab7210", tree["sigi"]),
        "field": make_user("plkb", tree["palu"], role="field"),
        "manager": make_user("manajer", tree["prov"], role="manager"),
    }


def put(people, values, *, month=LAST_MONTH, actor="clinic", note=""):
    figures = {people["products"][code]: pair for code, pair in values.items()}
    return service_figures_set(location=people["c1"], month=month, figures=figures, actor=people[actor], note=note)


def current(people, code, month=LAST_MONTH):
    return ServiceFigure.objects.get(location=people["c1"], month=month, product__code=code, is_current=True)


def test_before_close_figures_are_edited_in_place(people):
    put(people, {"SUNTIK-3": (400, 20), "PIL-KOMB": (150, 10)})
    first = current(people, "SUNTIK-3")
    result = put(people, {"SUNTIK-3": (410, 22), "PIL-KOMB": (150, 10)}, actor="district")
    assert not result.closed and [r.product.code for r in result.updated] == ["SUNTIK-3"]
    assert [p.code for p in result.unchanged] == ["PIL-KOMB"]
    row = current(people, "SUNTIK-3")
    assert row.pk == first.pk and (row.active_users, row.new_users) == (410, 22)
    assert row.recorded_by == people["district"] and not row.is_correction
    assert ServiceFigure.objects.count() == 2


def test_after_close_a_change_is_a_correction_that_keeps_the_old_record(people, english):
    put(people, {"SUNTIK-3": (400, 20), "PIL-KOMB": (150, 10)})
    original = current(people, "SUNTIK-3")
    month_close(district=people["palu"], month=LAST_MONTH, actor=people["district"])
    assert is_month_closed(people["c1"], LAST_MONTH) and not is_month_closed(people["c3"], LAST_MONTH)

    with pytest.raises(InvalidDocument, match="needs a note"):
        put(people, {"SUNTIK-3": (420, 20)})
    result = put(people, {"SUNTIK-3": (420, 20), "PIL-KOMB": (150, 10)}, note="late register")
    assert result.closed and [r.product.code for r in result.created] == ["SUNTIK-3"]
    correction = current(people, "SUNTIK-3")
    original.refresh_from_db()
    assert correction.pk != original.pk and correction.replaces == original
    assert correction.is_correction and correction.note == "late register" and (correction.active_users == 420)
    assert not original.is_current and (original.active_users, original.new_users) == (400, 20)
    # Unchanged methods get no new record; a correction of a correction chains.
    assert ServiceFigure.objects.filter(product__code="PIL-KOMB").count() == 1
    put(people, {"SUNTIK-3": (421, 20)}, note="typo")
    assert current(people, "SUNTIK-3").replaces == correction


def test_a_replaced_figure_cannot_be_changed_or_deleted_in_the_database(people):
    put(people, {"SUNTIK-3": (400, 20)})
    month_close(district=people["palu"], month=LAST_MONTH, actor=people["district"])
    put(people, {"SUNTIK-3": (401, 20)}, note="fix")
    old = ServiceFigure.objects.get(is_current=False)
    for sql in (
        "UPDATE inventory_servicefigure SET active_users = 1 WHERE id = %s",
        "UPDATE inventory_servicefigure SET is_current = true WHERE id = %s",
        "DELETE FROM inventory_servicefigure WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="replaced figures are kept"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [old.pk])
    # Two current rows for one method are refused too.
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inventory_servicefigure (location_id, month, product_id, active_users, new_users, is_current,"
            " is_correction, note, recorded_at, recorded_by_id) SELECT location_id, month, product_id, 1, 0, true,"
            " false, '', now(), recorded_by_id FROM inventory_servicefigure WHERE is_current"
        )


def test_figures_are_validated(people, english):
    cases = [
        ({"SUNTIK-3": (10, 11)}, "cannot exceed"),
        ({"SUNTIK-3": (-1, 0)}, "negative"),
        ({"SUNTIK-3": (1.5, 0)}, "whole numbers"),
        ({"SUNTIK-3": (10**7, 0)}, "check the figure"),
        ({}, "at least one method"),
    ]
    for values, message in cases:
        with pytest.raises(InvalidDocument, match=message):
            put(people, values)
    with pytest.raises(InvalidDocument, match="has not started"):
        put(people, {"SUNTIK-3": (1, 0)}, month=add_months(THIS_MONTH, 1))
    with pytest.raises(InvalidDocument, match="not a clinic"):
        service_figures_set(
            location=people["palu"],
            month=LAST_MONTH,
            figures={people["products"]["IUD"]: (1, 1)},
            actor=people["district"],
        )
    assert not ServiceFigure.objects.exists()
    put(people, {"SUNTIK-3": (1, 0)}, month=THIS_MONTH)  # the running month can be entered


def test_who_may_enter_figures_and_close_months(people):
    for actor in ("other_clinic", "sigi", "field"):
        with pytest.raises(NotAllowed):
            put(people, {"IUD": (5, 1)}, actor=actor)
    for actor in ("clinic", "district", "manager"):
        put(people, {"IUD": (5, 1)}, actor=actor)
    for actor in ("clinic", "sigi", "field"):
        with pytest.raises(NotAllowed):
            month_close(district=people["palu"], month=LAST_MONTH, actor=people[actor])
    month_close(district=people["palu"], month=LAST_MONTH, actor=people["head"])
    month_close(district=people["palu"], month=add_months(LAST_MONTH, -1), actor=people["manager"])


def test_a_month_is_closed_once_and_only_after_it_ended(people, english):
    with pytest.raises(InvalidDocument, match="has not ended"):
        month_close(district=people["palu"], month=THIS_MONTH, actor=people["district"])
    with pytest.raises(InvalidDocument, match="not a district"):
        month_close(district=people["c1"], month=LAST_MONTH, actor=people["district"])
    month_close(district=people["palu"], month=LAST_MONTH, actor=people["district"])
    with pytest.raises(DocumentConflict, match="already closed"):
        month_close(district=people["palu"], month=LAST_MONTH, actor=people["head"])
    assert MonthClose.objects.count() == 1


# --- API --------------------------------------------------------------------------------------


def url(code="72.71-001", month=LAST_MONTH):
    return f"{API}/service-figures/{code}/{month:%Y-%m}/"


def test_api_put_get_close_and_correct(people):
    client = client_for(people["clinic"])
    response = client.put(url(), {"SUNTIK-3": {"active_users": 400, "new_users": 20}}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["closed"] is False and body["changed"] == ["SUNTIK-3"]
    assert [(f["product"], f["active_users"], f["new_users"]) for f in body["figures"]] == [("SUNTIK-3", 400, 20)]

    close = client_for(people["district"]).post(f"{API}/service-figures/72.71/{LAST_MONTH:%Y-%m}/close/")
    assert close.status_code == 201 and close.json()["month"] == f"{LAST_MONTH:%Y-%m}"
    again = client_for(people["district"]).post(f"{API}/service-figures/72.71/{LAST_MONTH:%Y-%m}/close/")
    assert again.status_code == 409 and again.json()["code"] == "conflict"

    no_note = client.put(url(), {"SUNTIK-3": {"active_users": 410, "new_users": 20}}, format="json")
    assert no_note.status_code == 400 and "note" in no_note.json()["detail"]
    fixed = client.put(url(), {"SUNTIK-3": {"active_users": 410, "new_users": 20}, "note": "recount"}, format="json")
    assert fixed.status_code == 200
    got = client_for(people["manager"]).get(url()).json()
    assert got["closed"] is True and got["figures"][0]["active_users"] == 410
    [correction] = got["corrections"]
    assert (correction["replaced_active_users"], correction["note"], correction["is_current"]) == (400, "recount", True)


def test_api_refuses_bad_figures_with_400_and_writes_nothing(people):
    client = client_for(people["clinic"])
    bad = [
        {"NOPE": {"active_users": 1, "new_users": 0}},
        {"SUNTIK-3": {"active_users": 1, "new_users": 2}},
        {"SUNTIK-3": {"active_users": "1", "new_users": 0}},
        {"SUNTIK-3": {"active_users": 1}},
        {"SUNTIK-3": 5},
        {"SUNTIK-3": {"active_users": 10**9, "new_users": 0}},
        {},
        ["SUNTIK-3"],
        {"SUNTIK-3": {"active_users": 1, "new_users": 0}, "note": 5},
    ]
    for body in bad:
        response = client.put(url(), body, format="json")
        assert response.status_code == 400, (body, response.json())
    good = {"SUNTIK-3": {"active_users": 1, "new_users": 0}}
    assert client.put(url(month=add_months(THIS_MONTH, 1)), good, format="json").status_code == 400
    assert client.put(f"{API}/service-figures/72.71-001/2025-13/", good, format="json").status_code == 400
    assert client.put(url(code="72.71"), good, format="json").status_code == 404  # above the clinic user
    assert client_for(people["district"]).put(url(code="72.71"), good, format="json").status_code == 400
    assert client.put(url(code="73.71"), good, format="json").status_code == 404
    assert client_for(people["other_clinic"]).put(url(), good, format="json").status_code == 404
    assert client_for(people["field"]).put(url(), good, format="json").status_code == 403
    assert client_for(people["field"]).get(url()).status_code == 200
    assert client_for(people["clinic"]).post(f"{API}/service-figures/72.71/{LAST_MONTH:%Y-%m}/close/").status_code == (
        404
    )
    assert not ServiceFigure.objects.exists() and not MonthClose.objects.exists()


def test_a_month_older_than_the_window_is_refused(people, english):
    with pytest.raises(InvalidDocument, match="too far back"):
        put(people, {"IUD": (1, 0)}, month=dt.date(2000, 1, 1))


# --- pages ------------------------------------------------------------------------------------


def test_figures_page_saves_then_corrects_after_the_district_closes(client, people, english):
    page_url = reverse("service-figures", args=["72.71-001", f"{LAST_MONTH:%Y-%m}"])
    client.force_login(people["district"])
    assert client.get(page_url).status_code == 200
    assert client.post(page_url, {"active_SUNTIK-3": "300", "new_SUNTIK-3": "12"}).status_code == 302
    bad = client.post(page_url, {"active_SUNTIK-3": "3", "new_SUNTIK-3": "12"})
    assert bad.status_code == 400 and "cannot exceed" in bad.content.decode()

    months = reverse("month-close", args=["72.71"])
    assert f"{LAST_MONTH:%Y-%m}" in client.get(months).content.decode()
    assert client.post(months, {"month": f"{LAST_MONTH:%Y-%m}"}).status_code == 302
    twice = client.post(months, {"month": f"{LAST_MONTH:%Y-%m}"})
    assert twice.status_code == 409 and "already closed" in twice.content.decode()

    no_note = client.post(page_url, {"active_SUNTIK-3": "310", "new_SUNTIK-3": "12"})
    assert no_note.status_code == 400 and "needs a note" in no_note.content.decode()
    assert client.post(page_url, {"active_SUNTIK-3": "310", "new_SUNTIK-3": "12", "note": "late"}).status_code == 302
    html = client.get(page_url).content.decode()
    assert "Corrections after the month was closed" in html and "300 / 12" in html


def test_figures_pages_are_scoped(client, people):
    client.force_login(people["sigi"])
    assert client.get(reverse("service-figures", args=["72.71-001", f"{LAST_MONTH:%Y-%m}"])).status_code == 404
    assert client.get(reverse("month-close", args=["72.71"])).status_code == 404
    client.force_login(people["field"])
    page = client.get(reverse("service-figures", args=["72.71-001", f"{LAST_MONTH:%Y-%m}"]))
    assert page.status_code == 200 and b'name="active_SUNTIK-3"' not in page.content
    assert client.post(reverse("month-close", args=["72.71"]), {"month": f"{LAST_MONTH:%Y-%m}"}).status_code == 403
    assert not MonthClose.objects.exists()
