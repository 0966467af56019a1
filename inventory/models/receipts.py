"""Receipts (SBBM): what the destination counted, and the discrepancies it showed.

A receipt is posted once per client UUID: the scanner app or the browser makes the
UUID before sending, so a retry after a lost response finds the first receipt
instead of posting again (the UNIQUE constraint is the last guard). The request's
normalised body is kept as a hash so the same UUID with a different body is
refused rather than silently answered with the old receipt.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Receipt(models.Model):
    shipment = models.ForeignKey(
        "inventory.Shipment", verbose_name=_("shipment"), on_delete=models.PROTECT, related_name="receipts"
    )
    client_uuid = models.UUIDField(_("client UUID"), unique=True)
    request_hash = models.CharField(max_length=64, editable=False)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("received by"), on_delete=models.PROTECT, related_name="+"
    )
    business_date = models.DateField(_("business date"))
    note = models.TextField(_("note"), blank=True, default="")
    movement = models.OneToOneField(
        "inventory.Movement", null=True, blank=True, on_delete=models.PROTECT, related_name="receipt"
    )

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"SBBM {self.shipment_id}/{self.pk}"


class ReceiptLine(models.Model):
    receipt = models.ForeignKey(Receipt, verbose_name=_("receipt"), on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("inventory.Product", verbose_name=_("product"), on_delete=models.PROTECT)
    lot = models.ForeignKey("inventory.Lot", verbose_name=_("lot found"), on_delete=models.PROTECT)
    received = models.PositiveIntegerField(_("received in good condition"))
    damaged = models.PositiveIntegerField(_("damaged"), default=0)

    class Meta:
        verbose_name = _("receipt line")
        verbose_name_plural = _("receipt lines")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(received__gt=0) | Q(damaged__gt=0), name="receiptline_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.lot_id}: {self.received} + {self.damaged}"


class DiscrepancyKind(models.TextChoices):
    SHORT = "short", _("Short")
    OVER = "over", _("Over")
    DAMAGED = "damaged", _("Damaged")
    OTHER_LOT = "other_lot", _("Other lot")
    # Still in transit past the expected arrival (opened by the daily task).
    OVERDUE = "overdue", _("Overdue")


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class Resolution(models.TextChoices):
    WRITE_OFF = "write_off", _("Write-off")
    LATE_RECEIPT = "late_receipt", _("Late receipt")
    RETURN = "return", _("Return")
    ACCEPT = "accept", _("Accept")
    # Set by the system: a later receipt of the shipment brought the goods, or
    # replaced this figure with a new one.
    RECEIVED = "received", _("Settled by a receipt")


# Why a write-off: the reasons that make sense for goods that never arrived.
WRITE_OFF_REASONS = ("lost", "stolen", "expired")


class Discrepancy(models.Model):
    shipment = models.ForeignKey(
        "inventory.Shipment", verbose_name=_("shipment"), on_delete=models.PROTECT, related_name="discrepancies"
    )
    # Empty for an overdue shipment (no receipt yet) and for the remainder of a
    # partial resolution that was not tied to a receipt.
    receipt = models.ForeignKey(
        Receipt,
        verbose_name=_("receipt"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="discrepancies",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=DiscrepancyKind.choices)
    product = models.ForeignKey("inventory.Product", verbose_name=_("product"), on_delete=models.PROTECT)
    lot = models.ForeignKey("inventory.Lot", verbose_name=_("lot"), on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(_("quantity"))
    status = models.CharField(
        _("status"), max_length=16, choices=DiscrepancyStatus.choices, default=DiscrepancyStatus.OPEN
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # A partial resolution resolves this record for part of its quantity and opens
    # a new record for the rest, pointing back here.
    split_from = models.ForeignKey(
        "self", verbose_name=_("split from"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    resolution = models.CharField(_("resolution"), max_length=16, choices=Resolution.choices, blank=True, default="")
    resolution_reason = models.CharField(_("reason"), max_length=16, blank=True, default="")
    resolution_note = models.TextField(_("resolution note"), blank=True, default="")
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolution_movement = models.ForeignKey(
        "inventory.Movement",
        verbose_name=_("resolution movement"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="resolved_discrepancies",
    )
    return_shipment = models.ForeignKey(
        "inventory.Shipment",
        verbose_name=_("return shipment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="returned_discrepancies",
    )
    # Accepting another lot: the lot that was shipped and that the found lot stood in for.
    mixup_lot = models.ForeignKey(
        "inventory.Lot",
        verbose_name=_("lot shipped instead"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("discrepancy")
        verbose_name_plural = _("discrepancies")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["status", "kind"], name="discrepancy_status_kind"),
            models.Index(fields=["shipment", "status"], name="discrepancy_shipment_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="discrepancy_quantity_positive"),
            # Open: no resolution recorded. Resolved: what, when and (except for the
            # system's own settlement by a receipt) who.
            models.CheckConstraint(
                condition=(
                    Q(status=DiscrepancyStatus.OPEN, resolution="", resolved_at__isnull=True)
                    | (
                        Q(status=DiscrepancyStatus.RESOLVED, resolved_at__isnull=False)
                        & ~Q(resolution="")
                        & (Q(resolution=Resolution.RECEIVED) | Q(resolved_by__isnull=False))
                    )
                ),
                name="discrepancy_resolution_complete",
            ),
            models.CheckConstraint(
                condition=~Q(resolution=Resolution.WRITE_OFF) | Q(resolution_reason__in=WRITE_OFF_REASONS),
                name="discrepancy_write_off_reason",
            ),
            models.CheckConstraint(
                condition=~Q(resolution=Resolution.RETURN) | Q(return_shipment__isnull=False),
                name="discrepancy_return_has_shipment",
            ),
            models.CheckConstraint(
                condition=Q(receipt__isnull=False) | Q(kind__in=["overdue", "short"]),
                name="discrepancy_receipt_kinds",
            ),
            # The daily task opens at most one overdue record per shipment and lot.
            models.UniqueConstraint(
                fields=["shipment", "lot"],
                condition=Q(kind="overdue", status="open"),
                name="discrepancy_one_open_overdue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity} ({self.shipment_id})"
