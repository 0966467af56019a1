"""Shipments (SBBK), what the destination counted on arrival (SBBM), and the
differences between the two.

A shipment is a document before it is a movement: a draft has a number and lines
but moves nothing. Dispatching it posts one movement (origin → in transit) and gives
it an unguessable token, printed as a QR code on the waybill. Receiving posts one
movement per receipt (in transit → destination, damaged units → loss); a shipment
can be received in parts. A receipt line that differs from what was shipped opens
a discrepancy.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ShipmentStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    DISPATCHED = "dispatched", _("Dispatched")
    PARTIALLY_RECEIVED = "partially_received", _("Partially received")
    RECEIVED = "received", _("Received")
    CLOSED = "closed", _("Closed")


class ShipmentCounter(models.Model):
    """The last SBBK sequence number used per origin and year.

    Numbers come from this row, locked by ``UPDATE … RETURNING`` in the transaction
    that creates the shipment: a rolled-back creation rolls the counter back too, so
    the sequence has no gaps (a PostgreSQL sequence would leave one per rollback).
    """

    origin = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["origin", "year"], name="shipmentcounter_origin_year")]

    def __str__(self) -> str:
        return f"{self.origin_id}/{self.year}: {self.last}"


class Shipment(models.Model):
    number = models.CharField(_("number"), max_length=64, unique=True)
    origin = models.ForeignKey(
        "inventory.Location", verbose_name=_("origin"), on_delete=models.PROTECT, related_name="shipments_out"
    )
    destination = models.ForeignKey(
        "inventory.Location", verbose_name=_("destination"), on_delete=models.PROTECT, related_name="shipments_in"
    )
    status = models.CharField(_("status"), max_length=24, choices=ShipmentStatus.choices, default=ShipmentStatus.DRAFT)
    # At least 128 random bits, URL-safe; never derived from the number or the id.
    token = models.CharField(_("token"), max_length=64, unique=True, null=True, blank=True, editable=False)
    note = models.TextField(_("note"), blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("dispatched by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    dispatch_date = models.DateField(_("dispatch date"), null=True, blank=True)
    expected_arrival = models.DateField(_("expected arrival"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # A return created to resolve a discrepancy of another shipment.
    returns = models.ForeignKey(
        "self", verbose_name=_("return of"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispatch_movement = models.OneToOneField(
        "inventory.Movement", null=True, blank=True, on_delete=models.PROTECT, related_name="dispatched_shipment"
    )

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["origin", "status"], name="shipment_origin_status"),
            models.Index(fields=["destination", "status"], name="shipment_destination_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(origin=models.F("destination")), name="shipment_origin_not_destination"
            ),
            # A dispatched shipment always has its token, its movement and its date.
            models.CheckConstraint(
                condition=Q(status=ShipmentStatus.DRAFT)
                | Q(token__isnull=False, dispatch_movement__isnull=False, dispatched_at__isnull=False),
                name="shipment_dispatched_has_token",
            ),
            models.CheckConstraint(
                condition=~Q(status=ShipmentStatus.CLOSED) | Q(closed_at__isnull=False),
                name="shipment_closed_has_time",
            ),
            models.CheckConstraint(
                condition=Q(token__isnull=True) | Q(token__regex=r"^[A-Za-z0-9_-]{22,}$"),
                name="shipment_token_shape",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, verbose_name=_("shipment"), on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("inventory.Product", verbose_name=_("product"), on_delete=models.PROTECT)
    # Chosen by the user, or allocated first-expiry-first-out at dispatch.
    lot = models.ForeignKey("inventory.Lot", verbose_name=_("lot"), null=True, blank=True, on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("shipment line")
        verbose_name_plural = _("shipment lines")
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="shipmentline_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.shipment_id}: {self.product_id} {self.quantity}"
