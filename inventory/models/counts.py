"""Stock counts (stock opname): what was on the shelf, and the adjustment it leads to.

A count is taken (submitted) at one moment: each line keeps the system's balance of
its lot at that moment. Approval, later and by someone else, posts per lot the
difference ``counted − system quantity at count time`` between the location and
the virtual count-adjustment location, so dispatches and receipts posted between
the count and its approval stay in the balance.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CountStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class StockCount(models.Model):
    location = models.ForeignKey(
        "inventory.Location", verbose_name=_("location"), on_delete=models.PROTECT, related_name="stock_counts"
    )
    status = models.CharField(_("status"), max_length=16, choices=CountStatus.choices, default=CountStatus.DRAFT)
    # Blind: the sheet does not show the system's quantities to the counter.
    blind = models.BooleanField(_("blind count"), default=False)
    # The API's idempotency key (optional for the web form, which posts once).
    client_uuid = models.UUIDField(_("client UUID"), unique=True, null=True, blank=True)
    note = models.TextField(_("note"), blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    # When the count was taken: the system quantities on the lines are as of then.
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("approved or rejected at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved or rejected by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decision_note = models.TextField(_("decision note"), blank=True, default="")
    movement = models.OneToOneField(
        "inventory.Movement",
        verbose_name=_("adjustment movement"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stock_count",
    )

    class Meta:
        verbose_name = _("stock count")
        verbose_name_plural = _("stock counts")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["location", "status"], name="count_location_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=CountStatus.DRAFT) | Q(counted_at__isnull=False, submitted_by__isnull=False),
                name="count_submitted_has_time",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[CountStatus.DRAFT, CountStatus.SUBMITTED])
                | Q(decided_at__isnull=False, decided_by__isnull=False),
                name="count_decided_has_who_and_when",
            ),
            # Four eyes: whoever took the count does not approve it.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("submitted_by")),
                name="count_not_approved_by_counter",
            ),
        ]

    def __str__(self) -> str:
        return f"OPN-{self.pk}"

    @property
    def number(self) -> str:
        return f"OPN-{self.pk:06d}" if self.pk else "OPN-"


class StockCountLine(models.Model):
    count = models.ForeignKey(StockCount, verbose_name=_("stock count"), on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("inventory.Product", verbose_name=_("product"), on_delete=models.PROTECT)
    lot = models.ForeignKey("inventory.Lot", verbose_name=_("lot"), on_delete=models.PROTECT)
    # The balance of the lot at the location when the count was taken.
    system_quantity = models.BigIntegerField(_("system quantity"), null=True, blank=True)
    counted = models.PositiveIntegerField(_("counted"), null=True, blank=True)

    class Meta:
        verbose_name = _("stock count line")
        verbose_name_plural = _("stock count lines")
        ordering = ["product__code", "lot__expiry", "lot__batch"]
        constraints = [
            models.UniqueConstraint(fields=["count", "lot"], name="countline_one_per_lot"),
            models.CheckConstraint(
                condition=Q(system_quantity__isnull=True) | Q(system_quantity__gte=0),
                name="countline_system_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.count_id}: {self.lot_id} {self.counted}"

    @property
    def difference(self) -> int | None:
        if self.counted is None or self.system_quantity is None:
            return None
        return self.counted - self.system_quantity
