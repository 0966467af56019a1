"""``seed_demo``: the Sulawesi Tengah demo tree, users and stock history, and that a second run changes nothing.

Seeding takes a few seconds, so it runs once for the whole module, inside one
transaction that is rolled back at the end (the ledger is append-only, so its rows
could not be deleted afterwards); each test runs in a savepoint within it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.test import override_settings
from django.utils import timezone

from inventory.demo import locations as demo_locations
from inventory.demo.figures import CLOSED_DISTRICT, FALLING, FIGURE_MONTHS, figure_months
from inventory.demo.stock import HISTORY_MONTHS, OPENING_DOCUMENT
from inventory.models import (
    ClinicKind,
    LedgerEntry,
    Level,
    Location,
    Lot,
    MonthClose,
    Movement,
    MovementKind,
    ServiceFigure,
    StockBalance,
)

pytestmark = pytest.mark.django_db

DEMO_PASSWORD = "demo-password-for-tests"
SHARED_CSV = Path(__file__).resolve().parents[2] / "inventory" / "demo" / "data" / "sulteng_districts.csv"

# (min lat, max lat, min lon, max lon) of each district, from the simplified
# boundaries in sulawesi_tengah_kabkota.geojson (BPS / OCHA ROAP via HDX, CC BY 3.0 IGO).
DISTRICT_BBOX = {
    "72.01": (-1.6167, -0.4806, 121.8425, 123.4587),
    "72.02": (-2.2390, -1.1085, 120.0980, 120.9619),
    "72.03": (-1.4525, 0.7504, 119.4470, 120.2031),
    "72.04": (0.5871, 1.3752, 120.1367, 121.1775),
    "72.05": (0.6762, 1.3119, 120.8423, 122.1955),
    "72.06": (-3.6407, -2.1484, 121.4382, 123.1828),
    "72.07": (-1.6483, -1.1490, 122.7859, 123.5598),
    "72.08": (-1.1869, 0.7087, 119.8999, 121.3516),
    "72.09": (-1.6242, -0.1217, 120.8888, 122.3928),
    "72.10": (-2.0554, -0.8678, 119.6479, 120.3576),
    "72.11": (-2.2415, -1.4773, 123.0486, 124.1815),
    "72.12": (-2.4106, -1.2828, 120.8298, 122.0637),
    "72.71": (-0.9442, -0.6348, 119.7597, 120.0389),
}

EXPECTED_USERS = {
    "admin": ("admin", "00"),
    "prov72": ("warehouse", "72"),
    "kab7271": ("warehouse", "72.71"),
    "kab7210": ("warehouse", "72.10"),
    "faskes7271": ("warehouse", "72.71-001"),
    "pkb7210": ("field", "72.10"),
    "manajer72": ("manager", "72"),
}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed once; yield the command's output; roll everything back after the module."""
    with django_db_blocker.unblock(), override_settings(ALOKON_DEMO_PASSWORD=DEMO_PASSWORD), transaction.atomic():
        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        # Fire the deferred "movement nets to zero" trigger now, as a commit would.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        yield out.getvalue()
        transaction.set_rollback(True)


def snapshot():
    return {
        "movements": Movement.objects.count(),
        "entries": LedgerEntry.objects.count(),
        "balances": sorted(StockBalance.objects.values_list("location_id", "lot_id", "quantity")),
        "lots": sorted(Lot.objects.values_list("product__code", "batch", "expiry")),
        "locations": sorted(Location.objects.values_list("code", "name", "parent__code", "latitude", "longitude")),
        "users": sorted(get_user_model().objects.values_list("username", "password", "role", "location__code")),
        "figures": sorted(
            ServiceFigure.objects.values_list("location__code", "month", "product__code", "active_users", "new_users")
        ),
        "closes": sorted(MonthClose.objects.values_list("location__code", "month")),
    }


