"""The dashboard's figures for one scope: the subtree under ``root`` (None: the whole country).

A few set-based queries, each stated once here:

- **Per product, over the active clinics of the scope that hold or held it** (status
  other than "not stocked"; a clinic that never received a product is not counted):
  clinics **stocked out** (status ``stocked_out``) and clinics **stocked according to
  plan** (status ``within``: MOS between the level's min and max), as counts and as a
  share of those clinics. Statuses come from ``reports.selectors.indicators``
  (``stock_indicators``), the figures every page, alert and export uses.
- **MOS by level**, per product: the stock of the scope's active locations of the level
  ÷ the sum of their AMCs (a location without an AMC adds its stock and no consumption);
  none when that sum is zero.
- **CYP distributed**: units dispensed at the scope's clinics (entries of kind
  dispensing leaving a clinic, the consumption the indicators and the CYP report count)
  × ``Product.cyp_factor``, this calendar month and this year, up to today.
- **Shipments in transit**: dispatched or partially received shipments whose origin or
  destination is in the scope (the rule of every shipment page); those past their
  expected arrival are overdue.
- **Open discrepancies** of those shipments.
- **Users at dropout risk**: the users at risk (``Alert.quantity``) of the active
  dropout-risk alerts (MOBIYA) of the scope's clinics, and how many clinics.

Scale (measured on bench/alerts.py's national load: 20,553 locations, 5M ledger entries).
A district (40 locations) is computed while the user waits: ~40 ms. A scope of more than
``LIVE_LIMIT`` locations is read from its ``DashboardSnapshot`` (one row, ~4 KB of JSON;
read and page rendered in 5–15 ms): computing takes 0.35–0.7 s for a province of 560
locations and 4.5–7 s for the country (the stock indicators of every location and product
are most of it). A snapshot is computed on the first view, trusted for
``SNAPSHOT_MAX_AGE`` at most, and recomputed every 10 minutes in the background
(``snapshot_refresh``, from beat) while someone reads it; the page says when its figures
were computed. The one write of this module is that cache.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from inventory.models import Discrepancy, DiscrepancyStatus, Level, Location, Product, Shipment
from reports.models import ACTIVE, Alert, AlertKind, DashboardSnapshot
from reports.selectors.indicators import StockStatus, stock_indicators, window_first_entry_id
from reports.selectors.reconciliation import IN_TRANSIT_STATES

#: scopes with more real locations than this are read from a snapshot (a province is)
LIVE_LIMIT = 300
#: a snapshot older than this is recomputed while the user waits (the background refresh has stopped)
SNAPSHOT_MAX_AGE = dt.timedelta(minutes=30)
#: snapshots read within this time are kept fresh by ``snapshot_refresh``
SNAPSHOT_READ_WINDOW = dt.timedelta(days=1)
MOS_LEVELS = (Level.NATIONAL, Level.PROVINCE, Level.DISTRICT, Level.CLINIC)
ONE_DECIMAL = Decimal("0.1")


def _share(part: int, whole: int) -> Decimal | None:
    return (Decimal(100) * part / whole).quantize(ONE_DECIMAL) if whole else None


@dataclass
class ProductFigures:
    code: str
    name: str
    clinics: int  # active clinics in scope that hold or held the product
    stocked_out: int
    within: int

    @property
    def stockout_rate(self) -> Decimal | None:
        return _share(self.stocked_out, self.clinics)

    @property
    def within_share(self) -> Decimal | None:
        return _share(self.within, self.clinics)


@dataclass
class LevelMos:
    level: str
    product: str
    stock: int
    amc: Decimal

    @property
    def mos(self) -> Decimal | None:
        return (self.stock / self.amc).quantize(ONE_DECIMAL) if self.amc else None


@dataclass
class DashboardFigures:
    day: dt.date
    computed_at: dt.datetime
    products: list[ProductFigures] = field(default_factory=list)
    mos: list[LevelMos] = field(default_factory=list)
    cyp_month: Decimal = Decimal(0)
    cyp_year: Decimal = Decimal(0)
    in_transit: int = 0
    overdue: int = 0
    open_discrepancies: int = 0
    dropout_users: int = 0
    dropout_clinics: int = 0
    from_snapshot: bool = False

    def mos_table(self) -> list[tuple[str, list[LevelMos | None]]]:
        """(level, one cell per product in ``products`` order) for the levels that have figures."""
        cells = {(m.level, m.product): m for m in self.mos}
        codes = [p.code for p in self.products]
        return [
            (level, [cells.get((level, code)) for code in codes])
            for level in MOS_LEVELS
            if any((level, code) in cells for code in codes)
        ]

    # JSON for the snapshot: Decimals as strings, dates in ISO.
    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("from_snapshot")
        data["day"] = self.day.isoformat()
        data["computed_at"] = self.computed_at.isoformat()
        for key in ("cyp_month", "cyp_year"):
            data[key] = str(data[key])
        for m in data["mos"]:
            m["amc"] = str(m["amc"])
        return data

    @classmethod
    def from_json(cls, data: dict) -> DashboardFigures:
        return cls(
            day=dt.date.fromisoformat(data["day"]),
            computed_at=dt.datetime.fromisoformat(data["computed_at"]),
            products=[ProductFigures(**p) for p in data["products"]],
            mos=[LevelMos(**{**m, "amc": Decimal(m["amc"])}) for m in data["mos"]],
            cyp_month=Decimal(data["cyp_month"]),
            cyp_year=Decimal(data["cyp_year"]),
            **{
                key: data[key]
                for key in ("in_transit", "overdue", "open_discrepancies", "dropout_users", "dropout_clinics")
            },
            from_snapshot=True,
        )


def scope_locations(root: Location | None):
    """The real locations under ``root`` (all of them for None)."""
    locations = Location.objects.real()
    return locations if root is None else locations.filter(path__startswith=root.path)


# --- the figures ------------------------------------------------------------------------------


def stock_figures(root: Location | None, today: dt.date) -> tuple[list[ProductFigures], list[LevelMos]]:
    """Stockouts and stock within plan of clinics per product, and MOS by level per product."""
    ids = None if root is None else list(scope_locations(root).values_list("pk", flat=True))
    held: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # product → clinics, stocked out, within
    level_sums: dict[tuple[str, int], list] = defaultdict(lambda: [0, Decimal(0)])
    for row in stock_indicators(ids, today):
        if row.level == Level.CLINIC and row.status != StockStatus.NOT_STOCKED:
            counts = held[row.product_id]
            counts[0] += 1
            counts[1] += row.status == StockStatus.STOCKED_OUT
            counts[2] += row.status == StockStatus.WITHIN
        sums = level_sums[(row.level, row.product_id)]
        sums[0] += row.soh
        sums[1] += row.amc or 0
    products = list(Product.objects.filter(is_active=True).order_by("code").values_list("pk", "code", "name"))
    codes = {pk: code for pk, code, _name in products}
    return (
        [ProductFigures(code, name, *held[pk]) for pk, code, name in products],
        [
            LevelMos(level, codes[product_id], stock, amc)
            for (level, product_id), (stock, amc) in level_sums.items()
            if product_id in codes
        ],
    )


_CYP_SQL = """
SELECT coalesce(sum(-e.quantity * p.cyp_factor) FILTER (WHERE e.business_date >= %(month)s), 0),
       coalesce(sum(-e.quantity * p.cyp_factor), 0)
  FROM inventory_ledgerentry e
  JOIN inventory_location l ON l.id = e.location_id
  JOIN inventory_product p ON p.id = e.product_id
 WHERE e.id >= %(first_id)s
   AND e.kind = 'dispensing' AND e.quantity < 0
   AND e.business_date >= %(year)s AND e.business_date <= %(today)s
   AND l.level = 'clinic' {scope}
