"""The field worker's page: per clinic of the district, the products stocked out, below the
emergency order point or below minimum with their months of stock (checked against stock
and consumption summed here from the ledger), and the dropout-risk list; scoped; no script;
a busy district's page stays under 100 KB; the query count does not grow with the clinics.

How the bytes are measured: on a repeat visit the browser has the stylesheet cached
(WhiteNoise serves static files under hashed names with a one-year ``Cache-Control``),
so only the HTML travels. The test counts the HTML as the server sends it, uncompressed
(no compression is assumed), and checks that the page loads no other asset than
``alokon.css`` (no script, no image, no other stylesheet), so the first visit is that
HTML plus the stylesheet.
"""

from __future__ import annotations

import datetime as dt
import gzip
import math
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alokon.models import Role
from inventory.models import LedgerEntry, Level, Location, MovementKind, StockBalance, StockPolicy
from inventory.services.opening import opening_balance_post
from inventory.services.posting import EntrySpec, movement_post, virtual_location
from inventory.services.service_figures import add_months
from reports.models import Alert, AlertKind, AlertStatus, Severity
from tests.browser_fixtures import browser_login
from tests.factories import LocationFactory, LotFactory
from tests.reports.alert_rows import make_alert

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

TODAY = timezone.localdate()
THIS_MONTH = TODAY.replace(day=1)
M1, M2, M3, M4 = (add_months(THIS_MONTH, -n) for n in (1, 2, 3, 4))
URL = "/reports/field/"
LIMIT = 100_000  # bytes


def dispense(clinic, lots_quantities, day, document):
    """A dispensing movement (clinic → dispensed), as the dispensing service posts it."""
    dispensed = virtual_location("dispensed")
    entries = []
    for lot, quantity in lots_quantities:
        entries += [
            EntrySpec(location=clinic, lot=lot, quantity=-quantity),
            EntrySpec(location=dispensed, lot=lot, quantity=quantity),
        ]
    movement_post(kind=MovementKind.DISPENSING, entries=entries, business_date=day, document=document)


@pytest.fixture
def world(tree, products, make_user):
    """Palu's clinics (the clinic policy: emergency 0.5, minimum 1, maximum 3 months):

    - c1: PIL-KOMB 200 opened, 60 dispensed in each of the last 3 months → 20 left, MOS 0.33
      (emergency); IUD 5 opened and 5 dispensed → stocked out;
    - c2: PIL-PROG 110 opened, 30 a month → 20 left, MOS 0.67 (below minimum); KONDOM 1000,
      100 a month → 700, MOS 7 (above maximum: not listed); a dropout-risk alert for KONDOM;
    - an inactive clinic with a stockout (not listed); Sigi's clinic with a stockout (not Palu's).
    """
    lots = {
        code: LotFactory(product=products[code], batch=f"{code}-F", expiry=TODAY + dt.timedelta(days=700))
        for code in ("PIL-KOMB", "PIL-PROG", "IUD", "KONDOM")
    }
    closed = LocationFactory(code="72.71-009", name="Puskesmas Tutup", parent=tree["palu"])
    opening_balance_post(location=tree["c1"], lines=[(lots["PIL-KOMB"], 200), (lots["IUD"], 5)], business_date=M4)
    opening_balance_post(location=tree["c2"], lines=[(lots["PIL-PROG"], 110), (lots["KONDOM"], 1000)], business_date=M4)
    for place in (closed, tree["c3"]):
        opening_balance_post(location=place, lines=[(lots["IUD"], 5)], business_date=M4)
        dispense(place, [(lots["IUD"], 5)], M2, f"DSP-{place.code}-1")
    Location.objects.filter(pk=closed.pk).update(is_active=False)  # closed after it ran out
    for n, month in enumerate((M3, M2, M1)):
        dispense(tree["c1"], [(lots["PIL-KOMB"], 60)], month, f"DSP-c1-{n}")
        dispense(tree["c2"], [(lots["PIL-PROG"], 30), (lots["KONDOM"], 100)], month, f"DSP-c2-{n}")
    dispense(tree["c1"], [(lots["IUD"], 5)], M1 + dt.timedelta(days=5), "DSP-c1-iud")
    make_alert(
        tree["c2"],
        AlertKind.DROPOUT_RISK,
        "KONDOM",
        severity=Severity.WARNING,
        quantity=12,
        figures={"rule": "falling_dispensing", "active_users": 40, "users_at_risk": 12},
    )
    make_alert(
        tree["c3"],
        AlertKind.DROPOUT_RISK,
        "KONDOM",
        quantity=99,
        figures={"rule": "stock_gap", "users_at_risk": 99, "stock_days": 1.0},
    )
    users = {
        "palu": make_user("plkb7271", tree["palu"], role=Role.FIELD),
        "prov": make_user("kabid72", tree["prov"], role=Role.MANAGER),
        "c2": make_user("faskes7271-002", tree["c2"]),
        "other": make_user("plkb7371", tree["other_district"], role=Role.FIELD),
        "nobody": make_user("nobody", None, role=Role.FIELD),
    }
    return {**tree, "lots": lots, "users": users, "closed": closed}


