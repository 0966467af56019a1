"""Request and response shapes of the stock-count endpoints: codes, never ids (except the count's own id).

As for shipments (``shipment_serializers``): a counted quantity must be a JSON
integer from 0 to the line ceiling, a product must exist and a lot must be a lot
of its line's product, and a lot appears on one line only; each problem is a 400
on its line (``{"lines": {"2": {"lot": ["…"]}}}``). Whether the user may count
the location, and whether the count may be approved, is the service's to decide.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from inventory.api.params import CODE_MAX_LENGTH, code_field, code_validator
from inventory.api.shipment_serializers import UUIDTextField, batch_field, quantity_field, resolve_lines
from inventory.models import CountStatus, StockCount, StockCountLine
from inventory.services.counts import MAX_COUNT_LINES, NOTE_MAX_LENGTH

# --- requests -----------------------------------------------------------------------------


class CountLineInput(serializers.Serializer):
    product = code_field(_("Product code, e.g. SUNTIK-3."))
    lot = batch_field(help_text=_("Batch number of the lot counted (an existing lot of this product)."))
    counted = quantity_field(min_value=0, help_text=_("Units on the shelf (0 if none were found)."))


class CountCreateInput(serializers.Serializer):
    location = code_field(_("Code of the location counted: your own."))
    lines = CountLineInput(many=True, allow_empty=False, max_length=MAX_COUNT_LINES)
    client_uuid = UUIDTextField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_(
            "Optional, made by the client before sending; sending the same count again with it creates nothing."
        ),
    )
    blind = serializers.BooleanField(
        required=False, default=False, help_text=_("Whether the counter worked without the system's quantities.")
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)

    def validate(self, attrs):
        lines = resolve_lines(attrs["lines"])
        first: dict[int, int] = {}
        errors = {}
        for index, line in enumerate(lines):
            if line["lot"].pk in first:
                errors[index] = {
                    "lot": [
                        _("Lot %(batch)s is already on line %(line)d; count each lot once.")
                        % {"batch": line["lot"].batch, "line": first[line["lot"].pk]}
                    ]
                }
            first.setdefault(line["lot"].pk, index)
        if errors:
            raise serializers.ValidationError({"lines": errors}, code="duplicate")
        return {**attrs, "lines": lines}


class CountDecisionInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)


class CountRejectInput(serializers.Serializer):
    note = serializers.CharField(max_length=NOTE_MAX_LENGTH, help_text=_("Why the count is rejected."))


class CountListParams(serializers.Serializer):
    # Blank means "any", so "?location=&status=" is the unfiltered list.
    location = serializers.CharField(
        required=False, allow_blank=True, max_length=CODE_MAX_LENGTH, validators=[code_validator]
    )
    status = serializers.ChoiceField(choices=CountStatus.choices, required=False, allow_blank=True)


# --- responses ----------------------------------------------------------------------------


def _username(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


class CountLineSerializer(serializers.ModelSerializer):
    product = serializers.CharField(source="product.code", read_only=True)
    lot = serializers.CharField(source="lot.batch", read_only=True)
    expiry = serializers.DateField(source="lot.expiry", read_only=True)
    system_quantity = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("The balance of the lot when the count was taken.")
    )
    difference = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("Counted minus system quantity: what approval posts.")
    )

    class Meta:
        model = StockCountLine
        fields = ["product", "lot", "expiry", "counted", "system_quantity", "difference"]
        read_only_fields = fields


class CountSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True, help_text=_("OPN-<id>: the adjustment's document number."))
    location = serializers.CharField(source="location.code", read_only=True)
    created_by = _username()
    submitted_by = _username()
    decided_by = _username()
    lines = CountLineSerializer(many=True, read_only=True)

    class Meta:
        model = StockCount
        fields = [
            "id",
            "number",
            "location",
            "status",
            "blind",
            "client_uuid",
            "note",
            "created_at",
            "created_by",
            "counted_at",
            "submitted_by",
            "decided_at",
            "decided_by",
            "decision_note",
            "lines",
        ]
        read_only_fields = fields