"""


def cyp_distributed(root: Location | None, today: dt.date) -> tuple[Decimal, Decimal]:
    """CYP dispensed at the scope's clinics (this month, this year), one decimal."""
    year = today.replace(month=1, day=1)
    params = {"month": today.replace(day=1), "year": year, "today": today, "first_id": window_first_entry_id(year)}
    scope = ""
    if root is not None:
        scope = "AND l.path LIKE %(prefix)s"
        params["prefix"] = root.path.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
    with connection.cursor() as cursor:
        cursor.execute(_CYP_SQL.format(scope=scope), params)
        month, ytd = cursor.fetchone()
    return Decimal(month).quantize(ONE_DECIMAL), Decimal(ytd).quantize(ONE_DECIMAL)


def document_figures(root: Location | None, today: dt.date) -> dict[str, int]:
    """Shipments in transit (and overdue), open discrepancies, users at dropout risk."""
    # The rule of ``shipments_in_scope`` (origin or destination in the subtree), written as a
    # join on the path: few shipments are in transit, and the join reads only those.
    in_scope = (
        Q() if root is None else Q(origin__path__startswith=root.path) | Q(destination__path__startswith=root.path)
    )
    transit = (
        Shipment.objects.filter(status__in=IN_TRANSIT_STATES)
        .filter(in_scope)
        .aggregate(n=Count("pk"), overdue=Count("pk", filter=Q(expected_arrival__lt=today)))
    )
    open_discrepancies = (
        Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN)
        .filter(Q(shipment__in=Shipment.objects.filter(in_scope).values("pk")) if root is not None else Q())
        .count()
    )
    dropout = Alert.objects.filter(kind=AlertKind.DROPOUT_RISK, status__in=ACTIVE)
    if root is not None:
        dropout = dropout.filter(location__path__startswith=root.path)
    dropout = dropout.aggregate(users=Sum("quantity"), clinics=Count("location", distinct=True))
    return {
        "in_transit": transit["n"],
        "overdue": transit["overdue"],
        "open_discrepancies": open_discrepancies,
        "dropout_users": int(dropout["users"] or 0),
        "dropout_clinics": dropout["clinics"],
    }


