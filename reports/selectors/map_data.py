"""The distribution map's figures: one area, its layer of shapes, its clinics, its flows.

The map shows an **area** (a location the user may see) as a **layer** of units:

- a national area: one unit per province (its children), drawn with the province layer;
- a province: one unit per district (its children);
- a district: the district itself, with its clinics as markers;
- a clinic: no shape, the clinic's marker.

Clinic markers are drawn from the province level down (a national view would be 20,000
markers; it shows provinces, and a click drills down).

The indicators, stated once (the legend on the page says the same):

- **Months of stock** of the product: the unit's own warehouse MOS, from
  ``reports.selectors.indicators`` (stock ÷ AMC, AMC from its issues to its subtree).
- **Share of clinics stocked out**: clinics below the unit whose status for the product
  is ``stocked_out``, over the clinics that hold or have held it (status other than
  ``not_stocked``), in %.
- **Share stocked according to plan**: clinics with status ``within``, over the clinics
  with a status other than ``not_stocked`` and ``unknown`` (no consumption: no MOS to
  judge), in %.
- **CYP distributed** in the period, all methods: the CYP report's figure
  (``reports.selectors.consumption.cyp_by_area``): units dispensed to acceptors at the
  unit's clinics, a reversed dispensing not counted, × ``Product.cyp_factor``.

Stock figures (the first three, the markers) are as of today; CYP and flows are for
the period (inclusive dates). Statuses for a whole country come from one
``stock_indicators`` call over every clinic (seconds at national scale, see
``bench/README.md``), so the per-province counts of a national area are cached for
``NATIONAL_CACHE_SECONDS``; every other area is computed on each request.

**Flows**: shipments dispatched in the period between the nodes of the view (the
area's parent, the area, its children), per route (origin, destination): shipments,
units of the product shipped, and units of it still in transit now (the in-transit
ledger entries of the shipment's own movements, as the indicators count them).

Shapes come from ``reports/geo`` (see ``SOURCE.md`` there): a province or district is
joined to its feature by ``bps_code`` when set, else by ``code`` as the Kemendagri
code. A flow's end is the location's own coordinates, else its feature's inside point.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django.core.cache import cache
from django.db import connection
from django.db.models import TextChoices
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.models import Level, Location, Product, VirtualRole
from inventory.selectors.shipments import SHIPMENT_MOVEMENTS_SQL
from inventory.services.posting import virtual_location
from reports.selectors.consumption import cyp_by_area, rounded
from reports.selectors.indicators import IndicatorRow, StockStatus, stock_indicators

GEO_DIR = Path(__file__).resolve().parent.parent / "geo"
#: prefix of the boundary files under the static files
STATIC_GEO = "alokon/geo/"
#: shown on every map drawn from the boundaries (their licence, CC BY 3.0 IGO, asks for it); two lines fit a phone
ATTRIBUTION_LINES = (
    "Boundaries: BPS-Statistics Indonesia / OCHA ROAP, via HDX",
    "(CC BY 3.0 IGO). Dissolved and simplified.",
)
ATTRIBUTION = " ".join(ATTRIBUTION_LINES)
NATIONAL_CACHE_SECONDS = 300


class MapIndicator(TextChoices):
    MOS = "mos", _("Months of stock")
    STOCKED_OUT = "stocked_out", _("Share of clinics stocked out")
    WITHIN_PLAN = "within_plan", _("Share of clinics stocked according to plan")
    CYP = "cyp", _("CYP distributed in the period")


SHARES = (MapIndicator.STOCKED_OUT, MapIndicator.WITHIN_PLAN)


# --- shapes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    level: str
    code: str  # BPS: the feature's id in the GeoJSON
    kemendagri_code: str
    name: str
    province_code: str
    lat: float
    lon: float
    file: str  # under STATIC_GEO


@functools.cache
def _feature_index() -> dict[tuple[str, str, str], Feature]:
    index = {}
    with open(GEO_DIR / "features.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            feature = Feature(**{**row, "lat": float(row["lat"]), "lon": float(row["lon"])})
            index[("bps", feature.level, feature.code)] = feature
            index[("kemendagri", feature.level, feature.kemendagri_code)] = feature
    return index


def feature_for(location: Location) -> Feature | None:
    """The boundary of a province or district: by its BPS code if set, else by its code (Kemendagri)."""
    index = _feature_index()
    if location.bps_code and (found := index.get(("bps", location.level, location.bps_code))):
        return found
    return index.get(("kemendagri", location.level, location.code))


def position(location: Location) -> tuple[float, float] | None:
    """(lon, lat) of a location: its own coordinates, else a point inside its shape."""
    if location.latitude is not None and location.longitude is not None:
        return float(location.longitude), float(location.latitude)
    feature = feature_for(location)
    return (feature.lon, feature.lat) if feature else None


# --- results ------------------------------------------------------------------------------


@dataclass
class Unit:
    location: Location
    feature: Feature | None
    value: Decimal | None = None
    row: IndicatorRow | None = None  # the unit's own indicators for the product (MOS)
    statuses: Counter = field(default_factory=Counter)  # clinics below it by status (shares)

    @property
    def clinics_counted(self) -> int:
        return sum(self.statuses.values())


@dataclass
class Marker:
    location: Location
    position: tuple[float, float] | None
    row: IndicatorRow | None
    last_receipt: dt.date | None


@dataclass
class Flow:
    origin: Location
    destination: Location
    shipments: int
    quantity: int
    in_transit: int
    in_transit_shipments: int
    start: tuple[float, float] | None
    end: tuple[float, float] | None


@dataclass
class MapData:
    area: Location
    layer: str | None  # level of the units' shapes, None for a clinic
    product: Product
    indicator: str
    date_from: dt.date
    date_to: dt.date
    units: list[Unit]
    markers: list[Marker]
    flows: list[Flow]
    #: (emergency, min, max) months of the layer's policy (MOS colour bands)
    policy: tuple[Decimal, Decimal, Decimal] | None
    stock_as_of: dt.datetime

    @property
    def geo_files(self) -> list[str]:
        return sorted({unit.feature.file for unit in self.units if unit.feature})


# --- the figures --------------------------------------------------------------------------


def _units(area: Location) -> tuple[list[Location], str | None]:
    if area.level in (Level.NATIONAL, Level.PROVINCE):
        children = list(Location.objects.active().real().filter(parent=area).order_by("code"))
        return children, (Level.PROVINCE if area.level == Level.NATIONAL else Level.DISTRICT)
    if area.level == Level.DISTRICT:
        return [area], Level.DISTRICT
    return [], None


def _marker_locations(area: Location) -> list[Location]:
    if area.level == Level.CLINIC:
        return [area]
    if area.level in (Level.PROVINCE, Level.DISTRICT):
        return list(Location.objects.active().filter(level=Level.CLINIC, path__startswith=area.path).order_by("code"))
    return []


def _unit_of(units: list[Location]):
    """A function mapping a location path to the unit whose subtree holds it."""
    by_path = {unit.path: unit for unit in units}
    depth = units[0].path.count("/") if units else 0

    def unit_of(path: str) -> Location | None:
        return by_path.get("/".join(path.split("/")[:depth]) + "/")

    return unit_of


def _count_statuses(rows, units: list[Location], paths: dict[int, str]) -> dict[tuple[int, int], Counter]:
    """Clinic statuses per (unit id, product id)."""
    unit_of = _unit_of(units)
    counts: dict[tuple[int, int], Counter] = {}
    for row in rows:
        if row.level != Level.CLINIC:
            continue
        unit = unit_of(paths[row.location_id])
        if unit is not None:
            counts.setdefault((unit.pk, row.product_id), Counter())[row.status] += 1
    return counts


def _national_statuses(area: Location, units: list[Location], product: Product, today: dt.date):
    """Clinic statuses per (province, product) of one product for a national area, cached
    (every clinic of the country: a second or so)."""
    key = f"map:statuses:{area.pk}:{product.pk}:{today.isoformat()}:{len(units)}"
    cached = cache.get(key)
    if cached is None:
        clinics = dict(
            Location.objects.active().filter(level=Level.CLINIC, path__startswith=area.path).values_list("id", "path")
        )
        rows = stock_indicators(list(clinics), today, product_ids=[product.pk])
        counts = _count_statuses(rows, units, clinics)
        cached = (timezone.now(), counts)
        cache.set(key, cached, NATIONAL_CACHE_SECONDS)
    return cached


def _share(counts: Counter, indicator: str) -> Decimal | None:
    if indicator == MapIndicator.STOCKED_OUT:
        part, whole = counts[StockStatus.STOCKED_OUT], sum(counts.values()) - counts[StockStatus.NOT_STOCKED]
    else:
        part = counts[StockStatus.WITHIN]
        whole = sum(counts.values()) - counts[StockStatus.NOT_STOCKED] - counts[StockStatus.UNKNOWN]
    if not whole:
        return None
    return (Decimal(100 * part) / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def cyp_by_unit(area: Location, date_from: dt.date, date_to: dt.date) -> dict[int, Decimal]:
    """CYP dispensed in the period per unit id: the CYP report's figures (``cyp_by_area``)."""
    table = cyp_by_area(root=area, date_from=date_from, date_to=date_to)
    if area.level == Level.DISTRICT:  # the district is the one unit; the table's rows are its clinics
        return {area.pk: rounded(table.total.total)}
    return {row.location.pk: rounded(row.total) for row in table.rows}


