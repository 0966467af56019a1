"""Opening balances from a spreadsheet: read the file, check every row, preview, post.

The file (CSV or XLSX) has the columns ``location`` (code), ``product`` (code),
``batch``, ``expiry`` (YYYY-MM-DD) and ``quantity``. Three steps:

1. ``read_rows`` turns the upload into numbered rows (row numbers as a spreadsheet
   shows them: the header is row 1), or refuses a file it cannot read.
2. ``check_rows`` checks every row against the database and the rest of the file
   and returns an ``OpeningPlan``: the lines grouped by location, and an error list
   naming each bad row. Codes outside the user's subtree read as unknown codes.
3. ``opening_import_post`` posts the plan in one transaction: it creates the new
   lots and calls ``opening_balance_post`` once per location (one movement each,
   supplier → location). Any failure rolls back the whole file.

A plan with any error is never posted: a file is all or nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export.formats.base_formats import CSV, XLSX

from inventory.models import LedgerEntry, Level, Location, Lot, Movement, MovementKind, Product
from inventory.selectors.scope import visible_locations
from inventory.services.opening import opening_balance_post

COLUMNS = ("location", "product", "batch", "expiry", "quantity")
MAX_ROWS = 50_000
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class OpeningLine:
    row: int
    product: Product
    batch: str
    expiry: dt.date
    quantity: int
    lot: Lot | None  # None: a new lot, created when the plan is posted


@dataclass
class OpeningPlan:
    groups: dict[Location, list[OpeningLine]] = field(default_factory=dict)
    errors: list[tuple[int, list[str]]] = field(default_factory=list)

    @property
    def line_count(self) -> int:
        return sum(len(lines) for lines in self.groups.values())

    @property
    def new_lot_count(self) -> int:
        return len({(ln.product.pk, ln.batch) for lines in self.groups.values() for ln in lines if ln.lot is None})


# --- 1. reading --------------------------------------------------------------------


def read_rows(uploaded) -> list[dict]:
    """The file's data rows as dicts with a ``row`` number; ``ValidationError`` if unreadable."""
    name = (uploaded.name or "").lower()
    data = uploaded.read()
    try:
        if name.endswith(".xlsx"):
            dataset = XLSX().create_dataset(data)
        elif name.endswith(".csv"):
            dataset = CSV().create_dataset(data.decode("utf-8-sig"))
        else:
            raise ValidationError(_("Upload a .csv or .xlsx file."))
    except ValidationError:
        raise
    except Exception as e:  # noqa: BLE001 - tablib/openpyxl raise many kinds; all mean "unreadable"
        raise ValidationError(
            _("The file could not be read (%(error)s). Save it as CSV (UTF-8) or XLSX and try again.")
            % {"error": type(e).__name__}
        ) from e

    headers = [_text(h).lower() for h in (dataset.headers or [])]
    missing = [c for c in COLUMNS if c not in headers]
    if missing:
        raise ValidationError(
            _("The file lacks the column(s) %(missing)s. The first row must name the columns %(columns)s.")
            % {"missing": ", ".join(missing), "columns": ", ".join(COLUMNS)}
        )
    rows = []
    for number, values in enumerate(dataset, start=2):
        if all(_text(v) == "" for v in values):
            continue  # spreadsheets often carry empty rows at the end
        row = {h: v for h, v in zip(headers, values, strict=False) if h in COLUMNS}
        row["row"] = number
        rows.append(row)
    if not rows:
        raise ValidationError(_("The file has no data rows."))
    if len(rows) > MAX_ROWS:
        raise ValidationError(_("The file has more than %(max)d rows; split it.") % {"max": MAX_ROWS})
    return rows


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a batch "12345" typed in Excel arrives as 12345.0
    return "" if value is None else str(value).strip()


# --- 2. checking -------------------------------------------------------------------