def expected_problems(clinic) -> list[tuple[str, str, Decimal | None]]:
    """(product, status, MOS) of the products the page must list, from the ledger: stock on
    hand from the balances, consumption = units dispensed in the last 3 complete months
    (no stockout adjustment is needed: these clinics never ran dry before the last day)."""
    policy = StockPolicy.objects.get(level=Level.CLINIC, location=None)
    result = []
    held = StockBalance.objects.filter(location=clinic).values_list("product__code").annotate(q=Sum("quantity"))
    for code, soh in held:
        used = -(
            LedgerEntry.objects.filter(
                location=clinic,
                product__code=code,
                kind=MovementKind.DISPENSING,
                business_date__gte=M3,
                business_date__lt=THIS_MONTH,
            ).aggregate(q=Sum("quantity"))["q"]
            or 0
        )
        mos = (Decimal(soh) / (Decimal(used) / 3)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if used else None
        if soh == 0:
            result.append((code, "Stocked out", mos))
        elif mos < policy.emergency_months:
            result.append((code, "Below emergency order point", mos))
        elif mos < policy.min_months:
            result.append((code, "Below minimum", mos))
    order = {"Stocked out": 0, "Below emergency order point": 1, "Below minimum": 2}
    return sorted(result, key=lambda r: (order[r[1]], r[0]))


def cards(html: str) -> list[str]:
    return re.findall(r'<section class="card">(.*?)</section>', html, flags=re.S)


def test_clinics_with_problems_first_and_their_figures(client, world):
    client.force_login(world["users"]["palu"])
    response = client.get(URL)
    assert response.status_code == 200
    overview = response.context["overview"]
    assert [item.clinic.code for item in overview.clinics] == ["72.71-001", "72.71-002"]
    for item in overview.clinics:
        got = [(row.product.code, str(row.status_label), row.mos) for row in item.problems]
        assert got == expected_problems(item.clinic)
    assert expected_problems(world["c1"]) == [
        ("IUD", "Stocked out", Decimal("0.00")),
        ("PIL-KOMB", "Below emergency order point", Decimal("0.33")),
    ]
    assert expected_problems(world["c2"]) == [("PIL-PROG", "Below minimum", Decimal("0.67"))]
    html = response.content.decode()
    first, second = cards(html)
    assert "Puskesmas Talise" in first and "IUD" in first and "Stocked out" in first
    assert "PIL-KOMB" in first and "MOS 0.3" in first and "Below emergency order point" in first
    assert "Puskesmas Kamonji" in second and "PIL-PROG" in second and "MOS 0.7" in second
    assert "KONDOM: 12 users at risk" in second and "Users are not coming back" in second
    assert "KONDOM</span>" not in second  # above maximum: nothing to report
    # not shown: the inactive clinic, Sigi's clinic and its alert
    assert "Puskesmas Tutup" not in html and "Biromaru" not in html and "99 users" not in html
    # light: no script at all, no chart
    assert "<script" not in html and "plotly" not in html


def test_clinics_with_nothing_to_report_are_only_named(client, world):
    # A new clinic in Palu with plenty of stock and no consumption.
    LocationFactory(code="72.71-003", name="Klinik Sehat", parent=world["palu"], clinic_kind="klinik")
    client.force_login(world["users"]["palu"])
    response = client.get(URL)
    assert [c.code for c in response.context["overview"].fine] == ["72.71-003"]
    html = response.content.decode()
    assert "Nothing to report:" in html and "Klinik Sehat" in html
    assert len(cards(html)) == 2


def test_scope_and_choosing_a_district(client, world):
    # Another district by code: "not found", like every location outside the scope.
    client.force_login(world["users"]["palu"])
    assert client.get(URL, {"district": "72.10"}).status_code == 404
    assert client.get(URL, {"district": "73.71"}).status_code == 404
    # A clinic inside the district: that clinic only.
    response = client.get(URL, {"district": "72.71-002"})
    assert [item.clinic.code for item in response.context["overview"].clinics] == ["72.71-002"]
    # A clinic's own staff: their clinic.
    client.force_login(world["users"]["c2"])
    assert [item.clinic.code for item in client.get(URL).context["overview"].clinics] == ["72.71-002"]
    # A province manager picks one of the province's districts first.
    client.force_login(world["users"]["prov"])
    response = client.get(URL)
    assert "overview" not in response.context
    assert [d.code for d in response.context["districts"]] == ["72.71", "72.10"]  # by name: Kota Palu, Sigi
    assert 'href="?district=72.10"' in response.content.decode()
    response = client.get(URL, {"district": "72.10"})
    assert [item.clinic.code for item in response.context["overview"].clinics] == ["72.10-001"]
    assert "99 users at risk" in response.content.decode()
    # The other province's field worker sees none of 72.
    client.force_login(world["users"]["other"])
    response = client.get(URL)
    assert response.context["overview"].clinics == []
    assert "No clinic here is short of stock" in response.content.decode()
    # No location: refused.
    client.force_login(world["users"]["nobody"])
    assert client.get(URL).status_code == 403


def test_home_page_links_to_the_field_page(client, world):
    client.force_login(world["users"]["palu"])
    assert 'href="/reports/field/"' in client.get("/").content.decode()


def non_probe_queries(captured) -> list[str]:
    """The statements, without the binary search for the indicator window's first ledger id
    (``window_first_entry_id``: about log2(entries) one-row probes)."""
    return [q["sql"] for q in captured if "ORDER BY id LIMIT 1" not in q["sql"] and "min(id), max(id)" not in q["sql"]]


# --- a busy district: bytes and queries -----------------------------------------------------


@pytest.fixture
def busy(world, products, make_user):
    """Kabupaten Sibuk: 80 clinics (twice the national average of ~40 a district), each with
    three products in trouble (one stocked out, one below the emergency point, one below
    minimum) and two methods at dropout risk."""
    district = LocationFactory(code="72.99", name="Kabupaten Sibuk", level=Level.DISTRICT, parent=world["prov"])
    lots = [world["lots"][code] for code in ("IUD", "PIL-KOMB", "PIL-PROG")]
    clinics = []
    for n in range(1, 81):
        clinic = LocationFactory(
            code=f"72.99-{n:03d}",
            name=f"Puskesmas Kecamatan Sibuk Nomor {n}",
            parent=district,
            clinic_kind="puskesmas",
        )
        clinics.append(clinic)
        opening_balance_post(location=clinic, lines=[(lots[0], 10), (lots[1], 100), (lots[2], 110)], business_date=M4)
        dispense(clinic, [(lots[0], 10), (lots[1], 90), (lots[2], 90)], M1, f"DSP-{clinic.code}")
    Alert.objects.bulk_create(
        Alert(
            kind=AlertKind.DROPOUT_RISK,
            location=clinic,
            product=products[code],
            severity=Severity.CRITICAL if rule == "stock_gap" else Severity.WARNING,
            status=AlertStatus.OPEN,
            quantity=users,
            figures={"rule": rule, "users_at_risk": users, "active_users": 60, "stock_days": 4.0},
        )
        for clinic in clinics
        for code, rule, users in (("PIL-KOMB", "stock_gap", 25), ("SUNTIK-3", "falling_dispensing", 18))
    )
    worker = make_user("plkb7299", district, role=Role.FIELD)
    return {"district": district, "clinics": clinics, "worker": worker}


def test_a_busy_district_page_is_under_100_kb(client, busy):
    client.force_login(busy["worker"])
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content
    overview = response.context["overview"]
    assert len(overview.clinics) == 80
    assert all(len(item.problems) == 3 and len(item.dropout.rows) == 2 for item in overview.clinics)
    assert [str(row.status_label) for row in overview.clinics[0].problems] == [
        "Stocked out",
        "Below emergency order point",
        "Below minimum",
    ]
    # Repeat visit: the HTML only, uncompressed.
    assert len(html) < LIMIT, len(html)
    # The only asset is the stylesheet (cached after the first visit); first visit: both.
    text = html.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', text)
    assert assets == [f"/{settings.STATIC_URL.strip('/')}/alokon/alokon.css"]
    assert "<script" not in text and "<img" not in text
    with open(finders.find("alokon/alokon.css"), "rb") as stylesheet:
        css = len(stylesheet.read())
    assert len(html) + css < LIMIT
    # for the record: what a gzip-compressing proxy would send
    assert len(gzip.compress(html)) < len(html) / 4


def test_queries_do_not_grow_with_the_clinics(client, world, busy):
    client.force_login(world["users"]["palu"])
    with CaptureQueriesContext(connection) as small:
        client.get(URL)
    client.force_login(busy["worker"])
    with CaptureQueriesContext(connection) as large:
        client.get(URL)
    assert len(non_probe_queries(large.captured_queries)) == len(non_probe_queries(small.captured_queries))
    assert len(non_probe_queries(large.captured_queries)) <= 20
    probes = len(large.captured_queries) - len(non_probe_queries(large.captured_queries))
    entries = LedgerEntry.objects.count()
    assert probes <= math.ceil(math.log2(entries)) + 2


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_page_fits_a_phone(live_server, world, page, artifacts, password):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    browser_login(page, live_server, "plkb7271", password, URL)
    body = page.locator("body").inner_text()
    assert "Puskesmas Talise" in body and "PIL-KOMB" in body and "KONDOM: 12" in body
    assert page.evaluate("document.documentElement.scrollWidth") <= 360 + 1  # no sideways scroll
    requests.clear()
    page.reload()
    # the document and the stylesheet, nothing else
    assert sorted(requests) == [f"{live_server.url}{URL}", f"{live_server.url}/static/alokon/alokon.css"]
    page.screenshot(path=str(artifacts / "field-72.71-phone.png"), full_page=True)
