"""Request and response shapes of dispensing, service figures, month close and disposal: codes, never ids.

Requests are checked for shape here (whole JSON numbers, known products, a lot
of the line's product), each problem a 400 in DRF's usual shape; what only the
use case can decide (stock, who may, the month's state) comes back from
``inventory.services`` as ``{"detail", "code"}``.
"""

from __future__ import annotations

import datetime as dt
import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.api.params import CODE_MAX_LENGTH, code_field, code_validator
from inventory.api.shipment_serializers import (
    MAX_LINES,
    NOTE_MAX_LENGTH,
    UUIDTextField,
    WholeNumberField,
    batch_field,
    quantity_field,
    resolve_lines,
)
from inventory.models import Dispensing, DispensingPeriod, MonthClose, Movement, Product, ServiceFigure
from inventory.services.service_figures import MAX_USERS

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> dt.date:
    """``YYYY-MM`` → the first day of that month; anything else is a 400."""
    match = MONTH_RE.match(text or "")
    if match and 1 <= int(match.group(2)) <= 12 and int(match.group(1)) >= 1900:
        return dt.date(int(match.group(1)), int(match.group(2)), 1)
    raise serializers.ValidationError(
        {"month": [_("Enter a month as YYYY-MM, e.g. 2025-03; %(value)s is not one.") % {"value": text}]}
    )


# --- dispensing -----------------------------------------------------------------------------


class DispensingLineInput(serializers.Serializer):
    product = code_field(gettext_lazy("Product code, e.g. SUNTIK-3."))
    quantity = quantity_field(min_value=1)
    lot = batch_field(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text=gettext_lazy("A batch number; omit it to take the lots that expire first."),
    )


class DispensingInput(serializers.Serializer):
    location = code_field(gettext_lazy("Code of the clinic that dispensed: your own."))
    date = serializers.DateField(help_text=gettext_lazy("The day; for a monthly total, any day of the month."))
    period = serializers.ChoiceField(
        choices=DispensingPeriod.choices,
        required=False,
        default=DispensingPeriod.DAY,
        help_text=gettext_lazy("day, or month for a monthly total (dated the month's last day, or today)."),
    )
    lines = DispensingLineInput(many=True, allow_empty=False, max_length=MAX_LINES)
    client_uuid = UUIDTextField(
        required=False,
        allow_null=True,
        help_text=gettext_lazy("Optional; made by the client. Sending the same record again with it posts nothing."),
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)

    def validate(self, attrs):
        return {**attrs, "lines": resolve_lines(attrs["lines"])}


class DispensingListParams(serializers.Serializer):
    """``?location=&from=&to=`` (``from`` is a Python keyword, so the fields are built in ``get_fields``)."""

    def get_fields(self):
        return {
            "location": serializers.CharField(
                required=False,
                allow_blank=True,
                max_length=CODE_MAX_LENGTH,
                validators=[code_validator],
                help_text=gettext_lazy("Only this location and the clinics under it (its code)."),
            ),
            "from": serializers.DateField(
                required=False, help_text=gettext_lazy("Records dated on or after this day.")
            ),
            "to": serializers.DateField(required=False, help_text=gettext_lazy("Records dated on or before this day.")),
        }

    def validate(self, attrs):
        start, end = attrs.get("from"), attrs.get("to")
        if start and end and start > end:
            raise serializers.ValidationError({"to": _("The end date is before the start date.")})
        return attrs


class DispensedLineSerializer(serializers.Serializer):
    product = serializers.CharField(read_only=True)
    lot = serializers.CharField(read_only=True)
    expiry = serializers.DateField(read_only=True)
    quantity = serializers.IntegerField(read_only=True)


class DispensingSerializer(serializers.ModelSerializer):
    """One record; its lines are the movement's entries at the clinic (the view prefetches them)."""

    location = serializers.CharField(source="location.code", read_only=True)
    document = serializers.CharField(source="movement.document", read_only=True)
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    lines = serializers.SerializerMethodField()

    class Meta:
        model = Dispensing
        fields = [
            "id",
            "location",
            "date",
            "period",
            "document",
            "client_uuid",
            "note",
            "recorded_at",
            "recorded_by",
            "lines",
        ]
        read_only_fields = fields

    @extend_schema_field(DispensedLineSerializer(many=True))
    def get_lines(self, record: Dispensing) -> list[dict]:
        return [
            {"product": e.lot.product.code, "lot": e.lot.batch, "expiry": e.lot.expiry, "quantity": -e.quantity}
            for e in record.movement.entries.all()
            if e.location_id == record.location_id
        ]


# --- service figures ------------------------------------------------------------------------


class FigureInput(serializers.Serializer):
    active_users = WholeNumberField(min_value=0, max_value=MAX_USERS, help_text=gettext_lazy("Active users."))
    new_users = WholeNumberField(min_value=0, max_value=MAX_USERS, help_text=gettext_lazy("New users this month."))

    def validate(self, attrs):
        if attrs["new_users"] > attrs["active_users"]:
            raise serializers.ValidationError(
                {"new_users": [_("New users are also active users, so they cannot exceed them.")]}
            )
        return attrs


