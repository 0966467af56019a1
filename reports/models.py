"""Alerts: what needs someone's attention, one open alert per (kind, location, product).

``compute_alerts`` (reports.services.alerts) recomputes conditions from the ledger
and the service figures and syncs this table: a condition still true updates its
open alert (figures, ``updated_at``), a new one opens an alert, one that cleared
resolves it. Messages are built when shown, from the kind and the stored figures,
so each reader gets them in their own language.

Notifications: one row per (alert, user) whose scope covers the alert's location
and whose role cares. The e-mail of a row is claimed by setting ``emailed_at`` in
an ``UPDATE … WHERE emailed_at IS NULL``, so a retried or duplicated task never
sends it twice.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AlertKind(models.TextChoices):
    STOCKOUT = "stockout", _("Stockout")
    EMERGENCY = "emergency", _("Below emergency order point")
    LOW_STOCK = "low_stock", _("Below minimum")
    OVERSTOCK = "overstock", _("Above maximum")
    EXPIRY_RISK = "expiry_risk", _("Expiry risk")
    OVERDUE_SHIPMENT = "overdue_shipment", _("Overdue shipment")
    OPEN_DISCREPANCY = "open_discrepancy", _("Open discrepancy")
    LEDGER_MISMATCH = "ledger_mismatch", _("Ledger mismatch")
    DROPOUT_RISK = "dropout_risk", _("Dropout risk (MOBIYA)")


# Who cares about which kind (managers and administrators: all of them).
STOCK_KINDS = (
    AlertKind.STOCKOUT,
    AlertKind.EMERGENCY,
    AlertKind.LOW_STOCK,
    AlertKind.OVERSTOCK,
    AlertKind.EXPIRY_RISK,
    AlertKind.OVERDUE_SHIPMENT,
    AlertKind.OPEN_DISCREPANCY,
    AlertKind.LEDGER_MISMATCH,
)
FIELD_KINDS = (AlertKind.DROPOUT_RISK, AlertKind.STOCKOUT)


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


ACTIVE = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)


class Severity(models.IntegerChoices):
    INFO = 1, _("Information")
    WARNING = 2, _("Warning")
    CRITICAL = 3, _("Critical")


class Alert(models.Model):
    kind = models.CharField(_("kind"), max_length=24, choices=AlertKind.choices)
    # No single-column indexes on the foreign keys: alert_location_status and the unique
    # alert_one_active (kind, location, product) serve every lookup, and each index is one
    # more write per alert (a first national run opens 100,000+ at once).
    location = models.ForeignKey(
        "inventory.Location",
        verbose_name=_("location"),
        on_delete=models.PROTECT,
        related_name="alerts",
        db_index=False,
    )
    # Empty for alerts about a location as a whole (a ledger mismatch).
    product = models.ForeignKey(
        "inventory.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
    )
    status = models.CharField(_("status"), max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices, default=Severity.WARNING)
    # The figure the alert is about (units short, units at risk, users at risk, days
    # overdue…), for sorting and the inbox; the rest is in ``figures``.
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=2, null=True, blank=True)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    acknowledgement_note = models.TextField(_("acknowledgement note"), blank=True, default="")

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-severity", "-opened_at", "-id"]
        indexes = [
            models.Index(fields=["status", "kind"], name="alert_status_kind"),
            models.Index(fields=["location", "status"], name="alert_location_status"),
        ]
        constraints = [
            # One active alert per (kind, location, product); NULL products are equal here.
            models.UniqueConstraint(
                fields=["kind", "location", "product"],
                condition=Q(status__in=["open", "acknowledged"]),
                nulls_distinct=False,
                name="alert_one_active",
            ),
            models.CheckConstraint(
                condition=Q(status="resolved", resolved_at__isnull=False)
                | (~Q(status="resolved") & Q(resolved_at__isnull=True)),
                name="alert_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="acknowledged") | Q(acknowledged_at__isnull=False, acknowledged_by__isnull=False),
                name="alert_acknowledged_has_who",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.location_id}/{self.product_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


class Notification(models.Model):
    """An alert in one user's inbox; e-mailed once (immediately or in the daily digest)."""

    alert = models.ForeignKey(Alert, verbose_name=_("alert"), on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="notifications"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # Set when the e-mail is claimed (just before it is sent), in one conditional UPDATE.
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_read")]
        constraints = [models.UniqueConstraint(fields=["alert", "user"], name="notification_once_per_user")]

    def __str__(self) -> str:
        return f"{self.alert_id} → {self.user_id}"


class AlertSettings(models.Model):
    """The thresholds of the alerts: one row (pk 1), edited in the admin."""

    expiry_horizon_days = models.PositiveIntegerField(
        _("expiry horizon (days)"),
        default=180,
        help_text=_("Expiry risk looks at lots expiring within this many days."),
    )
    open_discrepancy_days = models.PositiveIntegerField(
        _("open discrepancy age (days)"),
        default=14,
        help_text=_("A discrepancy still open after this many days raises an alert."),
    )
    dropout_share = models.DecimalField(
        _("dropout share"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.70"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("1.00"))],
        help_text=_("Dropout risk when a clinic dispenses less than this share of what its active users need."),
    )
    dropout_months = models.PositiveSmallIntegerField(
        _("dropout months"),
        default=2,
        validators=[MinValueValidator(1)],
        help_text=_("…for this many consecutive complete months."),
    )
    resupply_days = models.PositiveIntegerField(
        _("resupply interval (days)"),
        default=30,
        validators=[MinValueValidator(1)],
        help_text=_("When no shipment to a clinic is on its way, its next resupply is expected this many days out."),
    )
    debounce_seconds = models.PositiveIntegerField(
        _("debounce (seconds)"),
        default=300,
        help_text=_("Alerts of a location are recomputed this long after the first posting that touches it."),
    )

    class Meta:
        verbose_name = _("alert settings")
        verbose_name_plural = _("alert settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="alertsettings_single_row")]

    def __str__(self) -> str:
        return str(_("Alert settings"))

    @classmethod
    def current(cls) -> AlertSettings:
        settings_row, _created = cls.objects.get_or_create(pk=1)
        return settings_row


from reports.models_exports import DashboardSnapshot, ExportFormat, ExportJob, ExportStatus  # noqa: E402,F401