def test_districts_have_the_csv_codes_and_bps_codes(seeded):
    with open(SHARED_CSV, newline="", encoding="utf-8") as f:
        expected = {row["code"]: (row["bps_code"], row["name"]) for row in csv.DictReader(f)}
    province = Location.objects.get(code="72")
    districts = Location.objects.filter(level=Level.DISTRICT, parent=province)
    assert {d.code: (d.bps_code, d.name) for d in districts} == expected
    assert len(expected) == 13
    assert Location.objects.get(code="72.01").bps_code == "7202"  # the codes differ: Banggai
    assert province.parent.code == "00" and province.level == Level.PROVINCE


def test_every_district_has_3_to_6_clinics_inside_its_bounding_box(seeded):
    for district in Location.objects.filter(level=Level.DISTRICT, parent__code="72"):
        clinics = list(district.children.order_by("code"))
        assert 3 <= len(clinics) <= 6, district.code
        assert [c.code for c in clinics] == [f"{district.code}-{i:03d}" for i in range(1, len(clinics) + 1)]
        low_lat, high_lat, low_lon, high_lon = DISTRICT_BBOX[district.code]
        for clinic in clinics:
            assert clinic.level == Level.CLINIC and clinic.clinic_kind in ClinicKind.values
            assert clinic.name.split()[0] in {"Puskesmas", "RSUD", "Klinik", "TPMB"}
            assert low_lat <= clinic.latitude <= high_lat, clinic.code
            assert low_lon <= clinic.longitude <= high_lon, clinic.code


def test_clinics_are_deterministic():
    for district in demo_locations.load_districts():
        assert demo_locations.plan_clinics(district) == demo_locations.plan_clinics(district)
    palu = next(d for d in demo_locations.load_districts() if d.code == "72.71")
    first = demo_locations.plan_clinics(palu)[0]
    assert (first.code, first.name) == ("72.71-001", "Puskesmas Talise")


def test_users_have_their_roles_locations_and_the_demo_password(seeded):
    User = get_user_model()
    for username, (role, code) in EXPECTED_USERS.items():
        user = User.objects.get(username=username)
        assert (user.role, user.location.code) == (role, code)
        assert authenticate(username=username, password=DEMO_PASSWORD) == user
        assert authenticate(username=username, password="alokon-demo") is None
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert not User.objects.get(username="prov72").is_superuser
    assert "faskes7271" in seeded and DEMO_PASSWORD in seeded


def test_every_clinic_dispensed_in_at_least_six_months(seeded):
    months = (
        LedgerEntry.objects.filter(kind=MovementKind.DISPENSING, quantity__lt=0)
        .annotate(month=TruncMonth("business_date"))
        .values("location__code")
        .annotate(months=Count("month", distinct=True))
    )
    by_clinic = {row["location__code"]: row["months"] for row in months}
    clinics = set(Location.objects.filter(level=Level.CLINIC, path__startswith="00/72/").values_list("code", flat=True))
    assert set(by_clinic) == clinics
    assert min(by_clinic.values()) >= 6
    assert HISTORY_MONTHS >= 6


