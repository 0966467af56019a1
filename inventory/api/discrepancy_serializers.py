"""Request and response shapes of the discrepancy endpoints: codes and numbers, the record's own id.

The resolution body is checked for shape here (a quantity is a JSON integer, a
reason one of the write-off reasons); whether the resolution fits the kind, the
quantity fits the record and the user may record it is the service's to decide
(``{"detail", "code"}``).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from inventory.api.params import CODE_MAX_LENGTH, code_validator
from inventory.api.shipment_serializers import NOTE_MAX_LENGTH, quantity_field
from inventory.models import WRITE_OFF_REASONS, Discrepancy, DiscrepancyKind, DiscrepancyStatus, EntryReason, Resolution
from inventory.selectors.discrepancies import route_choices
from inventory.services.discrepancies import resolutions_for

#: what a user may choose (``received`` is the system's own settlement by a receipt)
CHOOSABLE = [(r.value, r.label) for r in Resolution if r != Resolution.RECEIVED]
WRITE_OFF_REASON_CHOICES = [(r, EntryReason(r).label) for r in WRITE_OFF_REASONS]
#: a discrepancy older than ten years is a data problem, not a filter
MAX_AGE_DAYS = 3650


class DiscrepancyListParams(serializers.Serializer):
    # Blank means "any", so "?status=&kind=&location=" is the unfiltered list.
    status = serializers.ChoiceField(choices=DiscrepancyStatus.choices, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=DiscrepancyKind.choices, required=False, allow_blank=True)
    location = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=CODE_MAX_LENGTH,
        validators=[code_validator],
        help_text=_("Only shipments from or to this location or a location under it (its code)."),
    )
    route = serializers.ChoiceField(
        choices=route_choices(),
        required=False,
        allow_blank=True,
        help_text=_('Route level, origin level > destination level, e.g. "province>district".'),
    )
    min_age = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_AGE_DAYS,
        help_text=_("Only discrepancies opened at least this many days ago."),
    )


class ResolveInput(serializers.Serializer):
    resolution = serializers.ChoiceField(choices=CHOOSABLE)
    quantity = quantity_field(
        min_value=1,
        required=False,
        allow_null=True,
        help_text=_("How many units this resolves; all of the discrepancy when omitted. The rest stays open."),
    )
    reason = serializers.ChoiceField(
        choices=WRITE_OFF_REASON_CHOICES,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Why the goods are written off (write-off only)."),
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)


def _code(source: str, **kwargs) -> serializers.CharField:
    return serializers.CharField(source=source, read_only=True, **kwargs)


class DiscrepancyRecordSerializer(serializers.ModelSerializer):
    """A discrepancy with its shipment's route, its state and, once resolved, what resolved it.

    ``resolutions`` lists what the requesting user may choose now (the view passes
    ``user`` in the context); it is empty once the record is resolved.
    """

    shipment = _code("shipment.number")
    shipment_status = _code("shipment.status")
    origin = _code("shipment.origin.code")
    destination = _code("shipment.destination.code")
    product = _code("product.code")
    lot = _code("lot.batch")
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    return_shipment = _code("return_shipment.number", allow_null=True, default=None)
    mixup_lot = _code("mixup_lot.batch", allow_null=True, default=None)
    resolutions = serializers.SerializerMethodField(help_text=_("What you may resolve it by now."))

    class Meta:
        model = Discrepancy
        fields = [
            "id",
            "shipment",
            "shipment_status",
            "origin",
            "destination",
            "kind",
            "product",
            "lot",
            "quantity",
            "status",
            "created_at",
            "split_from",
            "resolutions",
            "resolution",
            "resolution_reason",
            "resolution_note",
            "resolved_at",
            "resolved_by",
            "return_shipment",
            "mixup_lot",
        ]
        read_only_fields = fields

    def get_resolutions(self, discrepancy: Discrepancy) -> list[str]:
        return resolutions_for(self.context["user"], discrepancy)


class ResolveResultSerializer(serializers.Serializer):
    discrepancy = DiscrepancyRecordSerializer(read_only=True)
    remainder = DiscrepancyRecordSerializer(
        read_only=True, allow_null=True, help_text=_("The open record for the rest, after a partial resolution.")
    )
    related = DiscrepancyRecordSerializer(
        many=True, read_only=True, help_text=_("Shorts resolved with it (the lot that was shipped instead).")
    )