def parse_figures(data) -> tuple[dict[Product, tuple[int, int]], str]:
    """``{"<product code>": {"active_users", "new_users"}, "note": "…"}`` → ({Product: (active, new)}, note).

    Errors are keyed by the product code, as DRF keys a field's errors.
    """
    if not isinstance(data, dict):
        raise serializers.ValidationError(
            {"non_field_errors": [_('Send an object: {"<product code>": {"active_users": …, "new_users": …}}.')]}
        )
    data = dict(data)
    note = data.pop("note", "")
    errors: dict[str, list | dict] = {}
    if not isinstance(note, str) or len(note) > NOTE_MAX_LENGTH:
        errors["note"] = [_("The note must be text of at most %(max)d characters.") % {"max": NOTE_MAX_LENGTH}]
        note = ""
    if not data:
        errors["non_field_errors"] = [_("Enter the figures of at least one method.")]
    if len(data) > 100:
        raise serializers.ValidationError({"non_field_errors": [_("Too many methods.")]})
    products = {p.code: p for p in Product.objects.filter(code__in=[str(code)[:CODE_MAX_LENGTH] for code in data])}
    figures: dict[Product, tuple[int, int]] = {}
    for code, value in data.items():
        product = products.get(code)
        if product is None:
            errors[code] = [_("There is no product with code %(code)s.") % {"code": code}]
            continue
        field = FigureInput(data=value)
        if not isinstance(value, dict):
            errors[code] = [_('Give {"active_users": …, "new_users": …}.')]
        elif not field.is_valid():
            errors[code] = field.errors
        else:
            figures[product] = (field.validated_data["active_users"], field.validated_data["new_users"])
    if errors:
        raise serializers.ValidationError(errors)
    return figures, note.strip()


class FigureSerializer(serializers.ModelSerializer):
    product = serializers.CharField(source="product.code", read_only=True)
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ServiceFigure
        fields = ["product", "active_users", "new_users", "is_correction", "note", "recorded_at", "recorded_by"]
        read_only_fields = fields


class CorrectionSerializer(FigureSerializer):
    """A figure changed after the month was closed, with the figures it replaced."""

    replaced_active_users = serializers.IntegerField(source="replaces.active_users", read_only=True, allow_null=True)
    replaced_new_users = serializers.IntegerField(source="replaces.new_users", read_only=True, allow_null=True)
    is_current = serializers.BooleanField(read_only=True)

    class Meta(FigureSerializer.Meta):
        fields = [*FigureSerializer.Meta.fields, "replaced_active_users", "replaced_new_users", "is_current"]
        read_only_fields = fields


class FiguresResponse(serializers.Serializer):
    """Documentation of the service-figures answer (built by the view)."""

    location = serializers.CharField()
    month = serializers.CharField(help_text=gettext_lazy("YYYY-MM"))
    closed = serializers.BooleanField(help_text=gettext_lazy("Whether the district has closed this month."))
    closed_at = serializers.DateTimeField(allow_null=True)
    figures = FigureSerializer(many=True, help_text=gettext_lazy("The current figures, one per method."))
    corrections = CorrectionSerializer(many=True, help_text=gettext_lazy("Corrections made after the month closed."))
    changed = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=gettext_lazy("After a PUT: the product codes whose figures changed."),
    )


class MonthCloseSerializer(serializers.ModelSerializer):
    location = serializers.CharField(source="location.code", read_only=True)
    month = serializers.SerializerMethodField()
    closed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = MonthClose
        fields = ["location", "month", "closed_at", "closed_by"]
        read_only_fields = fields

    def get_month(self, close: MonthClose) -> str:
        return f"{close.month:%Y-%m}"


# --- disposal -------------------------------------------------------------------------------


class DisposalInput(serializers.Serializer):
    location = code_field(gettext_lazy("Code of the location whose expired stock is disposed of: your own."))
    lots = serializers.ListField(
        child=batch_field(),
        required=False,
        allow_empty=False,
        max_length=MAX_LINES,
        help_text=gettext_lazy("Batch numbers to dispose of; omit to dispose of every expired lot held."),
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)


class DisposalSerializer(serializers.ModelSerializer):
    location = serializers.SerializerMethodField()
    date = serializers.DateField(source="business_date", read_only=True)
    lines = serializers.SerializerMethodField()

    class Meta:
        model = Movement
        fields = ["document", "location", "date", "note", "lines"]
        read_only_fields = fields

    def get_location(self, movement: Movement) -> str:
        return self.context["location"].code

    @extend_schema_field(DispensedLineSerializer(many=True))
    def get_lines(self, movement: Movement) -> list[dict]:
        location = self.context["location"]
        return [
            {"product": e.lot.product.code, "lot": e.lot.batch, "expiry": e.lot.expiry, "quantity": -e.quantity}
            for e in movement.entries.select_related("lot__product").order_by("id")
            if e.location_id == location.pk
        ]