def test_balances_equal_their_entries_and_none_is_negative(seeded):
    assert not StockBalance.objects.filter(quantity__lt=0).exists()
    sums = {
        (row["location_id"], row["lot_id"]): row["total"]
        for row in LedgerEntry.objects.filter(balance_after__isnull=False)
        .values("location_id", "lot_id")
        .annotate(total=Sum("quantity"))
    }
    balances = {(b.location_id, b.lot_id): b.quantity for b in StockBalance.objects.all()}
    assert balances and balances == sums
    # The balance after the last entry of each (location, lot) is the balance.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM inventory_stockbalance b
              JOIN LATERAL (SELECT balance_after FROM inventory_ledgerentry e
                             WHERE e.location_id = b.location_id AND e.lot_id = b.lot_id
                             ORDER BY e.id DESC LIMIT 1) last ON true
             WHERE last.balance_after <> b.quantity
            """
        )
        assert cursor.fetchone()[0] == 0


def test_history_is_in_the_past_and_documents_follow_the_voucher_formats(seeded):
    today = timezone.localdate()
    assert not Movement.objects.filter(business_date__gt=today).exists()
    opening = Movement.objects.get(document=OPENING_DOCUMENT)
    assert opening.kind == MovementKind.OPENING
    assert opening.business_date <= today - dt.timedelta(days=30 * HISTORY_MONTHS - 31)
    patterns = {
        MovementKind.DISPATCH: r"SBBK-72(\.\d\d)?-\d{4}-\d{6}",
        MovementKind.RECEIPT: r"SBBM-72(\.\d\d(-\d{3})?)?-\d{4}-\d{6}",
        MovementKind.DISPENSING: r"PEMAKAIAN-72\.\d\d-\d{3}-\d{6}",
    }
    for kind, pattern in patterns.items():
        documents = list(Movement.objects.filter(kind=kind).values_list("document", flat=True))
        assert documents and all(re.fullmatch(pattern, d) for d in documents), kind
    assert Movement.objects.filter(document=f"SBBK-72-{opening.business_date.year}-000001").exists()
    assert Movement.objects.count() < 5000


def test_stock_varies_from_stockout_to_well_stocked(seeded):
    def on_hand(code, product):
        total = StockBalance.objects.filter(location__code=code, product__code=product).aggregate(q=Sum("quantity"))
        return total["q"] or 0

    # A clinic in pkb7210's district missed its last resupplies of two short-acting methods.
    assert on_hand("72.10-001", "SUNTIK-3") == 0
    assert on_hand("72.10-001", "PIL-KOMB") == 0
    # faskes7271's clinic holds every method it uses.
    used = set(
        LedgerEntry.objects.filter(location__code="72.71-001", kind=MovementKind.DISPENSING).values_list(
            "product__code", flat=True
        )
    )
    assert used and all(on_hand("72.71-001", product) > 0 for product in used)


def test_lots_expire_realistically(seeded):
    today = timezone.localdate()
    held = StockBalance.objects.filter(quantity__gt=0)
    expired = held.filter(lot__expiry__lt=today)
    assert expired.count() == 1 and expired.get().location.code == "72"
    assert held.filter(lot__expiry__lte=today + dt.timedelta(days=92), lot__expiry__gte=today).exists()
    lots = Lot.objects.filter(balances__isnull=False).distinct()
    far = [lot for lot in lots if today + dt.timedelta(days=365) <= lot.expiry <= today + dt.timedelta(days=3 * 366)]
    assert len(far) > len(lots) / 2
    # Nothing is ever dispensed from an expired lot.
    dispensed_late = [
        e
        for e in LedgerEntry.objects.filter(kind=MovementKind.DISPENSING).select_related("lot")
        if e.business_date >= e.lot.expiry
    ]
    assert dispensed_late == []


def test_shipments_go_down_the_tree_through_transit(seeded):
    dispatched = LedgerEntry.objects.filter(kind=MovementKind.DISPATCH, location__virtual_role="in_transit")
    received = LedgerEntry.objects.filter(kind=MovementKind.RECEIPT, location__virtual_role="in_transit")
    sent = dispatched.aggregate(q=Sum("quantity"))["q"]
    arrived = -received.aggregate(q=Sum("quantity"))["q"]
    assert 0 < arrived < sent  # one shipment is still on the road
    for kind in (MovementKind.DISPATCH, MovementKind.RECEIPT):
        levels = set(
            LedgerEntry.objects.filter(kind=kind, balance_after__isnull=False).values_list("location__level", flat=True)
        )
        expected = {Level.PROVINCE, Level.DISTRICT} if kind == MovementKind.DISPATCH else {Level.DISTRICT, Level.CLINIC}
        assert levels == expected


def test_running_it_again_changes_nothing(seeded):
    before = snapshot()
    out = io.StringIO()
    with override_settings(ALOKON_DEMO_PASSWORD=DEMO_PASSWORD):
        call_command("seed_demo", stdout=out)
    assert snapshot() == before
    assert "faskes7271" in out.getvalue()


def test_reset_passwords_restores_a_changed_password(seeded):
    User = get_user_model()
    user = User.objects.get(username="kab7210")
    user.set_password("changed-by-the-user")
    user.save()
    with override_settings(ALOKON_DEMO_PASSWORD=DEMO_PASSWORD):
        call_command("seed_demo", "--quiet")
        assert authenticate(username="kab7210", password=DEMO_PASSWORD) is None
        call_command("seed_demo", "--reset-passwords", "--quiet")
        assert authenticate(username="kab7210", password=DEMO_PASSWORD) == user


def test_monthly_dispensing_quantities_are_plausible(seeded):
    monthly = (
        LedgerEntry.objects.filter(kind=MovementKind.DISPENSING, quantity__lt=0, location__clinic_kind="puskesmas")
        .values("location_id", "product__code", "business_date")
        .annotate(units=-Sum("quantity"))
    )
    ranges = {"PIL-KOMB": (1, 400), "KONDOM": (1, 600), "SUNTIK-3": (1, 250), "IUD": (1, 12), "IMPLAN-1": (1, 15)}
    seen = set()
    for row in monthly:
        low, high = ranges.get(row["product__code"], (1, 400))
        assert low <= row["units"] <= high, row
        seen.add(row["product__code"])
    assert set(ranges) <= seen


def test_every_clinic_reports_plausible_service_figures(seeded):
    months = figure_months(timezone.localdate())
    assert len(months) == FIGURE_MONTHS >= 6
    clinics = set(Location.objects.filter(level=Level.CLINIC, path__startswith="00/72/").values_list("code", flat=True))
    figures = ServiceFigure.objects.filter(is_current=True)
    reported = figures.values("location__code").annotate(months=Count("month", distinct=True))
    assert {row["location__code"]: row["months"] for row in reported} == dict.fromkeys(clinics, FIGURE_MONTHS)
    assert not figures.filter(month__gte=timezone.localdate().replace(day=1)).exists()
    for row in figures.filter(location__clinic_kind="puskesmas", product__code__in=["PIL-KOMB", "SUNTIK-3"]):
        assert 10 <= row.active_users <= 1000 and row.new_users < row.active_users / 4, row
    # One clinic's 3-month injectable users fall month after month at the end.
    clinic, method = FALLING
    falling = list(
        figures.filter(location__code=clinic, product__code=method)
        .order_by("month")
        .values_list("active_users", flat=True)
    )
    assert falling[-1] < falling[-2] < falling[-3] < falling[-4] and falling[-1] < falling[0] * 0.6


def test_one_district_closed_every_month_but_the_last(seeded):
    months = figure_months(timezone.localdate())
    closed = sorted(MonthClose.objects.filter(location__code=CLOSED_DISTRICT).values_list("month", flat=True))
    assert closed == months[:-1]
    assert MonthClose.objects.count() == len(months) - 1


def test_the_demo_opens_with_its_alerts(seeded):
    from inventory.models import LocationChange
    from reports.models import Alert, AlertKind, AlertStatus

    kinds = set(Alert.objects.filter(status=AlertStatus.OPEN).values_list("kind", flat=True))
    # The demo's story: a clinic whose injectable users stop coming (MOBIYA), stock
    # below minimum somewhere, and lots that expire before they can be used.
    assert AlertKind.DROPOUT_RISK in kinds, kinds
    assert kinds & {AlertKind.LOW_STOCK, AlertKind.EMERGENCY, AlertKind.STOCKOUT}, kinds
    assert f" {Alert.objects.count()} " in seeded  # "Alerts computed: N open." in either language
    assert not LocationChange.objects.exists()  # computed now, not left for the worker
