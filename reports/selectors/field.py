"""The field worker's page (PKB/PLKB): the clinics of one district, what each is short of,
and who may stop using contraception there.

- **Stock problems**: per active clinic under the area, the products whose status is
  stocked out, below the emergency order point or below minimum, with stock on hand
  and months of stock, straight from ``reports.selectors.indicators.stock_indicators``
  (one statement for every clinic; AMC and MOS are never recomputed here).
- **Dropout risk**: the MOBIYA rows of those clinics (``reports.selectors.mobiya``:
  the active dropout-risk alerts with their reason and users at risk).
- **Order**: clinics with the most products out of stock first, then the most users at
  risk, then the most products below the emergency point, below minimum, then by code;
  clinics with nothing to report are only named, at the end.

A handful of queries whatever the number of clinics: the clinics, the indicators
statement (with its binary search for the window's first ledger id), the products,
the alerts and their service figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from inventory.models import Level, Location, Product
from reports.selectors.indicators import IndicatorRow, StockStatus, stock_indicators
from reports.selectors.mobiya import ClinicGroup, mobiya_report

#: the statuses the page lists, most urgent first
PROBLEMS = (StockStatus.STOCKED_OUT, StockStatus.EMERGENCY, StockStatus.BELOW_MIN)


@dataclass
class ClinicStatus:
    clinic: Location
    problems: list[IndicatorRow] = field(default_factory=list)  # ``product`` set, most urgent first
    dropout: ClinicGroup | None = None

    def count(self, status: str) -> int:
        return sum(1 for row in self.problems if row.status == status)

    @property
    def stockouts(self) -> int:
        return self.count(StockStatus.STOCKED_OUT)

    @property
    def users_at_risk(self) -> int:
        return self.dropout.users_at_risk if self.dropout else 0

    @property
    def has_news(self) -> bool:
        return bool(self.problems or self.dropout)

    def urgency(self):
        return (
            -self.stockouts,
            -self.users_at_risk,
            -self.count(StockStatus.EMERGENCY),
            -self.count(StockStatus.BELOW_MIN),
            self.clinic.code,
        )


@dataclass
class FieldOverview:
    area: Location
    clinics: list[ClinicStatus]  # with a problem or users at risk, most urgent first
    fine: list[Location]  # nothing to report, by code

    @property
    def users_at_risk(self) -> int:
        return sum(c.users_at_risk for c in self.clinics)


def field_overview(area: Location, today: dt.date | None = None) -> FieldOverview:
    """Every active clinic under ``area`` (a district, or one clinic) with its problems."""
    clinics = list(
        Location.objects.filter(path__startswith=area.path, level=Level.CLINIC, is_active=True)
        .only("code", "name", "path", "level", "parent_id")
        .order_by("code")
    )
    status = {clinic.pk: ClinicStatus(clinic) for clinic in clinics}
    if clinics:
        products = Product.objects.in_bulk()
        order = {s: i for i, s in enumerate(PROBLEMS)}
        for row in stock_indicators(list(status), today):
            if row.status in order:
                row.product = products[row.product_id]
                status[row.location_id].problems.append(row)
        for item in status.values():
            item.problems.sort(key=lambda r: (order[r.status], r.product.code))
        for district in mobiya_report(root=area, today=today).districts:
            for group in district.clinics:
                if group.clinic.pk in status:
                    status[group.clinic.pk].dropout = group
    listed = sorted((s for s in status.values() if s.has_news), key=ClinicStatus.urgency)
    fine = [s.clinic for s in status.values() if not s.has_news]
    return FieldOverview(area=area, clinics=listed, fine=fine)
