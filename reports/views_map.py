"""The distribution map (``/reports/map/``) and its data (``/reports/map/data.json``).

Both take the same query (``area``, ``product``, ``indicator``, ``from``, ``to``) and
build the same payload from ``reports.selectors.map_data.map_data``: the page embeds it
(one request on a slow link) and draws it with ``alokon/map.js`` and plotly's geo
bundle; the JSON endpoint returns it as it is. The page also lists every figure in
tables, so it reads without JavaScript.

Hover texts and labels are written here, translated and formatted for the page's
language: the script holds no user-facing text. Both responses are gzipped for a browser
that accepts it (a province's payload is large and compresses tenfold).

Scope: ``area`` must be a location the user may see (``location_for_user``);
anything else is a 404 with a message, an invalid filter a 400 with the form's.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET

from inventory.models import Level, Location, Product
from inventory.selectors.scope import location_for_user
from inventory.views.stock import breadcrumbs
from inventory.views.stock_card import DateRangeForm
from reports.report_registry import scope_root
from reports.selectors.indicators import StockStatus
from reports.selectors.map_data import ATTRIBUTION, ATTRIBUTION_LINES, STATIC_GEO, MapData, MapIndicator, map_data

#: status colours, worst first (the legend's order); the same hues as alokon.css
STATUS_COLOURS = {
    StockStatus.STOCKED_OUT: "#a30000",
    StockStatus.EMERGENCY: "#e8590c",
    StockStatus.BELOW_MIN: "#f2b233",
    StockStatus.WITHIN: "#2b8a3e",
    StockStatus.ABOVE_MAX: "#3b6fb6",
    StockStatus.UNKNOWN: "#868e96",
    StockStatus.NOT_STOCKED: "#ced4da",
}
SEQUENTIAL = {
    MapIndicator.STOCKED_OUT: [[0, "#fff5f0"], [1, "#a30000"]],
    MapIndicator.WITHIN_PLAN: [[0, "#f7fcf5"], [1, "#1b6e30"]],
    MapIndicator.CYP: [[0, "#f2f8fb"], [1, "#0b4f6c"]],
}
LEGENDS = {
    MapIndicator.MOS: gettext_lazy(
        "Months of stock of the product at each area's own warehouse: stock on hand ÷ average monthly "
        "consumption (its issues to the clinics and warehouses below it, last 3 complete months). "
        "Colour bands follow the stock policy: below the emergency order point, below minimum, within plan, "
        "above maximum. Stock as of now."
    ),
    MapIndicator.STOCKED_OUT: gettext_lazy(
        "Clinics with none of the product in stock, as a share of the clinics that hold or have held it "
        "(clinics that never stocked it are left out). Stock as of now."
    ),
    MapIndicator.WITHIN_PLAN: gettext_lazy(
        "Clinics whose months of stock are within their plan (between minimum and maximum), as a share of "
        "the clinics with a months-of-stock status: clinics that never stocked the product, and clinics "
        "with stock but no consumption, are left out. Stock as of now."
    ),
    MapIndicator.CYP: gettext_lazy(
        "Couple-years of protection: units of every method dispensed to acceptors at the area's clinics during "
        "the period × the method's CYP factor, as in the CYP report (a dispensing record that was reversed does "
        "not count). The product filter does not apply."
    ),
}


#: where the script puts a clinic's code in ``clinic_url``
CODE_SLOT = "__code__"


def last_complete_month(today: dt.date) -> tuple[dt.date, dt.date]:
    end = today.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


class MapForm(DateRangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"] = forms.ModelChoiceField(
            label=gettext_lazy("Product"),
            queryset=Product.objects.filter(is_active=True).order_by("code"),
            to_field_name="code",
            empty_label=None,
        )
        self.fields["indicator"] = forms.ChoiceField(label=gettext_lazy("Colour by"), choices=MapIndicator.choices)
        self.fields["area"] = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)
        self.order_fields(["product", "indicator", "from", "to", "area"])


def _number(value, places: int = 0) -> str:
    if value is None:
        return "–"
    return formats.number_format(value, places, use_l10n=True, force_grouping=True)


def _default_area(user) -> Location | None:
    if user.location_id is not None:
        return user.location
    return Location.objects.filter(level=Level.NATIONAL, is_active=True).order_by("code").first()


class MapRequest:
    """The validated filters of a map request, or the reason it has none."""

    def __init__(self, request):
        user = request.user
        self.today = timezone.localdate()
        self.default_from, self.default_to = last_complete_month(self.today)
        data = request.GET.copy()
        data.setdefault("from", self.default_from.isoformat())
        data.setdefault("to", self.default_to.isoformat())
        data.setdefault("indicator", MapIndicator.MOS)
        if "product" not in data:
            first = Product.objects.filter(is_active=True).order_by("code").first()
            data["product"] = first.code if first else ""
        self.form = MapForm(data)
        self.area = None
        self.error = None
        self.status = 200
        scope_root(user)  # a user without a location sees no map
        code = (data.get("area") or "").strip()
        if code:
            try:
                self.area = location_for_user(user, code)
            except Http404 as error:
                self.error, self.status = str(error), 404
        else:
            self.area = _default_area(user)
            if self.area is None:
                self.error, self.status = _("There is no national location to show."), 404
        if self.error is None and not self.form.is_valid():
            self.status = 400

    @property
    def ok(self) -> bool:
        return self.status == 200

    def data(self) -> MapData:
        cleaned = self.form.cleaned_data
        return map_data(
            area=self.area,
            product=cleaned["product"],
            indicator=cleaned["indicator"],
            date_from=cleaned["from"] or self.default_from,
            date_to=cleaned["to"] or self.default_to,
            today=self.today,
        )


def _query(data: MapData, **changes) -> str:
    query = {
        "area": data.area.code,
        "product": data.product.code,
        "indicator": data.indicator,
        "from": data.date_from.isoformat(),
        "to": data.date_to.isoformat(),
    }
    query.update(changes)
    return "?" + urlencode(query)


def _value_text(indicator: str, value) -> str:
    if value is None:
        return _("no data")
    if indicator == MapIndicator.MOS:
        return _("%(months)s months") % {"months": _number(value, 1)}
    if indicator == MapIndicator.CYP:
        return _number(value, 1)
    return f"{_number(value, 1)} %"


def _unit_detail(data: MapData, unit) -> str:
    if data.indicator == MapIndicator.MOS:
        row = unit.row
        if row is None:
            return _("No stock figures.")
        return _("Stock %(soh)s · AMC %(amc)s · %(status)s") % {
            "soh": _number(row.soh),
            "amc": _number(row.amc, 1),
            "status": row.status_label,
        }
    if data.indicator == MapIndicator.STOCKED_OUT:
        return _("%(part)s of %(whole)s clinics stocked out") % {
            "part": _number(unit.statuses[StockStatus.STOCKED_OUT]),
            "whole": _number(unit.clinics_counted - unit.statuses[StockStatus.NOT_STOCKED]),
        }
    if data.indicator == MapIndicator.WITHIN_PLAN:
        counted = unit.clinics_counted - unit.statuses[StockStatus.NOT_STOCKED] - unit.statuses[StockStatus.UNKNOWN]
        return _("%(part)s of %(whole)s clinics within plan") % {
            "part": _number(unit.statuses[StockStatus.WITHIN]),
            "whole": _number(counted),
        }
    return _("CYP, all methods")


def _scale(data: MapData) -> dict:
    """The choropleth's colour scale: MOS in the policy's bands, the others sequential."""
    values = [float(u.value) for u in data.units if u.value is not None]
    if data.indicator == MapIndicator.MOS and data.policy:
        emergency, low, high = (float(v) for v in data.policy)
        top = 2 * high  # anything above is drawn in the top colour (the hover gives the figure)
        e, lo, hi = emergency / top, low / top, high / top
        colours = STATUS_COLOURS
        return {
            "colorscale": [
                [0, colours[StockStatus.STOCKED_OUT]],
                [e, colours[StockStatus.STOCKED_OUT]],
                [e, colours[StockStatus.EMERGENCY]],
                [lo, colours[StockStatus.BELOW_MIN]],
                [lo, colours[StockStatus.WITHIN]],
                [hi, colours[StockStatus.WITHIN]],
                [hi, colours[StockStatus.ABOVE_MAX]],
                [1, colours[StockStatus.ABOVE_MAX]],
            ],
            "zmin": 0,
            "zmax": top,
            "tickvals": [0, emergency, low, high, top],
            "ticktext": [_number(v, 1) for v in (0, emergency, low, high)] + [f"{_number(top, 1)}+"],
            "title": _("months"),
        }
    if data.indicator == MapIndicator.MOS:
        colorscale = [[0, STATUS_COLOURS[StockStatus.STOCKED_OUT]], [1, STATUS_COLOURS[StockStatus.WITHIN]]]
    else:
        colorscale = SEQUENTIAL[data.indicator]
    shares = data.indicator in (MapIndicator.STOCKED_OUT, MapIndicator.WITHIN_PLAN)
    return {
        "colorscale": colorscale,
        "zmin": 0,
        "zmax": 100 if shares else max([*values, 1]),
        "tickvals": None,
        "ticktext": None,
        "title": "%" if shares else (_("months") if data.indicator == MapIndicator.MOS else "CYP"),
    }


def _float(value) -> float | None:
    return None if value is None else float(value)


def payload(data: MapData) -> dict:
    """The map as JSON: the figures, and the texts and colours the script draws them with."""
    area = data.area
    indicator_label = str(MapIndicator(data.indicator).label)
    units = []
    for unit in data.units:
        location = unit.location
        value_text = _value_text(data.indicator, unit.value)
        detail = _unit_detail(data, unit)
        drill = location.pk != area.pk
        hover = [f"<b>{escape(location.name)}</b>", f"{escape(indicator_label)}: {escape(value_text)}", escape(detail)]
        if drill:
            hover.append(f"<i>{escape(_('Click to open'))}</i>")
        units.append(
            {
                "code": location.code,
                "name": location.name,
                "feature": unit.feature.code if unit.feature else None,
                "value": _float(unit.value),
                "value_text": value_text,
                "detail": detail,
                "statuses": dict(unit.statuses),
                "url": _query(data, area=location.code) if drill else None,
                "hover": "<br>".join(hover),
            }
        )
    # A province has hundreds of clinics: each is a compact record, and the script writes
    # its hover from the translated ``clinic_hover`` template and its link from ``clinic_url``.
    clinics = []
    for marker in data.markers:
        location, row = marker.location, marker.row
        clinics.append(
            {
                "code": location.code,
                "name": location.name,
                "lon": marker.position[0] if marker.position else None,
                "lat": marker.position[1] if marker.position else None,
                "status": row.status if row else StockStatus.NOT_STOCKED,
                "soh": row.soh if row else 0,
                "amc": _float(row.amc) if row else None,
                "mos": _float(row.mos) if row else None,
                "last_receipt": marker.last_receipt.isoformat() if marker.last_receipt else None,
            }
        )
    flows = []
    for flow in data.flows:
        hover = [
            f"<b>{escape(flow.origin.name)} → {escape(flow.destination.name)}</b>",
            escape(
                _("%(shipments)s shipments, %(quantity)s units shipped")
                % {"shipments": _number(flow.shipments), "quantity": _number(flow.quantity)}
            ),
        ]
        if flow.in_transit:
            hover.append(escape(_("In transit now: %(quantity)s units") % {"quantity": _number(flow.in_transit)}))
        flows.append(
            {
                "origin": flow.origin.code,
                "origin_name": flow.origin.name,
                "destination": flow.destination.code,
                "destination_name": flow.destination.name,
                "shipments": flow.shipments,
                "quantity": flow.quantity,
                "in_transit": flow.in_transit,
                "in_transit_shipments": flow.in_transit_shipments,
                "start": flow.start,
                "end": flow.end,
                "hover": "<br>".join(hover),
            }
        )
    statuses_present = {c["status"] for c in clinics}
    scale = _scale(data)
    return {
        "area": {"code": area.code, "name": area.name, "level": area.level},
        "layer": data.layer,
        "product": {"code": data.product.code, "name": data.product.name},
        "indicator": {"key": data.indicator, "label": str(indicator_label), "legend": str(LEGENDS[data.indicator])},
        "period": {"from": data.date_from.isoformat(), "to": data.date_to.isoformat()},
        "stock_as_of": data.stock_as_of.isoformat(),
        "geo": [static(STATIC_GEO + name) for name in data.geo_files],
        "units": units,
        "scale": scale,
        "clinics": clinics,
        "statuses": [
            {"key": key, "label": str(StockStatus(key).label), "color": colour}
            for key, colour in STATUS_COLOURS.items()
            if key in statuses_present
        ],
        "flows": flows,
        "missing": {
            "units": sum(1 for u in units if u["feature"] is None),
            "clinics": sum(1 for c in clinics if c["lon"] is None),
            "flows": sum(1 for f in flows if f["start"] is None or f["end"] is None),
        },
        "attribution": ATTRIBUTION,
        "attribution_lines": list(ATTRIBUTION_LINES),
        "labels": {
            "no_data": _("No data"),
            "shipped": _("Shipments"),
            "in_transit": _("Still in transit"),
            "failed": _("The map could not be drawn; the tables below hold the same figures."),
            "clinic_hover": "<br>".join(
                [
                    "<b>%(name)s</b> (%(code)s)",
                    "%(status)s",
                    _("Stock: %(value)s") % {"value": "%(soh)s"},
                    _("AMC: %(value)s") % {"value": "%(amc)s"},
                    _("Months of stock: %(value)s") % {"value": "%(mos)s"},
                    _("Last receipt: %(date)s") % {"date": "%(last_receipt)s"},
                ]
            ),
            "clinic_url": reverse("location-stock", args=[CODE_SLOT]),
            # plotly's "decimal, thousands" characters, as the page's language writes numbers
            "separators": formats.get_format("DECIMAL_SEPARATOR") + formats.get_format("THOUSAND_SEPARATOR"),
        },
    }


# Compressed (a province of 545 clinics: 118 kB of HTML, 18 kB gzipped): nothing
# else compresses dynamic responses. Django's GZipMiddleware pads the stream with random
# bytes against BREACH (the page holds CSRF tokens and echoes its query).
@gzip_page
@login_required
@require_GET
def report_map(request):
    map_request = MapRequest(request)
    context = {"form": map_request.form, "error": map_request.error, "area": map_request.area}
    if not map_request.ok:
        return render(request, "reports/map.html", context, status=map_request.status)
    data = map_request.data()
    context.update(
        {
            "data": data,
            "map": payload(data),
            "crumbs": [(a.name, _query(data, area=a.code)) for a in breadcrumbs(request.user, data.area)],
            "legend": LEGENDS[data.indicator],
            "indicator_label": MapIndicator(data.indicator).label,
            "query": _query(data),
            "attribution": ATTRIBUTION,
        }
    )
    return render(request, "reports/map.html", context)


@gzip_page
@login_required
@require_GET
def report_map_data(request):
    map_request = MapRequest(request)
    if map_request.error:
        return JsonResponse({"detail": map_request.error}, status=map_request.status)
    if not map_request.ok:
        return JsonResponse({"errors": map_request.form.errors.get_json_data()}, status=400)
    response = JsonResponse(payload(map_request.data()))
    response["Cache-Control"] = "private, no-cache"
    return response
