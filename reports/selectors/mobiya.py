"""MOBIYA (*Gerakan Cegah Putus KB*): where field workers should visit, from the open
dropout-risk alerts.

The rules, stated once (the page says them in a short note):

- **At risk**: every active (open or acknowledged) ``dropout_risk`` alert at a clinic
  under the root, optionally of one product and opened in a period. The alerts are
  computed by ``reports.services.dropout_alerts`` (set-based SQL, recomputed as stock
  moves); this report only reads them, so it never disagrees with the inbox.
- **Reason**: the alert's rule: ``stock_gap`` (stock will run out before the next
  resupply while the clinic has active users) or ``falling_dispensing`` (dispensing has
  fallen below what the active users need: users not coming back); a stock-gap alert
  that also saw falling dispensing says both.
- **Users at risk**: the alert's quantity (its ``users_at_risk`` figure).
- **Active users**: the clinic's current service figure of the method (``ServiceFigure``)
  of the latest month up to the current one.
- **Villages**: the location tree stops at clinics (national, province, district,
  clinic), so the list is of clinics, grouped by district.
- **Order, for visit planning**: districts with the most users at risk first; in each,
  clinics with the most users at risk first; in each clinic, its methods likewise.

National scale: two queries (the alerts with their clinic, district and product; the
latest service figures of those clinics, DISTINCT ON), then grouping in Python over the
active alerts only.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.models import Location, Product, ServiceFigure
from reports.models import ACTIVE, Alert, AlertKind
from reports.selectors.reconciliation import day_start

STOCK_GAP = "stock_gap"
FALLING = "falling_dispensing"


def reason_text(figures: dict) -> str:
    rule = (figures or {}).get("rule")
    if rule == STOCK_GAP:
        if figures.get("also_falling"):
            return _("Stock will run out before resupply; users are not coming back")
        return _("Stock will run out before resupply")
    if rule == FALLING:
        return _("Users are not coming back")
    return ""


@dataclass
class MobiyaRow:
    alert: Alert
    active_users: int | None

    @property
    def clinic(self) -> Location:
        return self.alert.location

    @property
    def product(self) -> Product:
        return self.alert.product

    @property
    def users_at_risk(self) -> int:
        return int(self.alert.quantity or 0)

    @property
    def rule(self) -> str:
        return (self.alert.figures or {}).get("rule", "")

    @property
    def reason(self) -> str:
        return reason_text(self.alert.figures)

    @property
    def stock_days(self):
        return (self.alert.figures or {}).get("stock_days") if self.rule == STOCK_GAP else None

    @property
    def next_resupply(self) -> str:
        return ((self.alert.figures or {}).get("next_resupply") or "") if self.rule == STOCK_GAP else ""


@dataclass
class ClinicGroup:
    clinic: Location
    rows: list[MobiyaRow] = field(default_factory=list)

    @property
    def users_at_risk(self) -> int:
        return sum(row.users_at_risk for row in self.rows)


@dataclass
class DistrictGroup:
    district: Location | None
    clinics: list[ClinicGroup] = field(default_factory=list)

    @property
    def users_at_risk(self) -> int:
        return sum(clinic.users_at_risk for clinic in self.clinics)


@dataclass
class MobiyaReport:
    districts: list[DistrictGroup]

    @property
    def clinic_count(self) -> int:
        return sum(len(d.clinics) for d in self.districts)

    @property
    def users_at_risk(self) -> int:
        return sum(d.users_at_risk for d in self.districts)

    def rows(self) -> list[dict]:
        """One dict per (clinic, method) in visit-planning order: the page's rows and the exports."""
        result = []
        for group in self.districts:
            for clinic in group.clinics:
                for row in clinic.rows:
                    result.append(
                        {
                            "district": group.district.code if group.district else "",
                            "district_name": group.district.name if group.district else "",
                            "clinic": clinic.clinic.code,
                            "clinic_name": clinic.clinic.name,
                            "clinic_users_at_risk": clinic.users_at_risk,
                            "product": row.product.code,
                            "method": row.product.get_method_display(),
                            "reason": row.reason,
                            "users_at_risk": row.users_at_risk,
                            "active_users": row.active_users,
                            "stock_days": row.stock_days,
                            "next_resupply": row.next_resupply,
                            "opened": timezone.localdate(row.alert.opened_at).isoformat(),
                        }
                    )
        return result


def dropout_alerts(
    *,
    root: Location | None,
    product: Product | None = None,
    opened_from: dt.date | None = None,
    opened_to: dt.date | None = None,
):
    """The active dropout-risk alerts at clinics under ``root`` (a queryset)."""
    alerts = Alert.objects.filter(kind=AlertKind.DROPOUT_RISK, status__in=ACTIVE)
    if root is not None:
        alerts = alerts.filter(location__path__startswith=root.path)
    if product is not None:
        alerts = alerts.filter(product=product)
    if opened_from is not None:
        alerts = alerts.filter(opened_at__gte=day_start(opened_from))
    if opened_to is not None:
        alerts = alerts.filter(opened_at__lt=day_start(opened_to + dt.timedelta(days=1)))
    return alerts


def latest_active_users(alerts, today: dt.date) -> dict[tuple[int, int], int]:
    """(clinic id, product id) → active users of the latest current service figure up to this month,
    for the clinics and products of ``alerts`` (a queryset; one query)."""
    figures = (
        ServiceFigure.objects.filter(
            is_current=True,
            month__lte=today.replace(day=1),
            location__in=alerts.values("location_id"),
            product__in=alerts.values("product_id"),
        )
        .order_by("location_id", "product_id", "-month")
        .distinct("location_id", "product_id")
        .values_list("location_id", "product_id", "active_users")
    )
    return {(loc, prod): users for loc, prod, users in figures}


def mobiya_report(
    *,
    root: Location | None,
    product: Product | None = None,
    opened_from: dt.date | None = None,
    opened_to: dt.date | None = None,
    today: dt.date | None = None,
) -> MobiyaReport:
    today = today or timezone.localdate()
    alerts = dropout_alerts(root=root, product=product, opened_from=opened_from, opened_to=opened_to)
    users = latest_active_users(alerts, today)
    found = list(alerts.select_related("location__parent", "product").order_by())
    clinics: dict[int, ClinicGroup] = {}
    for alert in found:
        group = clinics.setdefault(alert.location_id, ClinicGroup(alert.location))
        group.rows.append(MobiyaRow(alert, users.get((alert.location_id, alert.product_id))))
    districts: dict[int | None, DistrictGroup] = defaultdict(lambda: DistrictGroup(None))
    for group in clinics.values():
        group.rows.sort(key=lambda r: (-r.users_at_risk, r.product.code))
        parent = group.clinic.parent
        district = districts[parent.pk if parent else None]
        district.district = parent
        district.clinics.append(group)
    for district in districts.values():
        district.clinics.sort(key=lambda c: (-c.users_at_risk, c.clinic.code))
    ordered = sorted(districts.values(), key=lambda d: (-d.users_at_risk, d.district.code if d.district else ""))
    return MobiyaReport(districts=ordered)