FLOWS_SQL = f"""
WITH shipped AS (
    SELECT s.id, s.origin_id, s.destination_id, s.status, sum(sl.quantity) AS quantity
      FROM inventory_shipment s
      JOIN inventory_shipmentline sl ON sl.shipment_id = s.id AND sl.product_id = %(product)s
     WHERE s.dispatch_date >= %(start)s AND s.dispatch_date <= %(end)s
       AND s.status <> 'draft'
       AND s.origin_id = ANY(%(nodes)s) AND s.destination_id = ANY(%(nodes)s)
     GROUP BY s.id
),
transit AS (
    SELECT s.id, sum(e.quantity) AS quantity
      FROM shipped x
      JOIN inventory_shipment s ON s.id = x.id
     CROSS JOIN {SHIPMENT_MOVEMENTS_SQL}
      JOIN inventory_ledgerentry e ON e.movement_id = m.movement_id
                                   AND e.location_id = %(transit)s AND e.product_id = %(product)s
     WHERE x.status IN ('dispatched', 'partially_received')
     GROUP BY s.id
)
SELECT x.origin_id, x.destination_id, count(*), sum(x.quantity),
       coalesce(sum(t.quantity), 0), count(*) FILTER (WHERE t.quantity > 0)
  FROM shipped x
  LEFT JOIN transit t ON t.id = x.id
 GROUP BY x.origin_id, x.destination_id
 ORDER BY sum(x.quantity) DESC, x.origin_id, x.destination_id
"""


