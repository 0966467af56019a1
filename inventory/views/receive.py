"""The receiving page, ``/s/<token>``: what a shipment's QR code opens on arrival.

Used on a cheap phone over a slow link, so it is one small HTML form and works
with no JavaScript at all:

- one row per lot still in transit, pre-filled with its quantity: the clerk
  changes the good and damaged counts and, if the boxes hold another lot, picks
  it or scans its GS1 barcode into the row's scan box;
- a few empty rows for items that were not on the waybill;
- a hidden ``client_uuid`` made when the form is first shown and kept on every
  re-display, so a double tap or a retried POST is the same receipt
  (``receipt_record`` returns the first one).

A handheld scanner types a code and presses Enter, which submits the form. The
first submit button of the form (the one Enter presses) therefore only applies
the scanned codes and shows the form again; only the "Record receipt" button
records. The page is for staff of the destination only: anyone else, and an
unknown token, gets the same 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.errors import AlokonError
from inventory.forms.shipments import EXTRA_RECEIPT_ROWS, ExtraLineForm, ReceiptLineForm, share_choices
from inventory.models import Discrepancy, Lot, Receipt, Shipment, ShipmentStatus
from inventory.scanning.resolve import resolve_scan
from inventory.selectors.scope import visible_locations
from inventory.services.receipts import ReceiptLineSpec, in_transit_by_lot, receipt_record

DONE = (ShipmentStatus.RECEIVED, ShipmentStatus.CLOSED)


def can_receive(user, shipment: Shipment) -> bool:
    """Staff of the destination itself (as ``receipt_record`` requires), or a superuser who can see it."""
    if shipment.status == ShipmentStatus.DRAFT or not shipment.token:
        return False
    if user.location_id == shipment.destination_id:
        return True
    return user.is_superuser and visible_locations(user).filter(pk=shipment.destination_id).exists()


def _shipment(user, token: str) -> Shipment:
    shipment = Shipment.objects.select_related("origin", "destination").filter(token=token).first()
    if shipment is None or not can_receive(user, shipment):
        raise Http404(_("No shipment matches this code."))
    return shipment


@dataclass
class Row:
    """A shipped lot: what is expected and the form that says what came."""

    lot: Lot
    expected: int
    form: ReceiptLineForm


def _rows(shipment: Shipment, data, only=None) -> list[Row]:
    remaining = in_transit_by_lot(shipment)
    shipped = {line.lot_id: line.lot for line in shipment.lines.select_related("lot__product") if line.lot_id}
    if only is not None:
        lot_ids = [pk for pk in only if pk in shipped]
    else:
        lot_ids = [pk for pk, lot in shipped.items() if remaining.get(pk, 0) > 0]
    lot_ids.sort(key=lambda pk: (shipped[pk].product.code, shipped[pk].expiry, shipped[pk].batch))
    # The lots a clerk might find in the boxes: every unexpired lot of the shipped products, the shipped
    # ones, and whatever the form already holds (a scanned lot may have expired; it must still show).
    products = {shipped[pk].product_id for pk in lot_ids}
    held = [int(v) for pk in lot_ids if data is not None and (v := str(data.get(f"lot{pk}-lot", ""))).isdigit()]
    today = timezone.localdate()
    choices: dict[int, list[Lot]] = {pid: [] for pid in products}
    candidates = Lot.objects.filter(Q(expiry__gt=today) | Q(pk__in=[*lot_ids, *held]), product_id__in=products)
    for lot in candidates.order_by("expiry", "batch"):
        choices[lot.product_id].append(lot)
    rows = []
    for pk in lot_ids:
        lot = shipped[pk]
        expected = remaining.get(pk, 0)
        form = ReceiptLineForm(
            data,
            prefix=f"lot{pk}",
            product=lot.product,
            lots=Lot.objects.filter(product=lot.product),
            initial={"received": expected, "damaged": 0, "lot": lot.pk},
        )
        field = form.fields["lot"]
        field.choices = [(c.pk, f"{c.batch} · {c.expiry.isoformat()}") for c in choices[lot.product_id]]
        rows.append(Row(lot=lot, expected=expected, form=form))
    return rows


def _extras(data) -> list[ExtraLineForm]:
    extras = [ExtraLineForm(data, prefix=f"extra{i}") for i in range(EXTRA_RECEIPT_ROWS)]
    share_choices(extras, "product")
    return extras


def _apply_scan(form: forms.Form, user, *, product=None) -> None:
    """Turn the row's scanned GS1 code into its lot (``form.scanned_lot``); a bad code is the row's error."""
    form.scanned_lot = None
    code = (form.cleaned_data.get("scanned") or "").strip()
    if not code:
        return
    try:
        result = resolve_scan(code, user=user)
    except AlokonError as error:
        form.add_error("scanned", error.message)
        return
    if result.type != "lot":
        form.add_error("scanned", _("This is not a product barcode."))
    elif product is not None and result.product.pk != product.pk:
        form.add_error(
            "scanned",
            _("This barcode is %(scanned)s, not %(product)s.")
            % {"scanned": result.product.code, "product": product.code},
        )
    elif result.lot is None:
        form.add_error(
            "scanned",
            _("%(product)s has no lot %(batch)s yet.") % {"product": result.product.code, "batch": result.batch or "?"},
        )
    else:
        form.scanned_lot = result.lot
        form.cleaned_data["lot"] = result.lot


def _valid(rows: list[Row], extras: list[ExtraLineForm], user) -> bool:
    ok = True
    for row in rows:
        if row.form.is_valid():
            _apply_scan(row.form, user, product=row.lot.product)
        ok = row.form.is_valid() and ok
    for extra in extras:
        if extra.is_valid():
            _apply_scan(extra, user)
        ok = extra.is_valid() and ok
    return ok


def _specs(rows: list[Row], extras: list[ExtraLineForm]) -> list[ReceiptLineSpec]:
    specs = []
    for row in rows:
        data = row.form.cleaned_data
        if data["received"] or data["damaged"]:
            specs.append(ReceiptLineSpec(row.lot.product, data["lot"], data["received"], data["damaged"]))
    for extra in extras:
        data = extra.cleaned_data
        if data.get("lot") is not None and data.get("received"):
            specs.append(ReceiptLineSpec(data["lot"].product, data["lot"], data["received"], 0))
    return specs


def _with_scans_applied(data, rows, extras):
    """The POST data with each scanned lot selected in its row and the scan boxes emptied."""
    for form in [row.form for row in rows] + extras:
        lot = getattr(form, "scanned_lot", None)
        if lot is None:
            continue
        data[f"{form.prefix}-lot"] = str(lot.pk)
        data[f"{form.prefix}-scanned"] = ""
        if isinstance(form, ExtraLineForm):
            data[f"{form.prefix}-product"] = lot.product.code
            data[f"{form.prefix}-batch"] = lot.batch
    return data


def _client_uuid(request) -> uuid.UUID:
    try:
        return uuid.UUID(request.POST.get("client_uuid", ""))
    except ValueError:
        return uuid.uuid4()


def _done(request, shipment, status=200):
    receipts = list(shipment.receipts.select_related("received_by").order_by("received_at"))
    return render(
        request,
        "inventory/shipments/received.html",
        {"shipment": shipment, "receipts": receipts, "discrepancies": _discrepancies(shipment)},
        status=status,
    )


def _discrepancies(shipment, receipt=None):
    qs = Discrepancy.objects.filter(shipment=shipment).select_related("product", "lot").order_by("id")
    return qs.filter(receipt=receipt) if receipt is not None else qs


def _posted_rows(data) -> list[int]:
    """The shipped lots the submitted form had rows for (it may predate another partial receipt)."""
    return [int(value) for value in data.getlist("row") if value.isdigit()]


@login_required
def receive(request, token):
    shipment = _shipment(request.user, token)
    recording = request.method == "POST" and request.POST.get("action") == "record"
    # A retried "record" still goes to the service: the same client UUID returns its receipt.
    if shipment.status in DONE and not recording:
        return _done(request, shipment)

    error, status = None, 200
    if request.method == "POST":
        client_uuid = _client_uuid(request)
        data = request.POST.copy()
        rows, extras = _rows(shipment, data, only=_posted_rows(data)), _extras(data)
        valid = _valid(rows, extras, request.user)
        if not valid:
            status = 400
        elif recording:
            try:
                result = receipt_record(
                    shipment=shipment,
                    lines=_specs(rows, extras),
                    client_uuid=client_uuid,
                    actor=request.user,
                    note=data.get("note", "")[:1000],
                )
            except AlokonError as exc:
                error, status = exc.message, exc.http_status
            else:
                return redirect("receipt-detail", token=token, client_uuid=result.receipt.client_uuid)
        else:
            data = _with_scans_applied(data, rows, extras)
            rows, extras = _rows(shipment, data, only=_posted_rows(data)), _extras(data)
    else:
        client_uuid = uuid.uuid4()
        rows, extras = _rows(shipment, None), _extras(None)

    previous = shipment.receipts.select_related("received_by").order_by("received_at")
    return render(
        request,
        "inventory/shipments/receive.html",
        {
            "shipment": shipment,
            "rows": rows,
            "extras": extras,
            "client_uuid": client_uuid,
            "error": error,
            "previous": previous,
            "note": request.POST.get("note", ""),
        },
        status=status,
    )


@login_required
def receipt_detail(request, token, client_uuid):
    shipment = _shipment(request.user, token)
    receipt = (
        Receipt.objects.select_related("received_by")
        .prefetch_related("lines__product", "lines__lot")
        .filter(shipment=shipment, client_uuid=client_uuid)
        .first()
    )
    if receipt is None:
        raise Http404(_("This receipt was not found."))
    return render(
        request,
        "inventory/shipments/receipt.html",
        {"shipment": shipment, "receipt": receipt, "discrepancies": _discrepancies(shipment, receipt)},
    )
