"""The stock ledger (kartu stok): movements, their entries, and the balances they keep.

Double entry: a movement is one document (an opening balance, a dispatch, a
receipt…) and its entries net to zero per lot, so stock is only ever moved between
locations; units that come from or go to the world outside the warehouses move
against a virtual location.

Append-only: movements and entries are never updated or deleted (database
triggers refuse it); a mistake is corrected by a reversing movement.

``StockBalance`` caches the current quantity per (real location, lot). It is
maintained by the posting service in the same transaction as the entries, and a
CHECK keeps it from going negative. Virtual locations have no balance rows: every
dispatch in the province would otherwise queue on the one "in transit" row.

Only ``inventory.services.posting.movement_post`` writes these tables.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MovementKind(models.TextChoices):
    OPENING = "opening", _("Opening balance")
    DISPATCH = "dispatch", _("Dispatch")
    RECEIPT = "receipt", _("Receipt")
    DISPENSING = "dispensing", _("Dispensing")
    ADJUSTMENT = "adjustment", _("Adjustment")
    LOSS = "loss", _("Loss")
    RETURN = "return", _("Return")
    REVERSAL = "reversal", _("Reversal")


class EntryReason(models.TextChoices):
    """Why units went to loss or adjustment (blank for ordinary movements)."""

    DAMAGED = "damaged", _("Damaged")
    EXPIRED = "expired", _("Expired")
    LOST = "lost", _("Lost")
    STOLEN = "stolen", _("Stolen")


class Movement(models.Model):
    kind = models.CharField(_("kind"), max_length=16, choices=MovementKind.choices)
    document = models.CharField(_("document"), max_length=64, help_text=_("Voucher number, e.g. SBBK-72-2026-000001"))
    business_date = models.DateField(_("business date"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.PROTECT
    )
    note = models.TextField(_("note"), blank=True, default="")
    reverses = models.OneToOneField(
        "self", verbose_name=_("reverses"), null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )

    class Meta:
        verbose_name = _("movement")
        verbose_name_plural = _("movements")
        ordering = ["-id"]
        indexes = [models.Index(fields=["document"], name="movement_document")]
        constraints = [models.CheckConstraint(condition=~Q(document=""), name="movement_document_not_empty")]

    def __str__(self) -> str:
        return f"{self.document} ({self.get_kind_display()}, {self.business_date:%Y-%m-%d})"


class LedgerEntry(models.Model):
    # Indexed with the lot below (entry_movement_lot), which serves the foreign key
    # and the commit-time "nets to zero per lot" trigger in one range scan.
    movement = models.ForeignKey(
        Movement, verbose_name=_("movement"), on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    # No index of its own: the composite indexes below lead with the location, and
    # every index costs each posting an insert.
    location = models.ForeignKey(
        "inventory.Location", verbose_name=_("location"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # The product is denormalised from the lot so a stock card (location, product) is
    # one index scan. One composite foreign key, (lot_id, product_id) → lot (id,
    # product_id) in migration 0002's SQL, guarantees both columns: the lot exists
    # and the product is its product. Separate single-column constraints would add
    # two checks per entry, each taking a share lock on a row every posting of that
    # lot or product touches, for nothing. Products (eight) are never deleted, so
    # the product column has no index of its own either.
    lot = models.ForeignKey(
        "inventory.Lot", verbose_name=_("lot"), on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    product = models.ForeignKey(
        "inventory.Product",
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    quantity = models.BigIntegerField(_("quantity"))
    kind = models.CharField(_("kind"), max_length=16, choices=MovementKind.choices)
    # db_default: rows written before this column existed, and any writer that does
    # not name it, get a blank reason from the database itself.
    reason = models.CharField(_("reason"), max_length=16, choices=EntryReason.choices, blank=True, db_default="")
    business_date = models.DateField(_("business date"))
    recorded_at = models.DateTimeField(_("recorded at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Balance of (location, lot) right after this entry, in posting order; NULL at
    # virtual locations, which keep no running balance.
    balance_after = models.BigIntegerField(_("balance after"), null=True, blank=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["location", "product", "id"], name="entry_stock_card"),
            # Covering (INCLUDE) so check_ledger's passes over every entry are
            # index-only scans in the order they need, without a sort.
            models.Index(
                fields=["location", "lot", "id"], include=["quantity", "balance_after"], name="entry_location_lot"
            ),
            models.Index(fields=["movement", "lot"], include=["quantity"], name="entry_movement_lot"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="entry_quantity_nonzero"),
            models.CheckConstraint(
                condition=Q(balance_after__isnull=True) | Q(balance_after__gte=0),
                name="entry_balance_after_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.location_id}/{self.lot_id}: {self.quantity:+d}"


class StockBalance(models.Model):
    location = models.ForeignKey(
        "inventory.Location", verbose_name=_("location"), on_delete=models.PROTECT, related_name="balances"
    )
    lot = models.ForeignKey("inventory.Lot", verbose_name=_("lot"), on_delete=models.PROTECT, related_name="balances")
    product = models.ForeignKey(
        "inventory.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="balances"
    )
    quantity = models.BigIntegerField(_("quantity"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stock balance")
        verbose_name_plural = _("stock balances")
        constraints = [
            models.UniqueConstraint(fields=["location", "lot"], name="balance_unique_location_lot"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="balance_quantity_nonnegative"),
        ]
        indexes = [models.Index(fields=["location", "product"], name="balance_location_product")]

    def __str__(self) -> str:
        return f"{self.location_id}/{self.lot_id}: {self.quantity}"
