"""The consumption, CYP, distribution and MOBIYA reports in the export registry.

Each report is registered (``reports.report_registry``) with its filter form, its
scoped ``rows(user, params)`` and an import-export ``Resource`` over those rows
(dicts). The report pages (``reports.views_trends``) render their tables from the
same resource over the same rows, so the page and the files cannot disagree; the
exports (``reports.services.exports``) write them to XLSX or CSV, large ones as a
Celery job.

Filters: the location (its subtree, inside the user's scope) and the product of
``ReportForm``, and the period of ``PeriodReportForm`` (ISO dates, inclusive). The
consumption and CYP reports default to the last ``DEFAULT_MONTHS`` complete months, the
distribution report to the last complete month (``DISTRIBUTION_DEFAULT_MONTHS``: a
national year of routes is slow to group and too long to read), and each reads at most
``MAX_DAYS`` days; MOBIYA has no default period (all its active alerts), a period keeps
the alerts opened in it.

Two resources have columns that depend on the rows (one per product, one per method):
they add them from the rows' keys just before exporting (``RowResource.prepare``).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import resources

from inventory.models import Method, Product, Unit
from inventory.services.service_figures import add_months
from reports.report_registry import PeriodReportForm, ReportSpec, column, register
from reports.selectors.consumption import (
    ConsumptionTable,
    CypTable,
    areas_of,
    consumption_by_month,
    country_root,
    cyp_by_area,
    month_range,
)
from reports.selectors.distribution import DistributionReport, distribution
from reports.selectors.mobiya import MobiyaReport, dropout_alerts, mobiya_report
from reports.selectors.reconciliation import shipments_in_scope

#: months of the default period: the last twelve complete ones
DEFAULT_MONTHS = 12
#: the distribution report's default period: the last complete month
DISTRIBUTION_DEFAULT_MONTHS = 1
#: the longest period a report reads (five years)
MAX_DAYS = 5 * 366


def default_period(today: dt.date | None = None, months: int = DEFAULT_MONTHS) -> tuple[dt.date, dt.date]:
    """The last ``months`` complete months: (first day of the first, last day of the last)."""
    this_month = (today or timezone.localdate()).replace(day=1)
    return add_months(this_month, -months), this_month - dt.timedelta(days=1)


# --- forms ------------------------------------------------------------------------------------


class TrendForm(PeriodReportForm):
    """Location, product and period; a missing date takes the default period's."""

    #: whether a missing date takes the default period's (MOBIYA: no period means every alert)
    has_default_period = True
    #: the complete months the default period covers
    default_months = DEFAULT_MONTHS

    @classmethod
    def initial_period(cls, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
        """This report's default period (the page shows it in the form; the exports apply it too)."""
        return default_period(today, cls.default_months)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        start, end = cleaned.get("from"), cleaned.get("to")
        if self.has_default_period:
            first, last = self.initial_period()
            start, end = start or first, end or last
            if start > end:
                raise forms.ValidationError(_("The start date must not be after the end date."))
            cleaned["from"], cleaned["to"] = start, end
        if start and end and (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(
                _("A report covers at most %(days)d days (five years): choose a shorter period.") % {"days": MAX_DAYS}
            )
        return cleaned


class DistributionForm(TrendForm):
    """Location, product and period; by default the last complete month."""

    default_months = DISTRIBUTION_DEFAULT_MONTHS


class MobiyaForm(TrendForm):
    """Location, product, and optionally the period the alerts were opened in."""

    has_default_period = False


# --- resources --------------------------------------------------------------------------------


class RowResource(resources.Resource):
    """An export-only resource over row dicts; ``prepare(rows)`` may add columns the rows decide."""

    def prepare(self, rows: list) -> None:
        """Add the columns that depend on ``rows`` (called before the headers are read)."""

    def export(self, queryset=None, **kwargs):
        rows = list(queryset) if queryset is not None else []
        self.prepare(rows)
        return super().export(queryset=rows, **kwargs)


class ConsumptionResource(RowResource):
    """One row per month; one column per product of the rows (units dispensed)."""

    month = column("month", gettext_lazy("Month"))

    def prepare(self, rows):
        codes = [key for key in (rows[0] if rows else {}) if key != "month"]
        units = dict(Product.objects.filter(code__in=codes).values_list("code", "unit"))
        labels = dict(Unit.choices)
        for code in codes:
            label = f"{code} ({labels[units[code]]})" if code in units else code
            self.fields[code] = column(code, label)


class CypResource(RowResource):
    """One row per area of the chosen location, then the total; CYP per method (one decimal)."""

    code = column("code", gettext_lazy("Code"))
    name = column("name", gettext_lazy("Area"))
    total = column("total", gettext_lazy("CYP total"))  # kept last by ``prepare``

    def prepare(self, rows):
        present = set(rows[0]) if rows else set()
        total = self.fields.pop("total")
        for method, label in Method.choices:
            if method in present:
                self.fields[method] = column(method, _("CYP %(method)s") % {"method": label})
        self.fields["total"] = total


class DistributionResource(RowResource):
    """Rows by level route, then by origin → destination; per route all products, then each product."""

    origin_level = column("origin_level", gettext_lazy("From level"))
    destination_level = column("destination_level", gettext_lazy("To level"))
    origin = column("origin", gettext_lazy("Origin"))
    origin_name = column("origin_name", gettext_lazy("Origin name"))
    destination = column("destination", gettext_lazy("Destination"))
    destination_name = column("destination_name", gettext_lazy("Destination name"))
    product = column("product", gettext_lazy("Product"))
    shipments = column("shipments", gettext_lazy("Shipments"))
    shipped = column("shipped", gettext_lazy("Quantity shipped"))
    received = column("received", gettext_lazy("Quantity received"))
    fill_rate = column("fill_rate", gettext_lazy("Fill rate (%)"))
    lead_median = column("lead_median", gettext_lazy("Lead time, median (days)"))
    lead_max = column("lead_max", gettext_lazy("Lead time, longest (days)"))
    in_transit = column("in_transit", gettext_lazy("In transit now"))


class MobiyaResource(RowResource):
    """One row per (clinic, method) at dropout risk, in visit-planning order."""

    district = column("district", gettext_lazy("District"))
    district_name = column("district_name", gettext_lazy("District name"))
    clinic = column("clinic", gettext_lazy("Clinic"))
    clinic_name = column("clinic_name", gettext_lazy("Clinic name"))
    clinic_users_at_risk = column("clinic_users_at_risk", gettext_lazy("Users at risk at the clinic"))
    product = column("product", gettext_lazy("Product"))
    method = column("method", gettext_lazy("Method"))
    reason = column("reason", gettext_lazy("Reason"))
    users_at_risk = column("users_at_risk", gettext_lazy("Users at risk"))
    active_users = column("active_users", gettext_lazy("Active users"))
    stock_days = column("stock_days", gettext_lazy("Days of stock"))
    next_resupply = column("next_resupply", gettext_lazy("Next resupply"))
    opened = column("opened", gettext_lazy("Alert opened"))


# --- the data behind each page, and its rows ----------------------------------------------------


def consumption_data(params: dict) -> ConsumptionTable:
    return consumption_by_month(
        root=params["root"], date_from=params["from"], date_to=params["to"], product=params["product"]
    )


def cyp_data(params: dict) -> CypTable:
    return cyp_by_area(root=params["root"], date_from=params["from"], date_to=params["to"], product=params["product"])


def distribution_data(params: dict, pair_limit: int | None = None) -> DistributionReport:
    """Every row (the exports), or with ``pair_limit`` only the first rows by pair (the page)."""
    return distribution(
        root=params["root"],
        date_from=params["from"],
        date_to=params["to"],
        product=params["product"],
        pair_limit=pair_limit,
    )


def distribution_table_rows(data: DistributionReport) -> list[dict]:
    return [row.as_dict() for row in data.by_level] + [row.as_dict() for row in data.by_pair]


def mobiya_data(params: dict) -> MobiyaReport:
    return mobiya_report(
        root=params["root"], product=params["product"], opened_from=params["from"], opened_to=params["to"]
    )


def consumption_rows(user, params: dict) -> list[dict]:
    return consumption_data(params).rows()


def cyp_rows(user, params: dict) -> list[dict]:
    return cyp_data(params).export_rows()


def distribution_rows(user, params: dict) -> list[dict]:
    return distribution_table_rows(distribution_data(params))


def mobiya_rows(user, params: dict) -> list[dict]:
    return mobiya_data(params).rows()


# Cheap upper bounds of the row counts (the export decides between a file now and a job).


def consumption_estimate(user, params: dict) -> int:
    return len(month_range(params["from"], params["to"]))


def cyp_estimate(user, params: dict) -> int:
    return len(areas_of(params["root"] or country_root())) + 1


def distribution_estimate(user, params: dict) -> int:
    routes = (
        shipments_in_scope(params["root"])
        .filter(dispatch_date__gte=params["from"], dispatch_date__lte=params["to"])
        .values("origin_id", "destination_id")
        .distinct()
        .count()
    )
    per_route = 1 if params["product"] else Product.objects.count() + 1
    # Rows by origin → destination, and at most as many by level.
    return 2 * routes * per_route


def mobiya_estimate(user, params: dict) -> int:
    return dropout_alerts(
        root=params["root"], product=params["product"], opened_from=params["from"], opened_to=params["to"]
    ).count()


CONSUMPTION = register(
    ReportSpec(
        key="consumption",
        title=gettext_lazy("Consumption"),
        rows=consumption_rows,
        resource=ConsumptionResource,
        form=TrendForm,
        url_name="report-consumption",
        estimate=consumption_estimate,
    )
)
CYP = register(
    ReportSpec(
        key="cyp",
        title=gettext_lazy("CYP by method and area"),
        rows=cyp_rows,
        resource=CypResource,
        form=TrendForm,
        url_name="report-cyp",
        estimate=cyp_estimate,
    )
)
DISTRIBUTION = register(
    ReportSpec(
        key="distribution",
        title=gettext_lazy("Distribution"),
        rows=distribution_rows,
        resource=DistributionResource,
        form=DistributionForm,
        url_name="report-distribution",
        estimate=distribution_estimate,
    )
)
MOBIYA = register(
    ReportSpec(
        key="mobiya",
        title=gettext_lazy("MOBIYA: dropout risk"),
        rows=mobiya_rows,
        resource=MobiyaResource,
        form=MobiyaForm,
        url_name="report-mobiya",
        estimate=mobiya_estimate,
    )
)
