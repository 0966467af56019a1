"""Request and response shapes of the shipment, receipt and scan endpoints: codes, never ids.

Requests are checked here for shape before any service runs: quantities must be
JSON integers (``7``, not ``"7"``, ``7.0`` or ``true``: a scanner app that sends
text has a bug worth hearing about), products and lots must exist, and a lot must
belong to its line's product. Each problem is a 400 in DRF's usual shape
(``{"lines": {"1": {"lot": ["…"]}}}``: a list's errors are keyed by the line's
index), so the app can point at the field. What
only the use case can decide (the route, stock, the shipment's state) stays in
``inventory.services`` and comes back as ``{"detail", "code"}``.

Responses read nested rows from the view's ``select_related``/``prefetch_related``,
so one shipment is a fixed number of queries however many lines it has.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from inventory.api.params import CODE_MAX_LENGTH, CodeLookupField, ProductCodeField, code_field, code_validator
from inventory.models import (
    Discrepancy,
    Location,
    Lot,
    Product,
    Receipt,
    ReceiptLine,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from inventory.qr import shipment_url
from inventory.services.shipments import MAX_LINE_QUANTITY

#: more lines than any real SBBK; a bigger body is a client bug, refused before any lookup
MAX_LINES = 500
NOTE_MAX_LENGTH = 2000
BATCH_MAX_LENGTH = Lot._meta.get_field("batch").max_length

# --- requests -----------------------------------------------------------------------------


class WholeNumberField(serializers.IntegerField):
    """A JSON integer and nothing else.

    DRF's ``IntegerField`` accepts ``"7"`` and ``7.0``; a quantity typed as text or
    computed as a float on the phone is refused instead of silently rounded.
    """

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


class UUIDTextField(serializers.UUIDField):
    """A UUID written as text; DRF's field would also take a JSON integer as a UUID's 128 bits."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


def quantity_field(*, min_value: int, **kwargs) -> WholeNumberField:
    return WholeNumberField(min_value=min_value, max_value=MAX_LINE_QUANTITY, **kwargs)


class LocationCodeField(CodeLookupField):
    """A real location that exists anywhere in the tree; the validated value is the ``Location``.

    Used for a destination: returns go up the tree and transfers go to siblings, so
    the destination is usually outside the sender's subtree. Location codes are
    public (Kemendagri codes), so an unknown one is an invalid field (400).
    """

    default_error_messages = {"unknown": _("There is no location with code %(code)s.")}

    def lookup(self, code: str):
        return Location.objects.real().filter(code=code).first()


def batch_field(**kwargs) -> serializers.CharField:
    kwargs.setdefault("help_text", _("Batch number of the lot."))
    return serializers.CharField(max_length=BATCH_MAX_LENGTH, **kwargs)


def resolve_lines(lines: list[dict]) -> list[dict]:
    """Each line's product and lot codes replaced by the rows, in two queries whatever the number of lines.

    An unknown product, or a batch that is not a lot of the line's product (unknown,
    or another product's), is a 400 on that line, keyed by its index as DRF keys a
    list's errors: ``{"lines": {"1": {"lot": ["…"]}}}``.
    """
    products = {product.code: product for product in Product.objects.filter(code__in={ln["product"] for ln in lines})}
    batches = {ln["lot"] for ln in lines if ln.get("lot")}
    lots = {
        (lot.product_id, lot.batch): lot
        for lot in Lot.objects.filter(product__in=products.values(), batch__in=batches).select_related("product")
    }
    resolved, errors = [], {}
    for index, line in enumerate(lines):
        product = products.get(line["product"])
        if product is None:
            errors[index] = {
                "product": [ProductCodeField.default_error_messages["unknown"] % {"code": line["product"]}]
            }
            continue
        lot = None
        if line.get("lot"):
            lot = lots.get((product.pk, line["lot"]))
            if lot is None:
                message = _("%(product)s has no lot %(batch)s.") % {"product": product.code, "batch": line["lot"]}
                errors[index] = {"lot": [message]}
                continue
        resolved.append({**line, "product": product, "lot": lot})
    if errors:
        raise serializers.ValidationError({"lines": errors}, code="unknown")
    return resolved


