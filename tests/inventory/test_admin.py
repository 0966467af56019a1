"""The admin: pages render, the ledger is read-only, imports are all-or-nothing, scoping holds."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation

from alokon.models import User
from inventory.forms.opening_import import check_rows
from inventory.models import (
    Discrepancy,
    Dispensing,
    LedgerEntry,
    Location,
    Lot,
    MonthClose,
    Movement,
    MovementKind,
    Product,
    ServiceFigure,
    StockBalance,
    StockCount,
    StockPolicy,
    VirtualRole,
)
from inventory.resources import LocationResource
from inventory.services.opening import opening_balance_post
from inventory.services.posting import virtual_location
from tests.factories import LotFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


LEDGER_MODELS = (Movement, LedgerEntry, StockBalance)
CSV_FORMAT = "0"  # index of CSV in import-export's default formats
EXPIRY = dt.date(2028, 6, 30)


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def csv_file(rows, name="data.csv"):
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode(), content_type="text/csv")


def import_locations(client, rows):
    """Upload a location CSV (the dry run); return the preview response."""
    return client.post(
        admin_url(Location, "import"),
        {"resource": "0", "format": CSV_FORMAT, "import_file": csv_file(rows)},
    )


def export_csv(client, model, resource_name, field_names):
    data = {"resource": "0", "format": CSV_FORMAT}
    data.update({f"{resource_name}_{name}": "on" for name in field_names})
    response = client.post(admin_url(model, "export"), data)
    assert response.status_code == 200, response.content[:500]
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def location_export_fields():
    return LocationResource().get_export_order()


def changelist_rows(response):
    return list(response.context["cl"].result_list)


# --- every page renders -------------------------------------------------------------


@pytest.fixture
def ledger_data(stocked, lot, django_user_model):
    """Stock at the province and at both districts, so every ledger admin has rows."""
    opening_balance_post(location=stocked["palu"], lines=[(lot, 10)], business_date=timezone.localdate())
    opening_balance_post(location=stocked["sigi"], lines=[(lot, 20)], business_date=timezone.localdate())
    return stocked


READ_ONLY_DOCUMENTS = (Discrepancy, StockCount, Dispensing, ServiceFigure, MonthClose)


def test_every_registered_model_renders_changelist_add_and_change(admin_client, ledger_data, make_user):
    make_user("kab7271", ledger_data["palu"])
    registered = [m for m in admin.site._registry if m._meta.app_label in ("inventory", "alokon")]
    assert {Location, Movement, LedgerEntry, StockBalance, Lot}.issubset(registered)
    for model in registered:
        assert admin_client.get(admin_url(model, "changelist")).status_code == 200, model
        if model in READ_ONLY_DOCUMENTS:
            # No rows in ledger_data; test_admin_reconciliation.py renders them with data.
            assert admin_client.get(admin_url(model, "add")).status_code == 403, model
            continue
        obj = admin.site._registry[model].get_queryset(admin_client.get("/").wsgi_request).first()
        assert obj is not None, model
        assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200, model
        if model not in LEDGER_MODELS:
            assert admin_client.get(admin_url(model, "add")).status_code == 200, model
    for model in LEDGER_MODELS:
        assert admin_client.get(admin_url(model, "changelist"), {"q": "SA-", "location": "72"}).status_code == 200


def test_movement_page_shows_its_entries_inline(admin_client, ledger_data):
    movement = Movement.objects.filter(kind=MovementKind.OPENING).first()
    response = admin_client.get(admin_url(Movement, "change", movement.pk))
    assert response.status_code == 200
    inline = response.context["inline_admin_formsets"][0]
    assert inline.formset.queryset.count() == movement.entries.count() == 2


# --- the ledger is read-only --------------------------------------------------------


@pytest.mark.parametrize("model", LEDGER_MODELS)
def test_ledger_admin_refuses_add_change_delete_even_for_superuser(admin_client, ledger_data, model):
    obj = model.objects.first()
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.post(admin_url(model, "add"), {}).status_code == 403
    assert admin_client.post(admin_url(model, "change", obj.pk), {"quantity": 1}).status_code == 403
    assert admin_client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    assert admin_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    model_admin = admin.site._registry[model]
    request = admin_client.get("/").wsgi_request
    assert "delete_selected" not in model_admin.get_actions(request)
    assert model.objects.filter(pk=obj.pk).exists()


def test_ledger_export_is_allowed_and_uses_codes(admin_client, ledger_data):
    rows = export_csv(
        admin_client, LedgerEntry, "ledgerentryresource", ["document", "location", "product", "batch", "quantity"]
    )
    palu = [r for r in rows if r["location"] == "72.71"]
    assert palu == [
        {
            "document": palu[0]["document"],
            "location": "72.71",
            "product": "PIL-KOMB",
            "batch": "PK-001",
            "quantity": "10",
        }
    ]


# --- location import and export ------------------------------------------------------


def confirm_import(client, preview):
    form = preview.context["confirm_form"]
    assert form is not None, preview.context["result"].invalid_rows
    return client.post(admin_url(Location, "process_import"), form.initial)


def test_location_csv_import_creates_the_tree_in_file_order(admin_client, tree):
    preview = import_locations(
        admin_client,
        [
            ["code", "name", "level", "parent", "clinic_kind"],
            ["74", "Sulawesi Tenggara", "province", "00", ""],
            ["74.01", "Buton", "district", "74", ""],
            ["74.01-001", "Puskesmas Pasarwajo", "clinic", "74.01", "puskesmas"],
        ],
    )
    assert preview.status_code == 200
    assert not Location.objects.filter(code__startswith="74").exists()  # the dry run wrote nothing
    response = confirm_import(admin_client, preview)
    assert response.status_code == 302
    paths = dict(Location.objects.filter(code__startswith="74").values_list("code", "path"))
    assert paths == {"74": "00/74/", "74.01": "00/74/74.01/", "74.01-001": "00/74/74.01/74.01-001/"}


def test_location_import_updates_by_code(admin_client, tree):
    confirm_import(admin_client, import_locations(admin_client, [["code", "name"], ["72.71", "Kota Palu Baru"]]))
    assert Location.objects.get(code="72.71").name == "Kota Palu Baru"
    assert Location.objects.get(code="72.71-001").path == "00/72/72.71/72.71-001/"


def test_location_import_with_one_bad_row_writes_nothing(admin_client, tree):
    before = Location.objects.count()
    preview = import_locations(
        admin_client,
        [
            ["code", "name", "level", "parent"],
            ["74", "Sulawesi Tenggara", "province", "00"],
            ["74-001", "Klinik salah tempat", "clinic", "74"],  # a clinic under a province
            ["75.01", "Yatim", "district", "75"],  # unknown parent
        ],
    )
    assert preview.status_code == 200
    assert preview.context.get("confirm_form") is None
    invalid = {row.number: row for row in preview.context["result"].invalid_rows}
    assert set(invalid) == {2, 3}
    content = preview.content.decode()
    assert "cannot be placed under" in content
    assert "Unknown location code “75”" in content
    assert Location.objects.count() == before


def test_location_import_that_fails_on_confirm_writes_nothing(admin_client, tree):
    Location.objects.create(code="74", name="Sulawesi Tenggara", level="province", parent=tree["national"])
    preview = import_locations(
        admin_client,
        [
            ["code", "name", "level", "parent"],
            ["72.71-009", "Puskesmas Baru", "clinic", "72.71"],
            ["74.01", "Buton", "district", "74"],
        ],
    )
    Location.objects.filter(code="74").delete()  # the database changes between preview and confirm
    response = confirm_import(admin_client, preview)
    assert response.status_code == 302 and response.url == admin_url(Location, "import")
    assert not Location.objects.filter(code__in=["72.71-009", "74.01"]).exists()


def test_location_export_yields_codes(admin_client, tree):
    rows = export_csv(admin_client, Location, "locationresource", location_export_fields())
    by_code = {r["code"]: r for r in rows}
    assert by_code["72.71-001"]["parent"] == "72.71"
    assert by_code["72"]["parent"] == "00"
    assert not any(code.startswith("~") for code in by_code)  # virtual locations are not master data


def test_exported_locations_reimport_unchanged(admin_client, tree):
    rows = export_csv(admin_client, Location, "locationresource", location_export_fields())
    header = list(rows[0])
    preview = import_locations(admin_client, [header, *[[r[h] for h in header] for r in rows]])
    result = preview.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert result.totals["skip"] == len(rows)


# --- opening balances --------------------------------------------------------------

OPENING_URL = "admin:inventory_opening_import"
HEADER = ["location", "product", "batch", "expiry", "quantity"]


def upload_opening(client, rows, name="opening.csv", date=None):
    upload = csv_file([HEADER, *rows], name) if name.endswith(".csv") else rows
    return client.post(
        reverse(OPENING_URL),
        {"file": upload, "business_date": (date or timezone.localdate()).isoformat()},
    )


def test_opening_import_previews_then_posts_one_movement_per_location(admin_client, tree, lot):
    rows = [
        ["72.71", "KONDOM", "K-1", EXPIRY.isoformat(), "100"],
        ["72.71", "PIL-KOMB", lot.batch, lot.expiry.isoformat(), "50"],
        ["72.10", "KONDOM", "K-1", EXPIRY.isoformat(), "40"],
    ]
    preview = upload_opening(admin_client, rows)
    assert preview.status_code == 200
    plan = preview.context["plan"]
    assert plan is not None and not preview.context["errors"]
    assert plan.line_count == 3 and plan.new_lot_count == 1
    assert not Movement.objects.exists() and not Lot.objects.filter(batch="K-1").exists()  # preview posts nothing

    response = admin_client.post(reverse(OPENING_URL), {"token": preview.context["token"]})
    assert response.status_code == 302

    movements = Movement.objects.filter(kind=MovementKind.OPENING)
    assert movements.count() == 2
    new_lot = Lot.objects.get(product__code="KONDOM", batch="K-1")
    assert new_lot.expiry == EXPIRY
    balances = {
        (b.location.code, b.lot.batch): b.quantity for b in StockBalance.objects.select_related("location", "lot")
    }
    assert balances == {("72.71", "K-1"): 100, ("72.71", lot.batch): 50, ("72.10", "K-1"): 40}
    supplier = virtual_location(VirtualRole.SUPPLIER)
    assert sum(LedgerEntry.objects.filter(location=supplier).values_list("quantity", flat=True)) == -190
    palu_entries = LedgerEntry.objects.filter(location=tree["palu"]).order_by("id")
    # Two lots at Palu: one movement, each entry carrying its own lot's balance.
    assert sorted((e.quantity, e.balance_after) for e in palu_entries) == [(50, 50), (100, 100)]
    assert len({e.movement_id for e in palu_entries}) == 1
    assert all(m.recorded_by.username == "admin" for m in movements)

    # The token is used once: a second click posts nothing more.
    again = admin_client.post(reverse(OPENING_URL), {"token": preview.context["token"]})
    assert again.status_code == 302
    assert Movement.objects.count() == 2


def test_opening_import_reads_xlsx(admin_client, tree):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(["72.71-001", "SUNTIK-3", 778899, dt.datetime(2028, 1, 31), 12])
    buffer = io.BytesIO()
    book.save(buffer)
    upload = SimpleUploadedFile("opening.xlsx", buffer.getvalue())
    preview = upload_opening(admin_client, upload, name="opening.xlsx")
    assert preview.context["plan"].line_count == 1, preview.context["errors"]
    admin_client.post(reverse(OPENING_URL), {"token": preview.context["token"]})
    balance = StockBalance.objects.get(location=tree["c1"])
    assert (balance.lot.batch, balance.lot.expiry, balance.quantity) == ("778899", dt.date(2028, 1, 31), 12)


def test_opening_import_with_one_bad_row_posts_nothing_and_names_the_row(admin_client, tree):
    rows = [
        ["72.71", "KONDOM", "K-1", EXPIRY.isoformat(), "100"],
        ["72.10", "KONDOM", "K-2", EXPIRY.isoformat(), "-5"],
        ["72.10-001", "KONDOM", "K-3", EXPIRY.isoformat(), "5"],
    ]
    response = upload_opening(admin_client, rows)
    assert response.status_code == 200
    assert response.context["errors"] == [(3, ["quantity must be greater than zero, not -5"])]
    assert response.context["plan"] is None
    assert "token" not in response.context
    assert not Movement.objects.exists() and not Lot.objects.filter(batch__startswith="K-").exists()
    assert "quantity must be greater than zero" in response.content.decode()


def test_opening_import_refuses_unreadable_files(admin_client, tree):
    response = upload_opening(admin_client, [], name="opening.csv")
    assert "no data rows" in str(response.context["form"].errors)
    response = admin_client.post(
        reverse(OPENING_URL),
        {"file": csv_file([["location", "qty"], ["72", "1"]]), "business_date": timezone.localdate().isoformat()},
    )
    assert "product, batch, expiry, quantity" in str(response.context["form"].errors)
    response = admin_client.post(
        reverse(OPENING_URL),
        {"file": SimpleUploadedFile("opening.pdf", b"%PDF"), "business_date": timezone.localdate().isoformat()},
    )
    assert ".csv or .xlsx" in str(response.context["form"].errors)
    assert not Movement.objects.exists()


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (["99.99", "KONDOM", "K-1", "2028-06-30", "1"], "unknown location “99.99”"),
        (["73.71", "KONDOM", "K-1", "2028-06-30", "1"], "unknown location “73.71”"),  # outside the user's subtree
        (["~SUPPLIER", "KONDOM", "K-1", "2028-06-30", "1"], "virtual location"),
        (["72.71", "NOPE", "K-1", "2028-06-30", "1"], "unknown product “NOPE”"),
        (["72.71", "KONDOM", "", "2028-06-30", "1"], "batch is empty"),
        (["72.71", "KONDOM", "K-1", "30/06/2028", "1"], "not a date in the form YYYY-MM-DD"),
        (["72.71", "KONDOM", "K-1", "2028-02-30", "1"], "not a date in the form YYYY-MM-DD"),
        (["72.71", "KONDOM", "K-1", "2028-06-30", "0"], "greater than zero"),
        (["72.71", "KONDOM", "K-1", "2028-06-30", "2.5"], "not a whole number"),
        (["72.71", "KONDOM", "K-1", "2028-06-30", "abc"], "not a whole number"),
        (["72.71", "KONDOM", "OLD", "2028-06-30", "1"], "already exists with expiry 2027-01-31"),
        (["72.71", "KONDOM", "K-0", "2028-06-30", "1"], "duplicate of row 2"),
        (["72.71", "KONDOM", "K-0", "2029-01-01", "1"], "has expiry 2028-06-30 in row 2"),
    ],
)
def test_opening_rows_are_checked(tree, make_user, row, problem):
    LotFactory(product=Product.objects.get(code="KONDOM"), batch="OLD", expiry=dt.date(2027, 1, 31))
    user = make_user("prov72", tree["prov"])
    rows = [
        {"row": 2, **dict(zip(HEADER, ["72.71", "KONDOM", "K-0", "2028-06-30", "1"], strict=True))},
        {"row": 3, **dict(zip(HEADER, row, strict=True))},
    ]
    plan = check_rows(rows, user=user)
    assert [number for number, _problems in plan.errors] == [3]
    assert problem in "; ".join(plan.errors[0][1])


def test_opening_row_errors_speak_indonesian_by_default(tree, make_user):
    user = make_user("prov72", tree["prov"])
    rows = [{"row": 2, **dict(zip(HEADER, ["72.71", "NOPE", "K-1", "2028-06-30", "1"], strict=True))}]
    with translation.override("id"):
        plan = check_rows(rows, user=user)
    assert "produk “NOPE” tidak dikenal" in "; ".join(plan.errors[0][1])


def test_opening_import_refuses_a_lot_already_opened_at_the_location(admin_client, stocked, lot):
    response = upload_opening(admin_client, [["72", "PIL-KOMB", lot.batch, lot.expiry.isoformat(), "5"]])
    assert "already posted" in "; ".join(response.context["errors"][0][1])


def test_opening_import_needs_permission_to_post_movements(client, tree, make_user, password):
    user = make_user("kab7271", tree["palu"], is_staff=True)
    client.login(username=user.username, password=password)
    assert client.get(reverse(OPENING_URL)).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="add_movement"))
    assert client.get(reverse(OPENING_URL)).status_code == 200


# --- scoping ---------------------------------------------------------------------------


@pytest.fixture
def district_client(client, ledger_data, make_user, password):
    """A staff user of Kota Palu (72.71) with the usual model permissions."""
    user = make_user("kab7271", ledger_data["palu"], is_staff=True)
    codenames = [
        f"{action}_{model}"
        for model in ("location", "stockbalance", "ledgerentry", "movement", "user", "stockpolicy")
        for action in ("view", "add", "change")
    ]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    make_user("kab7210", ledger_data["sigi"])
    make_user("faskes7271", ledger_data["c1"])
    client.login(username=user.username, password=password)
    client.user = user
    return client


def test_scoped_user_sees_only_their_subtree(district_client, ledger_data):
    response = district_client.get(admin_url(Location, "changelist"))
    assert {loc.code for loc in changelist_rows(response)} == {"72.71", "72.71-001", "72.71-002"}

    response = district_client.get(admin_url(StockBalance, "changelist"))
    assert {b.location.code for b in changelist_rows(response)} == {"72.71"}

    response = district_client.get(admin_url(LedgerEntry, "changelist"))
    assert {e.location.code for e in changelist_rows(response)} == {"72.71"}

    response = district_client.get(admin_url(Movement, "changelist"))
    assert len(changelist_rows(response)) == 1

    response = district_client.get(admin_url(User, "changelist"))
    assert {u.username for u in changelist_rows(response)} == {"kab7271", "faskes7271"}


def test_scoped_user_cannot_open_a_siblings_pages(district_client, ledger_data):
    sigi = ledger_data["sigi"]
    response = district_client.get(admin_url(Location, "change", sigi.pk))
    assert response.status_code in (302, 404)
    balance = StockBalance.objects.get(location=sigi)
    assert district_client.get(admin_url(StockBalance, "change", balance.pk)).status_code in (302, 404)
    movement = Movement.objects.get(entries__location=sigi)
    assert district_client.get(admin_url(Movement, "change", movement.pk)).status_code in (302, 404)
    # Editing the sibling through a crafted POST changes nothing either.
    district_client.post(admin_url(Location, "change", sigi.pk), {"code": sigi.code, "name": "Diubah"})
    assert Location.objects.get(pk=sigi.pk).name == "Sigi"


def test_scoped_export_holds_only_the_subtree(district_client, ledger_data):
    rows = export_csv(district_client, Location, "locationresource", location_export_fields())
    assert {r["code"] for r in rows} == {"72.71", "72.71-001", "72.71-002"}
    rows = export_csv(district_client, StockBalance, "stockbalanceresource", ["location", "product", "quantity"])
    assert {r["location"] for r in rows} == {"72.71"}


def test_scoped_location_choices_and_import_stay_in_the_subtree(district_client, ledger_data):
    response = district_client.get(admin_url(Location, "add"))
    parent_choices = response.context["adminform"].form.fields["parent"].queryset
    assert set(parent_choices.values_list("code", flat=True)) == {"72.71", "72.71-001", "72.71-002"}

    # A clinic under the user's district imports; one under the sibling reads as an unknown parent.
    preview = import_locations(
        district_client,
        [
            ["code", "name", "level", "parent"],
            ["72.71-003", "Puskesmas Baru", "clinic", "72.71"],
            ["72.10-009", "Puskesmas Lain", "clinic", "72.10"],
        ],
    )
    invalid = preview.context["result"].invalid_rows
    assert [row.number for row in invalid] == [2]
    assert "Unknown location code “72.10”" in preview.content.decode()

    # Their own district, re-imported with its parent above their scope, is accepted.
    preview = import_locations(
        district_client, [["code", "name", "level", "parent"], ["72.71", "Palu", "district", "72"]]
    )
    confirm_import(district_client, preview)
    palu = Location.objects.get(code="72.71")
    assert (palu.name, palu.parent.code) == ("Palu", "72")


def test_scoped_user_edits_their_home_location_but_cannot_move_it(district_client, ledger_data):
    palu = ledger_data["palu"]
    response = district_client.get(admin_url(Location, "change", palu.pk))
    assert {"code", "level", "parent"}.issubset(response.context["adminform"].readonly_fields)
    response = district_client.post(admin_url(Location, "change", palu.pk), {"name": "Palu", "bps_code": "7271"})
    assert response.status_code == 302
    palu.refresh_from_db()
    assert (palu.name, palu.parent.code, palu.path) == ("Palu", "72", "00/72/72.71/")


def test_scoped_user_admin_keeps_users_and_privileges_in_scope(district_client, ledger_data):
    target = User.objects.get(username="faskes7271")
    url = admin_url(User, "change", target.pk)
    data = {
        "username": target.username,
        "is_active": "on",
        "is_superuser": "on",  # read-only for a non-superuser: ignored
        "date_joined_0": "2026-01-01",
        "date_joined_1": "08:00:00",
        "role": "warehouse",
    }
    response = district_client.post(url, {**data, "location": ledger_data["sigi"].pk})
    assert response.status_code == 200 and "location" in response.context["adminform"].form.errors
    response = district_client.post(url, {**data, "location": ledger_data["c2"].pk})
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.location == ledger_data["c2"] and not target.is_superuser
    sibling = User.objects.get(username="kab7210")
    assert district_client.get(admin_url(User, "change", sibling.pk)).status_code in (302, 404)


def test_lot_import_identifies_lots_by_product_code_and_batch(admin_client, lot):
    response = admin_client.post(
        admin_url(Lot, "import"),
        {
            "resource": "0",
            "format": CSV_FORMAT,
            "import_file": csv_file(
                [
                    ["product", "batch", "expiry"],
                    ["PIL-KOMB", lot.batch, "2029-12-31"],
                    ["KONDOM", "K-9", "2028-01-31"],
                ]
            ),
        },
    )
    result = response.context["result"]
    assert (result.totals["update"], result.totals["new"]) == (1, 1)
    admin_client.post(admin_url(Lot, "process_import"), response.context["confirm_form"].initial)
    lot.refresh_from_db()
    assert lot.expiry == dt.date(2029, 12, 31)
    assert Lot.objects.get(product__code="KONDOM", batch="K-9").expiry == dt.date(2028, 1, 31)

    response = admin_client.post(
        admin_url(Lot, "import"),
        {
            "resource": "0",
            "format": CSV_FORMAT,
            "import_file": csv_file([["product", "batch", "expiry"], ["NOPE", "X-1", "31/12/2029"]]),
        },
    )
    assert response.context.get("confirm_form") is None
    assert "Unknown product code “NOPE”" in response.content.decode()


def test_stock_policy_round_trips_by_level_and_location(admin_client, tree):
    StockPolicy.objects.create(location=tree["palu"], min_months=3, max_months=5, emergency_months=1)
    rows = export_csv(
        admin_client, StockPolicy, "stockpolicyresource", ["level", "location", "min_months", "max_months"]
    )
    assert {(r["level"], r["location"]) for r in rows} >= {("district", ""), ("", "72.71")}
    response = admin_client.post(
        admin_url(StockPolicy, "import"),
        {
            "resource": "0",
            "format": CSV_FORMAT,
            "import_file": csv_file(
                [
                    ["level", "location", "min_months", "max_months", "emergency_months"],
                    ["district", "", "2", "5", "1"],
                    ["", "72.71", "3", "6", "1"],
                ]
            ),
        },
    )
    assert response.context["result"].totals["update"] == 2, response.context["result"].invalid_rows
    admin_client.post(admin_url(StockPolicy, "process_import"), response.context["confirm_form"].initial)
    assert StockPolicy.objects.get(level="district", location=None).max_months == 5
    assert StockPolicy.objects.get(location=tree["palu"]).max_months == 6
