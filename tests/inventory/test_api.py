"""REST API v1: token auth, each endpoint's payload, scoping, pagination, errors, schema."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from alokon.api_errors import exception_handler
from inventory.errors import InsufficientStock, InvalidMovement, Shortage
from inventory.models import Location, MovementKind
from inventory.services.posting import movement_post, transfer

pytestmark = pytest.mark.django_db

API = "/api/v1"
OUT_OF_SCOPE_FOR_PALU = ["72.10", "72.10-001", "72", "00", "73.71", "99.99"]


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def ship(source, destination, lot, quantity, *, document, actor=None):
    return movement_post(
        kind=MovementKind.DISPATCH,
        entries=transfer(source=source, destination=destination, lot=lot, quantity=quantity),
        business_date=timezone.localdate(),
        document=document,
        actor=actor,
    )


@pytest.fixture
def prov_user(tree, make_user):
    return make_user("prov72", tree["prov"])


@pytest.fixture
def palu_user(tree, make_user):
    return make_user("kab7271", tree["palu"])


@pytest.fixture
def palu(palu_user):
    return client_for(palu_user)


@pytest.fixture
def shipped(stocked, lot, prov_user):
    """Opening balance of 100 at the province, then 30 shipped to Kota Palu by prov72."""
    ship(stocked["prov"], stocked["palu"], lot, 30, document="SBBK-72-0001", actor=prov_user)
    return stocked


# --- authentication ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_token_for_good_credentials_then_token_auth(palu_user, password, fmt):
    response = APIClient().post(f"{API}/auth/token/", {"username": "kab7271", "password": password}, format=fmt)
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=palu_user).key}

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get(f"{API}/locations/72.71/").json()["code"] == "72.71"


def test_token_refused_for_bad_credentials(palu_user):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(f"{API}/auth/token/", {"username": "kab7271", "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not Token.objects.exists()

    response = client.post(f"{API}/auth/token/", {"username": "kab7271"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"password": ["This field is required."]}

    response = client.post(f"{API}/auth/token/", "{not json", content_type="application/json")
    assert response.status_code == 400 and "detail" in response.json()


@pytest.mark.parametrize("path", ["locations/", "locations/72.71/", "stock/?location=72.71", "stock-card/"])
def test_missing_or_wrong_token_is_401(palu_user, path):
    response = APIClient(HTTP_ACCEPT_LANGUAGE="en").get(f"{API}/{path}")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    assert response["WWW-Authenticate"] == "Token"

    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(f"{API}/{path}")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_session_auth_for_the_browser(palu_user, password):
    client = APIClient()
    assert client.login(username="kab7271", password=password)
    assert client.get(f"{API}/locations/").status_code == 200
    # The browsable API renders, including the stock card's count-free pages.
    page = client.get(f"{API}/stock-card/?location=72.71&product=PIL-KOMB", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")


def test_messages_follow_accept_language(palu):
    assert APIClient(HTTP_ACCEPT_LANGUAGE="id").get(f"{API}/locations/").json()["detail"] == (
        "Data autentikasi tidak diberikan."
    )
    response = palu.get(f"{API}/locations/72.10/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.json() == {"detail": "Location 72.10 was not found.", "code": "not_found"}


# --- locations -----------------------------------------------------------------------


def test_locations_are_the_users_subtree_with_codes(tree, palu):
    Location.objects.filter(pk=tree["c1"].pk).update(latitude=Decimal("-0.889500"), longitude=Decimal("119.877800"))
    response = palu.get(f"{API}/locations/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [row["code"] for row in body["results"]] == ["72.71", "72.71-001", "72.71-002"]
    assert body["results"][1] == {
        "code": "72.71-001",
        "bps_code": "",
        "name": "Puskesmas Talise",
        "level": "clinic",
        "parent": "72.71",
        "clinic_kind": "puskesmas",
        "latitude": -0.8895,
        "longitude": 119.8778,
        "is_active": True,
    }
    assert body["results"][0]["parent"] == "72"  # the root's own parent code, nothing more of it


def test_locations_never_list_virtual_ones(tree, make_user):
    admin = make_user("root", None, is_superuser=True, is_staff=True)
    codes = [row["code"] for row in client_for(admin).get(f"{API}/locations/?limit=1000").json()["results"]]
    assert codes[0] == "00" and "73.71" in codes
    assert not [code for code in codes if code.startswith("~")]


def test_user_without_location_sees_nothing(tree, make_user):
    client = client_for(make_user("nobody", None))
    assert client.get(f"{API}/locations/").json()["count"] == 0
    assert client.get(f"{API}/locations/72/").status_code == 404


def test_locations_children_of_parent(palu):
    response = palu.get(f"{API}/locations/", {"parent": "72.71"})
    assert [row["code"] for row in response.json()["results"]] == ["72.71-001", "72.71-002"]
    assert palu.get(f"{API}/locations/", {"parent": "72.71-001"}).json()["count"] == 0


def test_location_detail_accepts_dotted_and_dashed_codes(palu):
    response = palu.get(f"{API}/locations/72.71-002/")
    assert response.status_code == 200
    assert response.json()["name"] == "Puskesmas Kamonji"
    assert response.json()["parent"] == "72.71"


# --- scoping: every endpoint that takes a location ---------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "locations/?parent={code}",
        "locations/{code}/",
        "stock/?location={code}",
        "stock/?location={code}&product=PIL-KOMB",
        "stock-card/?location={code}&product=PIL-KOMB",
    ],
)
def test_out_of_scope_or_unknown_location_is_404(shipped, palu, url):
    for code in OUT_OF_SCOPE_FOR_PALU:
        response = palu.get(f"{API}/" + url.format(code=code), HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 404, code
        assert response.json() == {"detail": f"Location {code} was not found.", "code": "not_found"}


def test_the_province_sees_its_districts(shipped, prov_user):
    client = client_for(prov_user)
    assert client.get(f"{API}/stock/?location=72.71").status_code == 200
    assert client.get(f"{API}/locations/72.10-001/").status_code == 200
    assert client.get(f"{API}/locations/73.71/").status_code == 404


# --- stock -------------------------------------------------------------------------


def test_stock_rows_after_opening_and_transfer(shipped, lot, palu, prov_user):
    expected = {"location": "72.71", "product": "PIL-KOMB", "lot": "PK-001", "expiry": lot.expiry.isoformat()}
    response = palu.get(f"{API}/stock/", {"location": "72.71"})
    assert response.status_code == 200
    assert response.json()["results"] == [{**expected, "quantity": 30}]

    response = client_for(prov_user).get(f"{API}/stock/", {"location": "72", "product": "PIL-KOMB"})
    assert response.json()["results"] == [{**expected, "location": "72", "quantity": 70}]


def test_stock_lists_only_positive_balances_and_filters_by_product(shipped, lot, palu):
    ship(shipped["palu"], shipped["c1"], lot, 30, document="SBBK-7271-0001")
    assert palu.get(f"{API}/stock/", {"location": "72.71"}).json()["results"] == []
    assert palu.get(f"{API}/stock/", {"location": "72.71-001"}).json()["results"][0]["quantity"] == 30
    assert palu.get(f"{API}/stock/", {"location": "72.71-001", "product": "KONDOM"}).json()["results"] == []


def test_stock_needs_a_location_and_a_known_product(shipped, palu):
    response = palu.get(f"{API}/stock/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json() == {"location": ["This field is required."]}

    response = palu.get(f"{API}/stock/", {"location": "72.71", "product": "NOPE"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json() == {"product": ["There is no product with code NOPE."]}


# --- stock card ------------------------------------------------------------------------


def test_stock_card_entries_in_posting_order(shipped, lot, prov_user):
    today = timezone.localdate()
    response = client_for(prov_user).get(f"{API}/stock-card/", {"location": "72", "product": "PIL-KOMB"})
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None and body["previous"] is None and "count" not in body
    opening, dispatch = body["results"]
    common = {"lot": "PK-001", "expiry": lot.expiry.isoformat(), "reason": ""}
    assert opening.pop("recorded_at") and dispatch.pop("recorded_at")
    assert opening == {
        **common,
        "date": (today - dt.timedelta(days=30)).isoformat(),
        "kind": "opening",
        "quantity": 100,
        "balance_after": 100,
        "document": f"SA-72-{today - dt.timedelta(days=30):%Y%m%d}",
        "recorded_by": None,
    }
    assert dispatch == {
        **common,
        "date": today.isoformat(),
        "kind": "dispatch",
        "quantity": -30,
        "balance_after": 70,
        "document": "SBBK-72-0001",
        "recorded_by": "prov72",
    }


def test_stock_card_pages_follow_next(shipped, lot, palu):
    for n in range(4):
        ship(shipped["prov"], shipped["palu"], lot, 1, document=f"SBBK-72-01{n}")
    balances, url = [], f"{API}/stock-card/?location=72.71&product=PIL-KOMB&limit=2"
    pages = 0
    while url:
        body = palu.get(url).json()
        balances += [entry["balance_after"] for entry in body["results"]]
        url, pages = body["next"], pages + 1
    assert balances == [30, 31, 32, 33, 34]
    assert pages == 3

    body = palu.get(f"{API}/stock-card/?location=72.71&product=PIL-KOMB&limit=2&offset=2").json()
    assert [entry["document"] for entry in body["results"]] == ["SBBK-72-011", "SBBK-72-012"]
    assert "limit=2" in body["previous"] and "offset=" not in body["previous"]


def test_stock_card_date_filter(shipped, prov_user):
    client = client_for(prov_user)
    today = timezone.localdate().isoformat()
    body = client.get(f"{API}/stock-card/", {"location": "72", "product": "PIL-KOMB", "date_from": today}).json()
    assert [entry["kind"] for entry in body["results"]] == ["dispatch"]


def test_stock_card_page_is_one_ordered_index_range_without_count(shipped, palu):
    with CaptureQueriesContext(connection) as queries:
        assert palu.get(f"{API}/stock-card/?location=72.71&product=PIL-KOMB&offset=1").status_code == 200
    sql = [q["sql"] for q in queries.captured_queries if 'FROM "inventory_ledgerentry"' in q["sql"]]
    assert len(sql) == 1 and "COUNT(" not in sql[0].upper()
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    with connection.cursor() as cursor:
        # Forbid sorting: the page must come out of an index already in posting order.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # One range of the (location, product, id) index, not the whole ledger in id order.
    assert "using entry_stock_card on inventory_ledgerentry" in plan, plan
    assert "Sort" not in plan, plan


def test_stock_card_needs_location_and_product(shipped, palu):
    response = palu.get(f"{API}/stock-card/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json() == {"location": ["This field is required."], "product": ["This field is required."]}
    response = palu.get(f"{API}/stock-card/", {"location": "72.71", "product": "NOPE"})
    assert response.status_code == 400 and "product" in response.json()


# --- bad input is a 4xx with a message, never a 500 ----------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "stock/?location=%00",
        "stock/?location=72.71%00",
        "stock/?location=" + "7" * 200,
        "stock/?location=72.71&product=%27%3B--",
        "stock-card/?location=72.71&product=PIL-KOMB&date_from=yesterday",
        "stock-card/?location=72.71&product=PIL-KOMB&date_from=2025-02-30",
        "stock-card/?location=72.71&product=PIL-KOMB&date_from=2025-03-01&date_to=2025-01-01",
        "locations/?parent=%00",
        "locations/?parent=../72",
    ],
)
def test_malformed_parameters_are_400(shipped, palu, query):
    response = palu.get(f"{API}/{query}")
    assert response.status_code == 400
    assert all(isinstance(messages, list) and messages for messages in response.json().values())


@pytest.mark.parametrize(
    "query",
    [
        "stock-card/?location=72.71&product=PIL-KOMB&limit=abc&offset=-5",
        "stock-card/?location=72.71&product=PIL-KOMB&offset=999999999999999999999999",
        "stock-card/?location=72.71&product=PIL-KOMB&limit=99999999",
        "locations/?limit=0&offset=99999999999999999999999",
        "stock/?location=72.71&offset=99999999999999999999999",
    ],
)
def test_odd_paging_values_fall_back_instead_of_failing(shipped, palu, query):
    assert palu.get(f"{API}/{query}").status_code == 200


@pytest.mark.parametrize("path", ["locations/", "locations/72.71/", "stock/?location=72.71", "stock-card/"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_wrong_methods_are_405(shipped, palu, path, method):
    response = getattr(palu, method)(f"{API}/{path}", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 405
    assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.', "code": "method_not_allowed"}


def test_get_on_token_endpoint_is_405():
    assert APIClient().get(f"{API}/auth/token/").status_code == 405


@pytest.mark.parametrize("path", ["nope/", "locations/~SUPPLIER/", "locations/72.71/extra/", "locations/%00/"])
def test_unknown_api_paths_are_json_404(palu, path):
    response = palu.get(f"{API}/{path}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- error handler -------------------------------------------------------------------------


def test_domain_errors_become_their_status_with_detail_and_code():
    shortage = Shortage("72.71", "Kota Palu", "PIL-KOMB", "PK-001", available=3, requested=5)
    response = exception_handler(InsufficientStock([shortage]), {})
    assert response.status_code == 409
    assert response.data["code"] == "insufficient_stock"
    assert "PK-001" in response.data["detail"]

    response = exception_handler(InvalidMovement("A movement needs a document number."), {})
    assert response.status_code == 400
    assert response.data == {"detail": "A movement needs a document number.", "code": "invalid_movement"}


def test_django_validation_error_is_a_400_in_drf_shape():
    response = exception_handler(DjangoValidationError({"code": ["Bad code."]}), {})
    assert response.status_code == 400
    assert response.data == {"code": ["Bad code."]}


# --- schema ----------------------------------------------------------------------------------


def test_schema_lists_the_api():
    response = APIClient().get(f"{API}/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/v1/auth/token/",
        "/api/v1/locations/",
        "/api/v1/locations/{code}/",
        "/api/v1/stock/",
        "/api/v1/stock-card/",
    } <= set(schema["paths"])
    card = schema["components"]["schemas"]["StockCardEntry"]["properties"]
    assert {"date", "kind", "quantity", "balance_after", "document", "lot", "expiry", "recorded_at"} <= set(card)
