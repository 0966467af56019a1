"""Request and response shapes of the alert endpoints: codes, the alert's own id, and its
message in the language of the request (``reports.alert_text``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.api.params import CODE_MAX_LENGTH, ProductCodeField, code_validator
from reports import alert_text
from reports.models import Alert, AlertKind
from reports.selectors.alerts import STATUS_FILTERS
from reports.services.acknowledge import NOTE_MAX_LENGTH


class AlertListParams(serializers.Serializer):
    # Blank means the default, so "?kind=&status=&location=&product=" is the active list.
    kind = serializers.ChoiceField(choices=AlertKind.choices, required=False, allow_blank=True)
    status = serializers.ChoiceField(
        choices=[(s, s) for s in STATUS_FILTERS],
        required=False,
        allow_blank=True,
        help_text=_(
            'open, acknowledged, resolved; "active" (open or acknowledged, the default) or "all". '
            "Active alerts come first, then the most severe, then the newest."
        ),
    )
    location = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=CODE_MAX_LENGTH,
        validators=[code_validator],
        help_text=_("Only alerts of this location or a location under it (its code)."),
    )
    product = ProductCodeField(required=False, help_text=_("Only alerts about this product (its code)."))

    def to_internal_value(self, data):
        # An empty product is "any product", not a lookup of the code "".
        if hasattr(data, "get") and data.get("product", None) == "":
            data = data.copy()
            data.pop("product")
        return super().to_internal_value(data)


class AcknowledgeInput(serializers.Serializer):
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=NOTE_MAX_LENGTH,
        help_text=_("What is being done about it (optional)."),
    )


class AlertSerializer(serializers.ModelSerializer):
    """An alert with its figures and its sentence (``message``) in the request's language."""

    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    location = serializers.CharField(source="location.code", read_only=True)
    location_name = serializers.CharField(source="location.name", read_only=True)
    product = serializers.CharField(source="product.code", read_only=True, allow_null=True, default=None)
    quantity = serializers.DecimalField(
        max_digits=14, decimal_places=2, coerce_to_string=False, read_only=True, allow_null=True
    )
    figures = serializers.SerializerMethodField(help_text=_("The numbers behind the alert; keys depend on the kind."))
    title = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField(help_text=_("The alert as one sentence, in the request's language."))
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    note = serializers.CharField(source="acknowledgement_note", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "kind_display",
            "status",
            "severity",
            "location",
            "location_name",
            "product",
            "quantity",
            "figures",
            "title",
            "message",
            "opened_at",
            "updated_at",
            "resolved_at",
            "acknowledged_by",
            "acknowledged_at",
            "note",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_figures(self, alert: Alert) -> dict:
        return alert.figures or {}

    def get_title(self, alert: Alert) -> str:
        return alert_text.title(alert)

    def get_message(self, alert: Alert) -> str:
        return alert_text.describe(alert)
