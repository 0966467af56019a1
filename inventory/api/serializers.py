"""Response shapes of the API: codes, never database ids.

Every nested value (a location's parent, a row's product and lot, an entry's
document and author) is read from a ``select_related`` join made by the view, so
serializing a page is never one query per row.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from inventory.models import LedgerEntry, Location, MovementKind, StockBalance


class LocationSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text=_("Code of the parent location.")
    )
    # Numbers, not strings, so map clients need no parsing.
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, coerce_to_string=False, read_only=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, coerce_to_string=False, read_only=True)

    class Meta:
        model = Location
        fields = ["code", "bps_code", "name", "level", "parent", "clinic_kind", "latitude", "longitude", "is_active"]
        read_only_fields = fields


class StockRowSerializer(serializers.ModelSerializer):
    location = serializers.CharField(source="location.code", read_only=True)
    product = serializers.CharField(source="product.code", read_only=True)
    lot = serializers.CharField(source="lot.batch", read_only=True, help_text=_("Batch number."))
    expiry = serializers.DateField(source="lot.expiry", read_only=True)

    class Meta:
        model = StockBalance
        fields = ["location", "product", "lot", "expiry", "quantity"]
        read_only_fields = fields


class StockCardEntrySerializer(serializers.ModelSerializer):
    date = serializers.DateField(source="business_date", read_only=True, help_text=_("Business date of the movement."))
    kind = serializers.ChoiceField(choices=MovementKind.choices, read_only=True)
    balance_after = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=_("Balance of this lot at this location right after the entry, in posting order."),
    )
    document = serializers.CharField(source="movement.document", read_only=True)
    lot = serializers.CharField(source="lot.batch", read_only=True, help_text=_("Batch number."))
    expiry = serializers.DateField(source="lot.expiry", read_only=True)
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = LedgerEntry
        fields = [
            "date",
            "kind",
            "reason",
            "quantity",
            "balance_after",
            "document",
            "lot",
            "expiry",
            "recorded_at",
            "recorded_by",
        ]
        read_only_fields = fields


class ErrorSerializer(serializers.Serializer):
    """Shape of every error except invalid parameters (documentation only)."""

    detail = serializers.CharField(help_text=_("What went wrong, in the request's language."))
    code = serializers.CharField(help_text=_("A stable code to branch on, e.g. not_found."))