class ShipmentLineInput(serializers.Serializer):
    # Codes are checked for shape here and looked up for all lines at once (``resolve_lines``).
    product = code_field(_("Product code, e.g. SUNTIK-3."))
    quantity = quantity_field(min_value=1)
    lot = batch_field(
        required=False, allow_null=True, allow_blank=True, help_text=_("A batch number; omit it for FEFO at dispatch.")
    )


class ShipmentCreateInput(serializers.Serializer):
    origin = code_field(_("Code of the sending location: your own."))
    destination = LocationCodeField(help_text=_("Code of the receiving location."))
    lines = ShipmentLineInput(many=True, allow_empty=False, max_length=MAX_LINES)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)

    def validate(self, attrs):
        return {**attrs, "lines": resolve_lines(attrs["lines"])}


class ReceiptLineInput(serializers.Serializer):
    product = code_field(_("Product code, e.g. SUNTIK-3."))
    lot = batch_field(help_text=_("Batch number of the lot found (an existing lot of this product)."))
    received = quantity_field(min_value=0, help_text=_("Units received in good condition."))
    damaged = quantity_field(min_value=0, required=False, default=0, help_text=_("Units received damaged."))


class ReceiptInput(serializers.Serializer):
    client_uuid = UUIDTextField(
        help_text=_("Made by the client before sending; sending the same receipt again with it posts nothing.")
    )
    lines = ReceiptLineInput(many=True, allow_empty=False, max_length=MAX_LINES)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)

    def validate(self, attrs):
        return {**attrs, "lines": resolve_lines(attrs["lines"])}


class ShipmentListParams(serializers.Serializer):
    # Blank means "any", so "?status=&origin=&destination=" is the unfiltered list.
    status = serializers.ChoiceField(choices=ShipmentStatus.choices, required=False, allow_blank=True)
    origin = serializers.CharField(
        required=False, allow_blank=True, max_length=CODE_MAX_LENGTH, validators=[code_validator]
    )
    destination = serializers.CharField(
        required=False, allow_blank=True, max_length=CODE_MAX_LENGTH, validators=[code_validator]
    )


class ScanInput(serializers.Serializer):
    code = serializers.CharField(help_text=_("The scanned or typed text: a shipment URL, an SBBK number, a GS1 code."))


# --- responses ----------------------------------------------------------------------------


def _code(source: str, **kwargs) -> serializers.CharField:
    return serializers.CharField(source=source, read_only=True, **kwargs)


