"""What clinics hand out to acceptors, and the monthly service figures they report.

Dispensing is a movement (clinic → dispensed); ``Dispensing`` is its document: the
day, or the month when the clinic records a monthly total. Service figures (active
and new users per method and month, *peserta KB aktif / baru*) feed the dropout-risk
alerts; the district closes a month, after which a correction is a new record that
keeps the one it replaces.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DispensingPeriod(models.TextChoices):
    DAY = "day", _("Day")
    MONTH = "month", _("Month (total)")


class Dispensing(models.Model):
    location = models.ForeignKey(
        "inventory.Location", verbose_name=_("clinic"), on_delete=models.PROTECT, related_name="dispensings"
    )
    date = models.DateField(_("date"))
    period = models.CharField(_("period"), max_length=8, choices=DispensingPeriod.choices, default="day")
    client_uuid = models.UUIDField(_("client UUID"), unique=True, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    note = models.TextField(_("note"), blank=True, default="")
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )
    movement = models.OneToOneField(
        "inventory.Movement", verbose_name=_("movement"), on_delete=models.PROTECT, related_name="dispensing"
    )

    class Meta:
        verbose_name = _("dispensing")
        verbose_name_plural = _("dispensings")
        ordering = ["-date", "-id"]
        indexes = [models.Index(fields=["location", "date"], name="dispensing_location_date")]

    def __str__(self) -> str:
        return f"{self.location_id} {self.date:%Y-%m-%d}"


class ServiceFigure(models.Model):
    """Active and new users of one method (product) at one clinic in one month.

    Exactly one current row per (location, month, product). Before the month is
    closed the row is edited in place (who and when recorded); after, a correction
    is a new current row and the old one stays, no longer current, with a pointer.
    """

    location = models.ForeignKey(
        "inventory.Location", verbose_name=_("clinic"), on_delete=models.PROTECT, related_name="service_figures"
    )
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    product = models.ForeignKey("inventory.Product", verbose_name=_("method"), on_delete=models.PROTECT)
    active_users = models.PositiveIntegerField(_("active users"))
    new_users = models.PositiveIntegerField(_("new users"))
    is_current = models.BooleanField(_("current"), default=True)
    is_correction = models.BooleanField(_("correction after close"), default=False)
    replaces = models.OneToOneField(
        "self",
        verbose_name=_("replaces"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
    )
    note = models.TextField(_("note"), blank=True, default="")
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("service figure")
        verbose_name_plural = _("service figures")
        ordering = ["-month", "location", "product", "-id"]
        indexes = [models.Index(fields=["location", "month"], name="servicefigure_location_month")]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "month", "product"],
                condition=Q(is_current=True),
                name="servicefigure_one_current",
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="servicefigure_month_first_day"),
            models.CheckConstraint(
                condition=Q(new_users__lte=models.F("active_users")), name="servicefigure_new_within_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.month:%Y-%m} {self.product_id}"


class MonthClose(models.Model):
    """A district has closed a month: its clinics' service figures are final."""

    location = models.ForeignKey(
        "inventory.Location", verbose_name=_("district"), on_delete=models.PROTECT, related_name="month_closes"
    )
    month = models.DateField(_("month"))
    closed_at = models.DateTimeField(_("closed at"), default=timezone.now)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("closed by"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("closed month")
        verbose_name_plural = _("closed months")
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["location", "month"], name="monthclose_unique"),
            models.CheckConstraint(condition=Q(month__day=1), name="monthclose_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.month:%Y-%m}"