def flows(area: Location, units: list[Location], product: Product, date_from: dt.date, date_to: dt.date):
    """Shipments of ``product`` dispatched in the period between the view's nodes, per route."""
    nodes = {area.pk: area, **{unit.pk: unit for unit in units}}
    if area.parent_id:
        nodes[area.parent_id] = area.parent
    if area.level == Level.DISTRICT:
        nodes.update({c.pk: c for c in Location.objects.filter(parent=area)})
    params = {
        "product": product.pk,
        "start": date_from,
        "end": date_to,
        "nodes": sorted(nodes),
        "transit": virtual_location(VirtualRole.IN_TRANSIT).pk,
    }
    with connection.cursor() as cursor:
        cursor.execute(FLOWS_SQL, params)
        rows = cursor.fetchall()
    result = []
    for origin_id, destination_id, shipments, quantity, in_transit, transit_shipments in rows:
        origin, destination = nodes[origin_id], nodes[destination_id]
        result.append(
            Flow(
                origin=origin,
                destination=destination,
                shipments=shipments,
                quantity=int(quantity),
                in_transit=int(in_transit),
                in_transit_shipments=transit_shipments,
                start=position(origin),
                end=position(destination),
            )
        )
    return result


LAST_RECEIPT_SQL = """
SELECT c.id, r.business_date
  FROM unnest(%(locations)s::bigint[]) AS c(id)
 CROSS JOIN LATERAL (
        SELECT e.business_date FROM inventory_ledgerentry e
         WHERE e.location_id = c.id AND e.product_id = %(product)s AND e.kind = 'receipt' AND e.quantity > 0
         ORDER BY e.id DESC LIMIT 1
       ) r
"""