def _username(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


class ShipmentLineSerializer(serializers.ModelSerializer):
    product = _code("product.code")
    lot = _code("lot.batch", allow_null=True, help_text=_("Batch number; null on a draft line left to FEFO."))
    expiry = serializers.DateField(source="lot.expiry", read_only=True, allow_null=True)

    class Meta:
        model = ShipmentLine
        fields = ["product", "lot", "expiry", "quantity"]
        read_only_fields = fields


class ReceiptLineSerializer(serializers.ModelSerializer):
    product = _code("product.code")
    lot = _code("lot.batch")
    expiry = serializers.DateField(source="lot.expiry", read_only=True)

    class Meta:
        model = ReceiptLine
        fields = ["product", "lot", "expiry", "received", "damaged"]
        read_only_fields = fields


class ReceiptDiscrepancySerializer(serializers.ModelSerializer):
    """A difference as the receipt found it; its later status is on the shipment."""

    product = _code("product.code")
    lot = _code("lot.batch")

    class Meta:
        model = Discrepancy
        fields = ["kind", "product", "lot", "quantity"]
        read_only_fields = fields


class DiscrepancySerializer(ReceiptDiscrepancySerializer):
    class Meta(ReceiptDiscrepancySerializer.Meta):
        fields = [*ReceiptDiscrepancySerializer.Meta.fields, "status"]
        read_only_fields = fields


class ReceiptSummarySerializer(serializers.ModelSerializer):
    received_by = _username()
    lines = ReceiptLineSerializer(many=True, read_only=True)

    class Meta:
        model = Receipt
        fields = ["client_uuid", "received_at", "received_by", "note", "lines"]
        read_only_fields = fields


class ReceiptSerializer(ReceiptSummarySerializer):
    """The answer to a receipt, the same on a retry with the same UUID.

    Only what the receipt itself recorded, nothing that later events change (the
    shipment's status, a discrepancy's resolution), so a retry after a lost
    response gets exactly the body the first request would have had.
    """

    shipment = _code("shipment.number")
    discrepancies = ReceiptDiscrepancySerializer(many=True, read_only=True)

    class Meta(ReceiptSummarySerializer.Meta):
        fields = ["shipment", *ReceiptSummarySerializer.Meta.fields, "discrepancies"]
        read_only_fields = fields


class ShipmentSerializer(serializers.ModelSerializer):
    """One row of the shipment list."""

    origin = _code("origin.code")
    destination = _code("destination.code")
    lines = ShipmentLineSerializer(many=True, read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "number",
            "status",
            "origin",
            "destination",
            "created_at",
            "dispatched_at",
            "expected_arrival",
            "lines",
        ]
        read_only_fields = fields


class ShipmentDetailSerializer(ShipmentSerializer):
    """A shipment with its receipts and discrepancies.

    ``qr_url`` carries the receiving token, so it is given only to the staff of the
    origin (who print the waybill) and of the destination (who receive); others who
    may see the shipment, such as the province above, get null. The view passes
    ``user`` in the context.
    """

    created_by = _username()
    dispatched_by = _username()
    receipts = ReceiptSummarySerializer(many=True, read_only=True)
    discrepancies = DiscrepancySerializer(many=True, read_only=True)
    qr_url = serializers.SerializerMethodField(help_text=_("The receiving URL the waybill's QR code encodes."))

    class Meta(ShipmentSerializer.Meta):
        fields = [
            "number",
            "status",
            "origin",
            "destination",
            "note",
            "created_at",
            "created_by",
            "dispatched_at",
            "dispatched_by",
            "dispatch_date",
            "expected_arrival",
            "lines",
            "receipts",
            "discrepancies",
            "qr_url",
        ]
        read_only_fields = fields

    def get_qr_url(self, shipment: Shipment) -> str | None:
        if shipment.token and may_see_token(self.context["user"], shipment):
            return shipment_url(shipment.token)
        return None


class DispatchSerializer(ShipmentDetailSerializer):
    warnings = serializers.SerializerMethodField(help_text=_("Lots that expire soon after the expected arrival."))

    class Meta(ShipmentDetailSerializer.Meta):
        fields = [*ShipmentDetailSerializer.Meta.fields, "warnings"]
        read_only_fields = fields

    def get_warnings(self, shipment: Shipment) -> list[str]:
        return [str(warning) for warning in self.context.get("warnings", [])]


class ScanShipmentSerializer(serializers.Serializer):
    """Documentation only: the answer to a scanned shipment."""

    type = serializers.CharField(help_text='"shipment"')
    number = serializers.CharField()
    receive_url = serializers.CharField(
        allow_null=True, help_text=_("The receiving URL, for staff of the origin or destination of a dispatched one.")
    )


class ScanLotSerializer(serializers.Serializer):
    """Documentation only: the answer to a scanned product barcode."""

    type = serializers.CharField(help_text='"lot"')
    product = serializers.CharField()
    lot = serializers.CharField(allow_null=True, help_text=_("Batch number, when the barcode has one."))
    expiry = serializers.DateField(allow_null=True)
    gtin = serializers.CharField()
    lot_known = serializers.BooleanField(help_text=_("Whether the lot exists here (a receipt needs a known lot)."))


def may_see_token(user, shipment: Shipment) -> bool:
    """Staff of the shipment's own origin or destination, or a superuser."""
    return user.is_superuser or user.location_id in (shipment.origin_id, shipment.destination_id)