def _parse_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if not text:
        raise ValueError(_("expiry is empty"))
    try:
        if DATE_RE.match(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(_("expiry “%(value)s” is not a date in the form YYYY-MM-DD") % {"value": text})


def _parse_quantity(value) -> int:
    text = _text(value)
    if not text:
        raise ValueError(_("quantity is empty"))
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise ValueError(_("quantity “%(value)s” is not a whole number") % {"value": text})
    if number <= 0:
        raise ValueError(_("quantity must be greater than zero, not %(value)s") % {"value": text})
    return int(number)


def check_rows(rows: list[dict], *, user) -> OpeningPlan:
    """Check every row; the plan holds the lines by location and an error list per bad row."""
    location_codes = {_text(r.get("location")) for r in rows}
    product_codes = {_text(r.get("product")) for r in rows}
    # Everything the rows refer to, fetched in a few queries however long the file is.
    locations = {loc.code: loc for loc in Location.objects.filter(code__in=location_codes)}
    in_scope = set(visible_locations(user).filter(code__in=location_codes).values_list("code", flat=True))
    products = {p.code: p for p in Product.objects.filter(code__in=product_codes)}
    lots = {
        (lot.product.code, lot.batch): lot
        for lot in Lot.objects.filter(product__code__in=product_codes).select_related("product")
    }
    already_opened = set(
        LedgerEntry.objects.filter(
            kind=MovementKind.OPENING,
            location__code__in=location_codes,
            product__code__in=product_codes,
            movement__reversed_by__isnull=True,
        ).values_list("location__code", "product__code", "lot__batch")
    )

    plan = OpeningPlan()
    seen: dict[tuple[str, str, str], int] = {}  # (location, product, batch) → first row
    expiries: dict[tuple[str, str], tuple[dt.date, int]] = {}  # (product, batch) → (expiry, row)
    for row in rows:
        number = row["row"]
        problems: list[str] = []
        code, product_code, batch = _text(row.get("location")), _text(row.get("product")), _text(row.get("batch"))

        location = locations.get(code)
        if not code:
            problems.append(_("location is empty"))
        elif location is not None and location.level == Level.VIRTUAL:
            problems.append(_("%(code)s is a virtual location; opening stock goes to a real location") % {"code": code})
        elif location is None or code not in in_scope:
            # Out of scope reads exactly like unknown: the tree outside is not the user's to see.
            problems.append(_("unknown location “%(code)s”") % {"code": code})
            location = None
        elif not location.is_active:
            problems.append(_("location %(code)s is inactive") % {"code": code})

        product = products.get(product_code)
        if not product_code:
            problems.append(_("product is empty"))
        elif product is None:
            problems.append(_("unknown product “%(code)s”") % {"code": product_code})
        if not batch:
            problems.append(_("batch is empty"))

        expiry = quantity = None
        try:
            expiry = _parse_date(row.get("expiry"))
        except ValueError as e:
            problems.append(str(e))
        try:
            quantity = _parse_quantity(row.get("quantity"))
        except ValueError as e:
            problems.append(str(e))

        lot = lots.get((product_code, batch))
        if product and batch and expiry:
            if lot is not None and lot.expiry != expiry:
                problems.append(
                    _("lot %(batch)s of %(product)s already exists with expiry %(expiry)s")
                    % {"batch": batch, "product": product_code, "expiry": lot.expiry.isoformat()}
                )
            earlier = expiries.setdefault((product_code, batch), (expiry, number))
            if earlier[0] != expiry:
                problems.append(
                    _("lot %(batch)s of %(product)s has expiry %(expiry)s in row %(row)d")
                    % {"batch": batch, "product": product_code, "expiry": earlier[0].isoformat(), "row": earlier[1]}
                )
        if location and product and batch:
            key = (code, product_code, batch)
            if key in seen:
                problems.append(_("duplicate of row %(row)d") % {"row": seen[key]})
            else:
                seen[key] = number
            if key in already_opened:
                problems.append(
                    _("an opening balance of this lot at %(code)s was already posted; correct it with an adjustment")
                    % {"code": code}
                )

        if problems:
            plan.errors.append((number, problems))
        else:
            plan.groups.setdefault(location, []).append(
                OpeningLine(row=number, product=product, batch=batch, expiry=expiry, quantity=quantity, lot=lot)
            )
    return plan


# --- 3. posting --------------------------------------------------------------------


def opening_import_post(*, plan: OpeningPlan, business_date: dt.date, actor, note: str = "") -> list[Movement]:
    """Create the new lots and post one opening movement per location, all or nothing."""
    if plan.errors:
        raise ValueError("A plan with errors is never posted.")
    movements = []
    with transaction.atomic():
        lot_cache: dict[tuple[int, str], Lot] = {}
        for location, lines in plan.groups.items():
            by_lot: dict[Lot, int] = defaultdict(int)
            for line in lines:
                key = (line.product.pk, line.batch)
                if key not in lot_cache:
                    lot, _created = Lot.objects.get_or_create(
                        product=line.product, batch=line.batch, defaults={"expiry": line.expiry}
                    )
                    if lot.expiry != line.expiry:
                        # Created by someone else since the preview: refuse rather than guess.
                        raise ValidationError(
                            _("Row %(row)d: lot %(batch)s of %(product)s now exists with expiry %(expiry)s.")
                            % {
                                "row": line.row,
                                "batch": line.batch,
                                "product": line.product.code,
                                "expiry": lot.expiry.isoformat(),
                            }
                        )
                    lot_cache[key] = lot
                by_lot[lot_cache[key]] += line.quantity
            movements.append(
                opening_balance_post(
                    location=location,
                    lines=list(by_lot.items()),
                    business_date=business_date,
                    actor=actor,
                    note=note,
                )
            )
    return movements


# --- forms -------------------------------------------------------------------------


class OpeningUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File (CSV or XLSX)"),
        help_text=gettext_lazy("Columns: location, product, batch, expiry (YYYY-MM-DD), quantity."),
    )
    business_date = forms.DateField(
        label=gettext_lazy("Date of the opening balance"),
        initial=timezone.localdate,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        self.rows = read_rows(uploaded)
        return uploaded

    def clean_business_date(self):
        date = self.cleaned_data["business_date"]
        if date > timezone.localdate():
            raise ValidationError(_("The date cannot be in the future."))
        return date
