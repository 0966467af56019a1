"""Alert and notification rows made directly, for the page, API, admin and acknowledge tests
(the computation that normally writes them is tested on its own)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from inventory.models import Product
from reports.models import Alert, AlertKind, AlertStatus, Notification, Severity

STOCK_FIGURES = {
    "soh": 12,
    "amc": 40.0,
    "mos": 0.3,
    "in_transit": 0,
    "min_months": 1.0,
    "max_months": 3.0,
    "emergency_months": 0.5,
    "suggested_order": 108,
}


def make_alert(
    location,
    kind=AlertKind.LOW_STOCK,
    product="KONDOM",
    *,
    severity=None,
    status=AlertStatus.OPEN,
    age_days=0,
    figures=None,
    quantity=None,
    acknowledged_by=None,
):
    product_row = Product.objects.get(code=product) if product else None
    opened = timezone.now() - dt.timedelta(days=age_days)
    severity = severity or {
        AlertKind.STOCKOUT: Severity.CRITICAL,
        AlertKind.EMERGENCY: Severity.CRITICAL,
        AlertKind.OVERSTOCK: Severity.INFO,
        AlertKind.LEDGER_MISMATCH: Severity.CRITICAL,
    }.get(kind, Severity.WARNING)
    if figures is None:
        figures = (
            dict(STOCK_FIGURES)
            if kind in (AlertKind.STOCKOUT, AlertKind.EMERGENCY, AlertKind.LOW_STOCK, AlertKind.OVERSTOCK)
            else {}
        )
    extra = {}
    if status == AlertStatus.RESOLVED:
        extra["resolved_at"] = timezone.now()
    if status == AlertStatus.ACKNOWLEDGED:
        extra["acknowledged_at"] = timezone.now()
        extra["acknowledged_by"] = acknowledged_by
    return Alert.objects.create(
        kind=kind,
        location=location,
        product=product_row,
        severity=severity,
        status=status,
        figures=figures,
        quantity=quantity if quantity is not None else figures.get("suggested_order"),
        opened_at=opened,
        updated_at=opened,
        **extra,
    )


def notify(alert, *users):
    return [Notification.objects.create(alert=alert, user=user) for user in users]
