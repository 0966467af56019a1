"""The distribution map: its figures equal those computed here from the ledger and the
documents (plain ORM sums and the policy rules, not the indicator statement), every view
of it stays in the user's scope, and bad input is a clear 4xx.

The history (dates relative to the consumption window, the last 3 complete months
w1, w2, w3; the period filter's default is the last complete month, w3's):

- province 72 holds 10,000 PIL-KOMB from before the window;
- w1: 72 → Palu 1,200 (received), 72 → Sigi 300 (received); w1+2: 72 → Palu 100 (60
  received: 40 in transit), 72 → Sigi 50 (not received: in transit);
- w1+1: Palu → c1 30, Palu → c4 20, Sigi → c3 100; w1+3: Palu → c2 90; all received;
- c1 dispenses 10 in w2 and 20 today (stocked out, no stockout day in the window);
  c2 20 a month (within plan); c3 10 a month (above max); c4 nothing (no consumption);
  c5 never held it (not stocked, and no coordinates);
- c2 also holds condoms: 240 dispensed in w3; 120 dispensed and reversed in w3, 120 dispensed
  in w3 and reversed today (neither counts: the CYP report's rule).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from unittest import mock

import pytest
from django.core.cache import cache
from django.db.models import Sum
from django.utils import timezone

from alokon.models import Role
from inventory.models import (
    LedgerEntry,
    Level,
    Location,
    Movement,
    MovementKind,
    Product,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    StockPolicy,
)
from inventory.selectors.stock import consumption_window
from inventory.services.ledger_check import ledger_check
from inventory.services.posting import movement_reverse
from inventory.services.receipts import in_transit_by_lot
from reports.selectors import map_data as md
from reports.views_map import last_complete_month
from tests.factories import LocationFactory, LotFactory, UserFactory
from tests.reports.test_indicators import dispense, receive, ship, stock

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

URL = "/reports/map/"
DATA = "/reports/map/data.json"
TWO = Decimal("0.01")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def days():
    today = timezone.localdate()
    start, end = consumption_window(today)
    w2 = (start + dt.timedelta(days=32)).replace(day=1)
    w3 = (w2 + dt.timedelta(days=32)).replace(day=1)
    return start, w2, w3, end, today


@pytest.fixture
def history(tree, make_user):
    w1, w2, w3, _end, today = days()
    pill = Product.objects.get(code="PIL-KOMB")
    condom = Product.objects.get(code="KONDOM")
    pk = LotFactory(product=pill, batch="PK-MAP", expiry=today + dt.timedelta(days=900))
    kd = LotFactory(product=condom, batch="KD-MAP", expiry=today + dt.timedelta(days=900))
    palu, sigi = tree["palu"], tree["sigi"]
    c4 = LocationFactory(code="72.71-003", name="Puskesmas Birobuli", parent=palu, clinic_kind="puskesmas")
    c5 = LocationFactory(code="72.71-004", name="Klinik Kasih Ibu", parent=palu, clinic_kind="klinik")
    clinics = {"c1": tree["c1"], "c2": tree["c2"], "c3": tree["c3"], "c4": c4, "c5": c5}
    for key, lat, lon in [("c1", "-0.87", "119.89"), ("c2", "-0.90", "119.86"), ("c3", "-1.02", "119.95")]:
        Location.objects.filter(pk=clinics[key].pk).update(latitude=Decimal(lat), longitude=Decimal(lon))
    Location.objects.filter(pk=c4.pk).update(latitude=Decimal("-0.93"), longitude=Decimal("119.88"))
    for key in clinics:
        clinics[key].refresh_from_db()

    users = {
        "prov": make_user("gudang72", tree["prov"], role=Role.MANAGER),
        "palu": make_user("gudang7271", palu),
        "sigi": make_user("gudang7210", sigi),
        "national": make_user("pusat", tree["national"], role=Role.MANAGER),
        "root": UserFactory(username="root", location=None, is_superuser=True),
    }
    before = w1 - dt.timedelta(days=10)
    stock(tree["prov"], pk, 10_000, before)
    stock(clinics["c2"], kd, 500, before)

    s_palu = ship(tree["prov"], palu, pill, 1_200, w1, users["prov"])
    receive(s_palu, pk, 1_200, w1, users["palu"])
    s_sigi = ship(tree["prov"], sigi, pill, 300, w1, users["prov"])
    receive(s_sigi, pk, 300, w1, users["sigi"])
    s_palu_part = ship(tree["prov"], palu, pill, 100, w1 + dt.timedelta(days=2), users["prov"])
    receive(s_palu_part, pk, 60, w1 + dt.timedelta(days=2), users["palu"])
    s_sigi_road = ship(tree["prov"], sigi, pill, 50, w1 + dt.timedelta(days=2), users["prov"])

    for key, quantity, day in [("c1", 30, 1), ("c4", 20, 1), ("c2", 90, 3)]:
        s = ship(palu, clinics[key], pill, quantity, w1 + dt.timedelta(days=day), users["palu"])
        receive(s, pk, quantity, w1 + dt.timedelta(days=day), users["root"])
    s = ship(sigi, clinics["c3"], pill, 100, w1 + dt.timedelta(days=1), users["sigi"])
    receive(s, pk, 100, w1 + dt.timedelta(days=1), users["root"])

    dispense(clinics["c1"], pk, 10, w2 + dt.timedelta(days=4))
    dispense(clinics["c1"], pk, 20, today)
    for month in (w1, w2, w3):
        dispense(clinics["c2"], pk, 20, month + dt.timedelta(days=5))
        dispense(clinics["c3"], pk, 10, month + dt.timedelta(days=5))
    dispense(clinics["c2"], kd, 240, w3 + dt.timedelta(days=6))
    dispense(clinics["c2"], kd, 120, w3 + dt.timedelta(days=7))
    mistake = Movement.objects.filter(kind=MovementKind.DISPENSING).order_by("-id").first()
    movement_reverse(movement=mistake, actor=None, business_date=w3 + dt.timedelta(days=8))
    dispense(clinics["c2"], kd, 120, w3 + dt.timedelta(days=9))  # reversed only today, after the period
    late = Movement.objects.filter(kind=MovementKind.DISPENSING).order_by("-id").first()
    movement_reverse(movement=late, actor=None, business_date=today)
    dispense(clinics["c2"], kd, 60, w2 + dt.timedelta(days=1))  # before the period

    assert ledger_check().ok
    assert Shipment.objects.get(pk=s_palu_part.pk).status == ShipmentStatus.PARTIALLY_RECEIVED
    assert Shipment.objects.get(pk=s_sigi_road.pk).status == ShipmentStatus.DISPATCHED
    return {**tree, **clinics, "users": users, "pill": pill, "condom": condom}


# --- the figures, computed here -------------------------------------------------------------


def soh(location, product):
    return LedgerEntry.objects.filter(location=location, product=product).aggregate(q=Sum("quantity"))["q"] or 0


def consumption(location, product):
    """Units consumed in the window: dispensed (clinics), issued down the subtree (warehouses)."""
    start, end = consumption_window(timezone.localdate())
    entries = LedgerEntry.objects.filter(
        location=location, product=product, quantity__lt=0, business_date__gte=start, business_date__lt=end
    )
    total = 0
    for entry in entries.select_related("movement"):
        if entry.kind == MovementKind.DISPENSING:
            total -= entry.quantity
        elif entry.kind == MovementKind.DISPATCH:
            shipment = Shipment.objects.get(dispatch_movement=entry.movement)
            if shipment.destination.is_within(location) and shipment.dispatch_date >= start:
                total -= entry.quantity
    return total


def expected_row(location, product):
    """(soh, AMC, MOS, status) with the rules of the indicators, for a history without stockout days."""
    policy = StockPolicy.objects.get(level=location.level, location=None)
    on_hand = soh(location, product)
    held = LedgerEntry.objects.filter(location=location, product=product).exists()
    amc = (Decimal(consumption(location, product)) / 3).quantize(TWO, rounding=ROUND_HALF_UP)
    mos = (Decimal(on_hand) / amc).quantize(TWO, rounding=ROUND_HALF_UP) if amc > 0 else None
    if on_hand == 0:
        status = "stocked_out" if held else "not_stocked"
    elif mos is None:
        status = "unknown"
    elif mos < policy.emergency_months:
        status = "emergency"
    elif mos < policy.min_months:
        status = "below_min"
    elif mos > policy.max_months:
        status = "above_max"
    else:
        status = "within"
    return on_hand, amc, mos, status


def clinics_under(unit):
    return Location.objects.filter(level=Level.CLINIC, path__startswith=unit.path, is_active=True)


def expected_shares(unit, product):
    statuses = [expected_row(clinic, product)[3] for clinic in clinics_under(unit)]
    held = [s for s in statuses if s != "not_stocked"]
    judged = [s for s in held if s != "unknown"]

    def pct(part, whole):
        return float((Decimal(100 * part) / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)) if whole else None

    return pct(held.count("stocked_out"), len(held)), pct(judged.count("within"), len(judged))


def expected_cyp(unit, start, end):
    """CYP by the CYP report's rule: dispensing at the unit's clinics in the period, a reversed one not counted."""
    total = Decimal(0)
    entries = LedgerEntry.objects.filter(
        location__path__startswith=unit.path,
        location__level=Level.CLINIC,
        kind=MovementKind.DISPENSING,
        business_date__gte=start,
        business_date__lte=end,
    ).select_related("movement", "product")
    for entry in entries:
        if not Movement.objects.filter(reverses=entry.movement).exists():
            total += -entry.quantity * entry.product.cyp_factor
    return float(total.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def expected_flows(nodes, product, start, end):
    """(origin code, destination code) → [shipments, quantity, in transit, shipments in transit]."""
    routes = defaultdict(lambda: [0, 0, 0, 0])
    for s in Shipment.objects.exclude(status=ShipmentStatus.DRAFT).select_related("origin", "destination"):
        if s.origin.code not in nodes or s.destination.code not in nodes or not (start <= s.dispatch_date <= end):
            continue
        lines = ShipmentLine.objects.filter(shipment=s, product=product)
        if not lines.exists():
            continue
        route = routes[(s.origin.code, s.destination.code)]
        route[0] += 1
        route[1] += sum(line.quantity for line in lines)
        lots = set(lines.values_list("lot_id", flat=True))
        transit = sum(q for lot, q in in_transit_by_lot(s).items() if lot in lots)
        route[2] += transit
        route[3] += 1 if transit > 0 else 0
    return dict(routes)


def get_data(client, user, **params):
    client.force_login(user)
    response = client.get(DATA, params)
    assert response.status_code == 200, response.content
    return response.json()


def by_code(items):
    return {item["code"]: item for item in items}


# --- figures ---------------------------------------------------------------------------------


def test_months_of_stock_of_each_district_warehouse(client, history):
    data = get_data(client, history["users"]["prov"], product="PIL-KOMB", indicator="mos")
    assert data["area"]["code"] == "72" and data["layer"] == "district"
    units = by_code(data["units"])
    assert set(units) == {"72.71", "72.10"}
    for code in units:
        location = Location.objects.get(code=code)
        on_hand, amc, mos, status = expected_row(location, history["pill"])
        assert units[code]["value"] == float(mos), code
        assert f"Stock {on_hand:,}" in units[code]["detail"]
    # Palu: 1,200 + 60 received − 140 issued = 1,120; issues 140 in the window: AMC 46.67.
    assert expected_row(history["palu"], history["pill"])[:2] == (1_120, Decimal("46.67"))
    # Shapes: the BPS codes of Kota Palu and Sigi, from Sulawesi Tengah's file.
    assert (units["72.71"]["feature"], units["72.10"]["feature"]) == ("7271", "7210")
    assert len(data["geo"]) == 1 and "alokon/geo/districts-72" in data["geo"][0]
    # The MOS colour bands are the district policy (emergency 1, min 2, max 4), up to twice the max.
    assert data["scale"]["tickvals"] == [0, 1.0, 2.0, 4.0, 8.0]


def test_shares_of_clinics_stocked_out_and_within_plan(client, history):
    user = history["users"]["prov"]
    stocked_out = by_code(get_data(client, user, product="PIL-KOMB", indicator="stocked_out")["units"])
    within = by_code(get_data(client, user, product="PIL-KOMB", indicator="within_plan")["units"])
    for code in ("72.71", "72.10"):
        expected_out, expected_within = expected_shares(Location.objects.get(code=code), history["pill"])
        assert stocked_out[code]["value"] == expected_out
        assert within[code]["value"] == expected_within
    # Palu: c1 out, c2 within, c4 stock without consumption, c5 never held it:
    # out 1 of 3 (33.3 %), within 1 of 2 (50 %). Sigi: c3 above max: 0 % and 0 %.
    assert (stocked_out["72.71"]["value"], within["72.71"]["value"]) == (33.3, 50.0)
    assert (stocked_out["72.10"]["value"], within["72.10"]["value"]) == (0.0, 0.0)
    assert stocked_out["72.71"]["detail"] == "1 of 3 clinics stocked out"
    assert within["72.71"]["detail"] == "1 of 2 clinics within plan"


def test_cyp_of_the_default_period_all_methods_without_reversed_dispensings(client, history):
    w1, w2, w3, end, today = days()
    period = last_complete_month(today)
    assert period == (w3, end - dt.timedelta(days=1))
    data = get_data(client, history["users"]["prov"], indicator="cyp")
    assert data["period"] == {"from": period[0].isoformat(), "to": period[1].isoformat()}
    units = by_code(data["units"])
    for code in ("72.71", "72.10"):
        assert units[code]["value"] == expected_cyp(Location.objects.get(code=code), *period)
    # Palu: c2's 20 cycles (÷ 15) and 240 condoms (÷ 120), both reversed 120s left out: 3.3.
    # Sigi: c3's 10 cycles: 0.7.
    assert (units["72.71"]["value"], units["72.10"]["value"]) == (3.3, 0.7)
    # A national view adds the same up per province.
    national = by_code(get_data(client, history["users"]["national"], indicator="cyp")["units"])
    assert national["72"]["value"] == expected_cyp(history["prov"], *period) == 4.0
    assert national["73"]["value"] == 0.0


def test_clinic_markers_with_stock_amc_mos_status_and_last_receipt(client, history):
    data = get_data(client, history["users"]["prov"], product="PIL-KOMB")
    clinics = by_code(data["clinics"])
    assert set(clinics) == {"72.71-001", "72.71-002", "72.71-003", "72.71-004", "72.10-001"}
    for code, marker in clinics.items():
        location = Location.objects.get(code=code)
        on_hand, amc, mos, status = expected_row(location, history["pill"])
        assert (marker["soh"], marker["status"]) == (on_hand, status), code
        assert marker["amc"] == (float(amc) if amc is not None else None), code
        assert marker["mos"] == (float(mos) if mos is not None else None), code
        receipts = LedgerEntry.objects.filter(
            location=location, product=history["pill"], kind=MovementKind.RECEIPT, quantity__gt=0
        )
        last = max((e.business_date for e in receipts), default=None)
        assert marker["last_receipt"] == (last.isoformat() if last else None), code
        if location.latitude is None:
            assert (marker["lon"], marker["lat"]) == (None, None)
        else:
            assert (marker["lon"], marker["lat"]) == (float(location.longitude), float(location.latitude))
    statuses = {code: m["status"] for code, m in clinics.items()}
    assert statuses == {
        "72.71-001": "stocked_out",
        "72.71-002": "within",
        "72.71-003": "unknown",
        "72.71-004": "not_stocked",
        "72.10-001": "above_max",
    }
    assert clinics["72.71-002"]["last_receipt"] == (days()[0] + dt.timedelta(days=3)).isoformat()
    assert data["missing"] == {"units": 0, "clinics": 1, "flows": 0}  # c5 has no coordinates
    assert {s["key"] for s in data["statuses"]} == set(statuses.values())


def test_flows_per_route_with_what_is_still_in_transit(client, history):
    w1, *_rest = days()
    start, end = w1, w1 + dt.timedelta(days=5)
    params = {"product": "PIL-KOMB", "from": start.isoformat(), "to": end.isoformat()}
    data = get_data(client, history["users"]["prov"], **params)
    got = {
        (f["origin"], f["destination"]): [f["shipments"], f["quantity"], f["in_transit"], f["in_transit_shipments"]]
        for f in data["flows"]
    }
    # The province view: the parent (00), the province and its districts; not the clinics.
    assert got == expected_flows({"00", "72", "72.71", "72.10"}, history["pill"], start, end)
    assert got == {("72", "72.71"): [2, 1_300, 40, 1], ("72", "72.10"): [2, 350, 50, 1]}
    flow = next(f for f in data["flows"] if f["destination"] == "72.10")
    # Ends: the districts have no coordinates: the points inside their shapes.
    feature = md.feature_for(history["sigi"])
    assert flow["end"] == [feature.lon, feature.lat]
    province = md.feature_for(history["prov"])
    assert flow["start"] == [province.lon, province.lat]

    # A district's view: its supply from the province and its clinics' from it.
    palu = get_data(client, history["users"]["palu"], **params)
    got = {
        (f["origin"], f["destination"]): [f["shipments"], f["quantity"], f["in_transit"], f["in_transit_shipments"]]
        for f in palu["flows"]
    }
    nodes = {"72", "72.71"} | set(clinics_under(history["palu"]).values_list("code", flat=True))
    assert got == expected_flows(nodes, history["pill"], start, end)
    assert set(got) == {("72", "72.71"), ("72.71", "72.71-001"), ("72.71", "72.71-002"), ("72.71", "72.71-003")}

    # Outside the period: nothing.
    assert get_data(client, history["users"]["prov"], product="PIL-KOMB")["flows"] == []


def test_a_national_view_shows_provinces_with_clinic_shares_cached_for_a_while(client, history):
    national = history["users"]["national"]
    data = get_data(client, national, product="PIL-KOMB", indicator="stocked_out")
    assert (data["area"]["code"], data["layer"]) == ("00", "province")
    units = by_code(data["units"])
    assert set(units) == {"72", "73"}
    assert (units["72"]["feature"], units["73"]["feature"]) == ("72", "73")
    assert data["geo"] == [data["geo"][0]] and "alokon/geo/provinces" in data["geo"][0]
    assert data["clinics"] == []  # a national view draws provinces; clinics from a province down
    # 72: c1 out of c1, c2, c3, c4 (c5 never held it): 25 %. 73 has no clinics: no data.
    assert units["72"]["value"] == expected_shares(history["prov"], history["pill"])[0] == 25.0
    assert units["73"]["value"] is None and units["73"]["value_text"] == "no data"
    assert units["72"]["url"] == (
        f"?area=72&product=PIL-KOMB&indicator=stocked_out&from={data['period']['from']}&to={data['period']['to']}"
    )

    # Every clinic of the country is one statement of seconds at national scale: the counts
    # are kept for NATIONAL_CACHE_SECONDS, and a second request does not compute them again.
    with mock.patch.object(md, "stock_indicators", wraps=md.stock_indicators) as computed:
        again = get_data(client, national, product="PIL-KOMB", indicator="within_plan")
    clinic_calls = [c for c in computed.call_args_list if len(c.args[0]) > 2]
    assert clinic_calls == []
    assert by_code(again["units"])["72"]["value"] == expected_shares(history["prov"], history["pill"])[1] == 33.3


def test_an_unscoped_superuser_starts_at_the_national_level(client, history):
    data = get_data(client, history["users"]["root"])
    assert (data["area"]["code"], data["layer"]) == ("00", "province")


def test_a_district_user_sees_their_district_and_nothing_else(client, history):
    user = history["users"]["palu"]
    data = get_data(client, user, product="PIL-KOMB")
    assert data["area"]["code"] == "72.71"
    assert [u["code"] for u in data["units"]] == ["72.71"] and data["units"][0]["url"] is None
    assert {c["code"] for c in data["clinics"]} == {"72.71-001", "72.71-002", "72.71-003", "72.71-004"}

    client.force_login(user)
    for area in ("72.10", "72", "00", "73.71", "72.10-001", "~TRANSIT", "nope"):
        response = client.get(DATA, {"area": area})
        assert response.status_code == 404, area
        assert response.json() == {"detail": f"Location {area} was not found."}
        page = client.get(URL, {"area": area})
        assert page.status_code == 404, area
        assert f"Location {area} was not found." in page.content.decode()
        assert "map-data" not in page.content.decode()
    # Their own clinic is fine: its marker alone.
    clinic = client.get(DATA, {"area": "72.71-002"}).json()
    assert clinic["units"] == [] and [c["code"] for c in clinic["clinics"]] == ["72.71-002"]


def test_a_province_user_cannot_open_another_province_or_the_country(client, history):
    client.force_login(history["users"]["prov"])
    for area in ("73", "73.71", "00"):
        assert client.get(DATA, {"area": area}).status_code == 404
    assert client.get(DATA, {"area": "72.10"}).json()["area"]["code"] == "72.10"


def test_a_user_without_a_location_is_refused(client, db, tree):
    client.force_login(UserFactory(username="nowhere", location=None))
    assert client.get(URL).status_code == 403
    assert client.get(DATA).status_code == 403


def test_anonymous_users_are_sent_to_log_in(client, tree):
    response = client.get(DATA)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"product": "NOPE"}, "product", "Select a valid choice"),
        ({"indicator": "colour"}, "indicator", "Select a valid choice"),
        ({"from": "30/11/2026"}, "from", "Enter a valid date"),
        ({"from": "2026-11-10", "to": "2026-11-01"}, "__all__", "The start date must not be after the end date."),
    ],
)
def test_bad_filters_are_a_400_with_the_message(client, history, params, field, message):
    client.force_login(history["users"]["prov"])
    response = client.get(DATA, params)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert message in errors[field][0]["message"]
    page = client.get(URL, params)
    assert page.status_code == 400
    assert message in page.content.decode() and "map-data" not in page.content.decode()


def test_the_page_embeds_the_payload_with_the_offline_assets(client, history):
    client.force_login(history["users"]["prov"])
    response = client.get(URL, {"product": "PIL-KOMB"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/vendor/plotly/plotly-geo.min.js" in html and "/static/alokon/map.js" in html
    assert "cdn" not in html.lower() and "https://" not in html
    assert md.ATTRIBUTION in html
    payload = json.loads(html.split('<script id="map-data" type="application/json">')[1].split("</script>")[0])
    assert payload == get_data(client, history["users"]["prov"], product="PIL-KOMB") | {
        "stock_as_of": payload["stock_as_of"]
    }
    # The tables hold the same figures: each district with its value and a link to its map.
    assert "?area=72.71&amp;product=PIL-KOMB&amp;indicator=mos" in html
    assert "Kota Palu" in html and "Months of stock" in html
    # The clinic table appears from the district down.
    client.force_login(history["users"]["palu"])
    district = client.get(URL, {"product": "PIL-KOMB"}).content.decode()
    assert "Puskesmas Talise" in district and "/locations/72.71-001/stock/" in district


def test_every_boundary_file_holds_the_features_the_index_points_to():
    from django.contrib.staticfiles import finders

    index = md._feature_index()
    features = {f for key, f in index.items() if key[0] == "bps"}
    assert sum(f.level == "province" for f in features) == 38
    assert sum(f.level == "district" for f in features) == 514
    by_file = defaultdict(set)
    for f in features:
        by_file[f.file].add(f.code)
    for name, codes in by_file.items():
        path = finders.find(md.STATIC_GEO + name)
        assert path, name
        with open(path, encoding="utf-8") as handle:
            collection = json.load(handle)
        assert {feature["id"] for feature in collection["features"]} == codes, name
    # Sulawesi Tengah's 13 districts, by their Kemendagri codes (the demo tree's).
    sulteng = [f for f in features if f.level == "district" and f.province_code == "72"]
    assert sorted(f.kemendagri_code for f in sulteng) == [f"72.{n:02d}" for n in range(1, 13)] + ["72.71"]
    # A location is joined by its BPS code when it has one (7201 is Banggai Kepulauan, 72.07).
    district = Location(code="72.01", bps_code="7201", level=Level.DISTRICT)
    assert md.feature_for(district).name == "Banggai Kepulauan"
    district.bps_code = ""
    assert md.feature_for(district).name == "Banggai"


def test_the_data_is_gzipped_for_a_browser_that_accepts_it(client, history):
    client.force_login(history["users"]["prov"])
    response = client.get(DATA, {"product": "PIL-KOMB"}, HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(response.content))
    plain = client.get(DATA, {"product": "PIL-KOMB"}).json()
    assert body | {"stock_as_of": None} == plain | {"stock_as_of": None}