def last_receipts(location_ids: list[int], product: Product) -> dict[int, dt.date]:
    """The business date of each location's most recently posted receipt of ``product``."""
    if not location_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(LAST_RECEIPT_SQL, {"locations": location_ids, "product": product.pk})
        return dict(cursor.fetchall())


def _layer_policy(rows: list[IndicatorRow]) -> tuple[Decimal, Decimal, Decimal] | None:
    policies = Counter(
        (row.emergency_months, row.min_months, row.max_months) for row in rows if row.max_months is not None
    )
    return policies.most_common(1)[0][0] if policies else None


def map_data(
    *,
    area: Location,
    product: Product,
    indicator: str,
    date_from: dt.date,
    date_to: dt.date,
    today: dt.date | None = None,
) -> MapData:
    """Everything the map of ``area`` draws for ``product`` and ``indicator`` (see the module doc)."""
    today = today or timezone.localdate()
    unit_locations, layer = _units(area)
    marker_locations = _marker_locations(area)
    units = [Unit(location=u, feature=feature_for(u)) for u in unit_locations]
    stock_as_of = timezone.now()

    ids = [u.pk for u in unit_locations] + [c.pk for c in marker_locations]
    rows = stock_indicators(ids, today, product_ids=[product.pk]) if ids else []
    mine = {row.location_id: row for row in rows if row.product_id == product.pk}

    statuses: dict[tuple[int, int], Counter] = {}
    if indicator in SHARES and units:
        if area.level == Level.NATIONAL:
            stock_as_of, statuses = _national_statuses(area, unit_locations, product, today)
        else:
            statuses = _count_statuses(rows, unit_locations, {c.pk: c.path for c in marker_locations})
    cyp = cyp_by_unit(area, date_from, date_to) if indicator == MapIndicator.CYP and units else {}

    for unit in units:
        unit.row = mine.get(unit.location.pk)
        unit.statuses = statuses.get((unit.location.pk, product.pk), Counter())
        if indicator == MapIndicator.MOS:
            unit.value = unit.row.mos if unit.row else None
        elif indicator in SHARES:
            unit.value = _share(unit.statuses, indicator)
        else:
            unit.value = cyp.get(unit.location.pk, Decimal("0.0"))

    receipts = last_receipts([c.pk for c in marker_locations], product)
    markers = [Marker(c, position(c), mine.get(c.pk), receipts.get(c.pk)) for c in marker_locations]
    return MapData(
        area=area,
        layer=layer,
        product=product,
        indicator=indicator,
        date_from=date_from,
        date_to=date_to,
        units=units,
        markers=markers,
        flows=flows(area, unit_locations, product, date_from, date_to),
        policy=_layer_policy([unit.row for unit in units if unit.row]),
        stock_as_of=stock_as_of,
    )