def dashboard_figures(root: Location | None, today: dt.date | None = None) -> DashboardFigures:
    """Every figure of the dashboard for the subtree under ``root``, computed now."""
    today = today or timezone.localdate()
    products, mos = stock_figures(root, today)
    cyp_month, cyp_year = cyp_distributed(root, today)
    return DashboardFigures(
        day=today,
        computed_at=timezone.now(),
        products=products,
        mos=mos,
        cyp_month=cyp_month,
        cyp_year=cyp_year,
        **document_figures(root, today),
    )


# --- large scopes: snapshots ----------------------------------------------------------------------


def _store(root: Location | None, figures: DashboardFigures, read_at: dt.datetime | None) -> None:
    """Write the snapshot of ``root``; ``read_at`` None keeps the time it was last read."""
    fields = {"day": figures.day, "figures": figures.to_json(), "computed_at": figures.computed_at}
    update = [*fields, *(["read_at"] if read_at is not None else [])]
    # Two first views of the same scope at once: the second one's INSERT meets the unique
    # constraint and updates instead.
    DashboardSnapshot.objects.bulk_create(
        [DashboardSnapshot(root=root, read_at=read_at or timezone.now(), **fields)],
        update_conflicts=True,
        unique_fields=["root"],
        update_fields=update,
    )


def dashboard_for(root: Location | None, today: dt.date | None = None) -> DashboardFigures:
    """The dashboard of the subtree under ``root``: computed now, or a large scope's snapshot."""
    today = today or timezone.localdate()
    if scope_locations(root).count() <= LIVE_LIMIT:
        return dashboard_figures(root, today)
    now = timezone.now()
    snapshot = DashboardSnapshot.objects.filter(root=root).first()
    if snapshot is not None and snapshot.day == today and snapshot.computed_at >= now - SNAPSHOT_MAX_AGE:
        DashboardSnapshot.objects.filter(pk=snapshot.pk).update(read_at=now)
        return DashboardFigures.from_json(snapshot.figures)
    figures = dashboard_figures(root, today)
    _store(root, figures, read_at=now)
    return figures


def snapshot_refresh(now: dt.datetime | None = None) -> int:
    """Recompute every snapshot read within ``SNAPSHOT_READ_WINDOW``; how many."""
    now = now or timezone.now()
    roots = list(
        DashboardSnapshot.objects.filter(read_at__gte=now - SNAPSHOT_READ_WINDOW)
        .select_related("root")
        .values_list("root", flat=True)
    )
    locations = Location.objects.in_bulk([pk for pk in roots if pk is not None])
    for pk in roots:
        root = None if pk is None else locations.get(pk)
        if pk is not None and root is None:
            continue
        _store(root, dashboard_figures(root), read_at=None)
    return len(roots)
