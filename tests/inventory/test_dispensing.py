"""Dispensing: FEFO over the clinic's lots, never an expired lot, all or nothing, idempotent; the API."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory.errors import DocumentConflict, InvalidDocument, NotAllowed
from inventory.models import Dispensing, LedgerEntry, Movement, MovementKind, Product, StockBalance
from inventory.services.dispensing import DispensingLineSpec, DispensingShortage, dispensing_record
from inventory.services.ledger_check import ledger_check
from inventory.services.opening import opening_balance_post
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"


def client_for(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def clinic(tree, make_user):
    """Clinic 72.71-001 holds SUNTIK-3 in three lots (one expired) and PIL-KOMB in one."""
    today = timezone.localdate()
    suntik = Product.objects.get(code="SUNTIK-3")
    lots = {
        "old": LotFactory(product=suntik, batch="S3-OLD", expiry=today - dt.timedelta(days=5)),
        "soon": LotFactory(product=suntik, batch="S3-SOON", expiry=today + dt.timedelta(days=40)),
        "late": LotFactory(product=suntik, batch="S3-LATE", expiry=today + dt.timedelta(days=400)),
        "pill": LotFactory(product=Product.objects.get(code="PIL-KOMB"), batch="PK-1"),
    }
    opening_balance_post(
        location=tree["c1"],
        lines=[(lots["old"], 50), (lots["soon"], 30), (lots["late"], 100), (lots["pill"], 20)],
        business_date=today - dt.timedelta(days=60),
    )
    return {
        **tree,
        "lots": lots,
        "suntik": suntik,
        "pill": Product.objects.get(code="PIL-KOMB"),
        "staff": make_user("pkm1", tree["c1"]),
        "other_staff": make_user("pkm2", tree["c2"]),
        "district": make_user("kab", tree["palu"]),
    }


def on_hand(location, lot):
    return StockBalance.objects.get(location=location, lot=lot).quantity


def record(clinic, lines, **kwargs):
    kwargs.setdefault("date", timezone.localdate())
    return dispensing_record(location=clinic["c1"], lines=lines, actor=clinic["staff"], **kwargs)


def test_fefo_splits_across_lots_and_never_takes_the_expired_one(clinic):
    result = record(clinic, [DispensingLineSpec(product=clinic["suntik"], quantity=45)])
    lots = clinic["lots"]
    assert result.created
    assert (on_hand(clinic["c1"], lots["old"]), on_hand(clinic["c1"], lots["soon"])) == (50, 0)
    assert on_hand(clinic["c1"], lots["late"]) == 85
    movement = result.dispensing.movement
    assert movement.kind == MovementKind.DISPENSING
    assert movement.document == f"DSP-72.71-001-{timezone.localdate():%Y%m%d}-1"
    dispensed = {e.lot.batch: e.quantity for e in movement.entries.filter(location__virtual_role="dispensed")}
    assert dispensed == {"S3-SOON": 30, "S3-LATE": 15}
    assert ledger_check().ok


def test_a_chosen_lot_is_taken_first_and_lines_are_merged(clinic, english):
    lots = clinic["lots"]
    result = record(
        clinic,
        [
            DispensingLineSpec(product=clinic["suntik"], quantity=10, lot=lots["late"]),
            DispensingLineSpec(product=clinic["suntik"], quantity=25),
            DispensingLineSpec(product=clinic["suntik"], quantity=5, lot=lots["late"]),
            DispensingLineSpec(product=clinic["pill"], quantity=20),
        ],
    )
    entries = result.dispensing.movement.entries.filter(quantity__lt=0)
    assert sorted((e.lot.batch, -e.quantity) for e in entries) == [("PK-1", 20), ("S3-LATE", 15), ("S3-SOON", 25)]
    # Only one movement, and the expired lot is untouched.
    assert Movement.objects.filter(kind=MovementKind.DISPENSING).count() == 1
    assert on_hand(clinic["c1"], lots["old"]) == 50


def test_a_shortage_is_refused_naming_the_product_and_nothing_is_posted(clinic, english):
    before = LedgerEntry.objects.count()
    with pytest.raises(DispensingShortage) as caught:
        record(
            clinic,
            [
                DispensingLineSpec(product=clinic["pill"], quantity=5),  # fine on its own
                DispensingLineSpec(product=clinic["suntik"], quantity=131),  # 130 usable: the expired 50 do not count
            ],
        )
    assert caught.value.http_status == 409
    assert "SUNTIK-3: 131 requested, 130 available" in caught.value.message
    assert "PIL-KOMB" not in caught.value.message
    assert LedgerEntry.objects.count() == before and not Dispensing.objects.exists()
    assert on_hand(clinic["c1"], clinic["lots"]["pill"]) == 20


def test_an_expired_lot_cannot_be_chosen(clinic, english):
    lots = clinic["lots"]
    with pytest.raises(InvalidDocument, match="S3-OLD of SUNTIK-3 expired on"):
        record(clinic, [DispensingLineSpec(product=clinic["suntik"], quantity=1, lot=lots["old"])])
    # A lot is not usable on its expiry day either, only the day before.
    old = lots["old"]
    with pytest.raises(InvalidDocument, match="expired"):
        record(clinic, [DispensingLineSpec(product=clinic["suntik"], quantity=1, lot=old)], date=old.expiry)
    assert not Dispensing.objects.exists()
    day_before = old.expiry - dt.timedelta(days=1)
    assert record(clinic, [DispensingLineSpec(product=clinic["suntik"], quantity=1, lot=old)], date=day_before).created


def test_backdated_dispensing_uses_lots_good_on_that_day(clinic):
    """On a day before the old lot expired, FEFO takes it first."""
    day = timezone.localdate() - dt.timedelta(days=10)
    result = record(clinic, [DispensingLineSpec(product=clinic["suntik"], quantity=60)], date=day)
    taken = {e.lot.batch: -e.quantity for e in result.dispensing.movement.entries.filter(quantity__lt=0)}
    assert taken == {"S3-OLD": 50, "S3-SOON": 10}
    assert result.dispensing.movement.business_date == day


def test_dates_in_the_future_or_too_far_back_are_refused(clinic, english):
    line = [DispensingLineSpec(product=clinic["pill"], quantity=1)]
    today = timezone.localdate()
    with pytest.raises(InvalidDocument, match="in the future"):
        record(clinic, line, date=today + dt.timedelta(days=1))
    with pytest.raises(InvalidDocument, match="too far back"):
        record(clinic, line, date=today - dt.timedelta(days=401))


def test_a_monthly_total_is_dated_the_last_day_of_the_month_or_today(clinic):
    today = timezone.localdate()
    line = [DispensingLineSpec(product=clinic["pill"], quantity=1)]
    current = record(clinic, line, date=today.replace(day=1), period="month").dispensing
    assert (current.date, current.period) == (today, "month")
    last_month_day = today.replace(day=1) - dt.timedelta(days=1)
    previous = record(clinic, line, date=last_month_day.replace(day=3), period="month").dispensing
    assert previous.date == last_month_day and previous.movement.business_date == last_month_day


def test_only_the_clinics_own_staff_record_and_only_at_a_clinic(clinic, english):
    line = [DispensingLineSpec(product=clinic["pill"], quantity=1)]
    for actor in (clinic["other_staff"], clinic["district"]):
        with pytest.raises(NotAllowed):
            dispensing_record(location=clinic["c1"], date=timezone.localdate(), lines=line, actor=actor)
    with pytest.raises(InvalidDocument, match="not a clinic"):
        dispensing_record(location=clinic["palu"], date=timezone.localdate(), lines=line, actor=clinic["district"])


def test_the_same_client_uuid_is_one_record(clinic):
    key = uuid.uuid4()
    line = [DispensingLineSpec(product=clinic["pill"], quantity=3)]
    first = record(clinic, line, client_uuid=key)
    again = record(clinic, line, client_uuid=key)
    assert first.created and not again.created and again.dispensing.pk == first.dispensing.pk
    assert on_hand(clinic["c1"], clinic["lots"]["pill"]) == 17
    with pytest.raises(DocumentConflict):
        record(clinic, [DispensingLineSpec(product=clinic["pill"], quantity=4)], client_uuid=key)


# --- API --------------------------------------------------------------------------------------


def post(client, **body):
    body.setdefault("location", "72.71-001")
    body.setdefault("date", timezone.localdate().isoformat())
    return client.post(f"{API}/dispensing/", body, format="json")


def test_api_records_and_lists_dispensing(clinic):
    client = client_for(clinic["staff"])
    key = str(uuid.uuid4())
    lines = [{"product": "SUNTIK-3", "quantity": 35}, {"product": "PIL-KOMB", "lot": "PK-1", "quantity": 2}]
    response = post(client, lines=lines, client_uuid=key)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["location"] == "72.71-001" and body["period"] == "day"
    assert sorted((ln["product"], ln["lot"], ln["quantity"]) for ln in body["lines"]) == [
        ("PIL-KOMB", "PK-1", 2),
        ("SUNTIK-3", "S3-LATE", 5),
        ("SUNTIK-3", "S3-SOON", 30),
    ]
    retry = post(client, lines=lines, client_uuid=key)
    assert retry.status_code == 200 and retry.json() == body
    listed = client_for(clinic["district"]).get(f"{API}/dispensing/", {"location": "72.71", "from": "2000-01-01"})
    assert listed.status_code == 200 and [r["document"] for r in listed.json()["results"]] == [body["document"]]
    assert client_for(clinic["other_staff"]).get(f"{API}/dispensing/").json()["results"] == []


def test_api_refuses_bad_input_with_clear_4xx_and_posts_nothing(clinic):
    client = client_for(clinic["staff"])
    before = LedgerEntry.objects.count()
    short = post(client, lines=[{"product": "SUNTIK-3", "quantity": 500}])
    assert short.status_code == 409 and short.json()["code"] == "insufficient_stock"
    assert "SUNTIK-3" in short.json()["detail"]
    cases = [
        ({"lines": [{"product": "NOPE", "quantity": 1}]}, 400),
        ({"lines": [{"product": "SUNTIK-3", "quantity": "1"}]}, 400),
        ({"lines": [{"product": "SUNTIK-3", "quantity": 0}]}, 400),
        ({"lines": [{"product": "SUNTIK-3", "lot": "PK-1", "quantity": 1}]}, 400),
        ({"lines": [{"product": "SUNTIK-3", "lot": "S3-OLD", "quantity": 1}]}, 400),
        ({"lines": []}, 400),
        ({"lines": [{"product": "SUNTIK-3", "quantity": 1}], "date": "2999-01-01"}, 400),
        ({"lines": [{"product": "SUNTIK-3", "quantity": 1}], "date": "yesterday"}, 400),
        ({"lines": [{"product": "SUNTIK-3", "quantity": 1}], "period": "week"}, 400),
        ({"lines": [{"product": "SUNTIK-3", "quantity": 1}], "location": "73.71"}, 404),
        ({"lines": [{"product": "SUNTIK-3", "quantity": 1}], "client_uuid": 5}, 400),
    ]
    for body, expected in cases:
        response = post(client, **body)
        assert response.status_code == expected, (body, response.json())
    other = post(client_for(clinic["other_staff"]), location="72.71-002", lines=[{"product": "KONDOM", "quantity": 1}])
    assert other.status_code == 409  # their own clinic, but it holds nothing
    forbidden = post(client_for(clinic["district"]), lines=[{"product": "SUNTIK-3", "quantity": 1}])
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"
    assert LedgerEntry.objects.count() == before
    bad_list = client.get(f"{API}/dispensing/", {"from": "2025-02-01", "to": "2025-01-01"})
    assert bad_list.status_code == 400


# --- pages ------------------------------------------------------------------------------------


def test_dispensing_page_records_once_and_shows_history(client, clinic):
    client.force_login(clinic["staff"])
    url = reverse("dispensing", args=["72.71-001"])
    page = client.get(url)
    assert page.status_code == 200 and b'name="client_uuid"' in page.content
    key = str(uuid.uuid4())
    body = {
        "date": timezone.localdate().isoformat(),
        "period": "day",
        "client_uuid": key,
        "note": "",
        "form-TOTAL_FORMS": "8",
        "form-INITIAL_FORMS": "0",
        "form-0-product": "SUNTIK-3",
        "form-0-quantity": "12",
    }
    response = client.post(url, body)
    assert response.status_code == 302
    assert client.post(url, body).status_code == 302  # a double tap: the same record
    assert Dispensing.objects.count() == 1
    history = client.get(url).content.decode()
    assert "S3-SOON" in history and '<td class="n">12</td>' in history


def test_dispensing_page_shows_a_shortage_and_posts_nothing(client, clinic, english):
    client.force_login(clinic["staff"])
    body = {
        "date": timezone.localdate().isoformat(),
        "period": "day",
        "client_uuid": str(uuid.uuid4()),
        "form-TOTAL_FORMS": "8",
        "form-INITIAL_FORMS": "0",
        "form-0-product": "PIL-KOMB",
        "form-0-quantity": "21",
    }
    response = client.post(reverse("dispensing", args=["72.71-001"]), body)
    assert response.status_code == 409 and "PIL-KOMB: 21 requested, 20 available" in response.content.decode()
    assert not Dispensing.objects.exists()


def test_dispensing_page_is_scoped_and_only_the_clinic_records(client, clinic):
    client.force_login(clinic["other_staff"])
    assert client.get(reverse("dispensing", args=["72.71-001"])).status_code == 404
    client.force_login(clinic["district"])
    page = client.get(reverse("dispensing", args=["72.71-001"]))
    assert page.status_code == 200 and b'name="client_uuid"' not in page.content
    assert client.post(reverse("dispensing", args=["72.71-001"]), {}).status_code == 403
    assert client.get(reverse("dispensing", args=["72.71"])).status_code == 404


def test_dispensing_page_needs_the_csrf_token(clinic):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinic["staff"])
    assert client.post(reverse("dispensing", args=["72.71-001"]), {}).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_simultaneous_dispensings_share_the_stock_and_are_numbered_apart(clinic):
    """Six clerks of one clinic each dispense 30 of its 130 usable units at once: four succeed, two are short."""
    barrier = threading.Barrier(6)
    outcomes, lock = [], threading.Lock()

    def dispense():
        try:
            barrier.wait(timeout=30)
            try:
                result = record(clinic, [DispensingLineSpec(product=clinic["suntik"], quantity=30)])
                outcome = result.dispensing.movement.document
            except DispensingShortage:
                outcome = "short"
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispense) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    documents = [o for o in outcomes if o != "short"]
    assert len(outcomes) == 6 and len(documents) == 4 and len(set(documents)) == 4
    lots = clinic["lots"]
    assert on_hand(clinic["c1"], lots["soon"]) + on_hand(clinic["c1"], lots["late"]) == 10
    assert on_hand(clinic["c1"], lots["old"]) == 50
    assert ledger_check().ok
