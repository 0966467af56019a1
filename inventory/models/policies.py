"""Max-min stock policy, in months of stock: one row per level, overridable per location."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from inventory.models.locations import REAL_LEVELS, Level


class StockPolicyQuerySet(models.QuerySet):
    def for_location(self, location) -> StockPolicy | None:
        """The location's own policy if it has one, else its level's."""
        return (
            self.filter(Q(location=location) | Q(location__isnull=True, level=location.level))
            .order_by(F("location").asc(nulls_last=True))
            .first()
        )


class StockPolicy(models.Model):
    level = models.CharField(
        _("level"), max_length=16, choices=[(lv.value, lv.label) for lv in REAL_LEVELS], null=True, blank=True
    )
    location = models.OneToOneField(
        "inventory.Location",
        verbose_name=_("location"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="stock_policy",
    )
    min_months = models.DecimalField(_("minimum (months)"), max_digits=5, decimal_places=2)
    max_months = models.DecimalField(_("maximum (months)"), max_digits=5, decimal_places=2)
    emergency_months = models.DecimalField(_("emergency order point (months)"), max_digits=5, decimal_places=2)

    objects = StockPolicyQuerySet.as_manager()

    class Meta:
        verbose_name = _("stock policy")
        verbose_name_plural = _("stock policies")
        constraints = [
            models.CheckConstraint(
                condition=(Q(level__isnull=False) & Q(location__isnull=True))
                | (Q(level__isnull=True) & Q(location__isnull=False)),
                name="stockpolicy_level_xor_location",
            ),
            models.UniqueConstraint(
                fields=["level"], condition=Q(location__isnull=True), name="stockpolicy_one_per_level"
            ),
            models.CheckConstraint(
                condition=Q(emergency_months__gte=0)
                & Q(emergency_months__lte=F("min_months"))
                & Q(min_months__lt=F("max_months")),
                name="stockpolicy_emergency_le_min_lt_max",
            ),
        ]

    def __str__(self) -> str:
        target = self.location or self.get_level_display()
        return f"{target}: {self.min_months}–{self.max_months} ({self.emergency_months})"

    def clean(self) -> None:
        if (self.level is None) == (self.location_id is None):
            raise ValidationError(_("Choose either a level or a location, not both."))
        if self.location_id and self.location.level == Level.VIRTUAL:
            raise ValidationError({"location": _("Virtual locations hold no stock policy.")})
        months = (self.min_months, self.max_months, self.emergency_months)
        if None not in months and not (Decimal(0) <= self.emergency_months <= self.min_months < self.max_months):
            raise ValidationError(_("The months must satisfy: 0 ≤ emergency order point ≤ minimum < maximum."))
