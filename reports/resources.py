"""The stock status, expiry and stock card reports: their filters, rows and import-export
resources, registered in ``reports.report_registry`` (see its top for the contract).

Each resource reads the row dicts of its selector; the page shows the same rows.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from import_export import resources

from inventory.models.locations import REAL_LEVELS
from inventory.views.stock_card import card_entries, card_rows
from reports.report_registry import PeriodReportForm, ReportForm, ReportSpec, column, register
from reports.selectors.expiry import expiry_rows, expiry_size
from reports.selectors.indicators import StockStatus
from reports.selectors.stock_status import stock_status_rows, stock_status_size

# --- stock status -----------------------------------------------------------------------


class StockStatusForm(ReportForm):
    level = forms.ChoiceField(
        label=_("Level"),
        required=False,
        choices=[("", _("All"))] + [(level.value, level.label) for level in REAL_LEVELS],
    )
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All")), *StockStatus.choices])


class StockStatusResource(resources.Resource):
    location = column("location", _("location"))
    location_name = column("location_name", _("location name"))
    level = column("level", _("level"))
    product = column("product", _("product"))
    stock = column("stock", _("stock on hand"))
    in_transit = column("in_transit", _("in transit"))
    amc = column("amc", _("AMC"))
    mos = column("mos", _("months of stock"))
    min_months = column("min_months", _("min (months)"))
    max_months = column("max_months", _("max (months)"))
    status = column("status", _("status"))
    suggested_order = column("suggested_order", _("suggested order"))


def _stock_status_rows(user, params):
    return stock_status_rows(
        root=params["root"], level=params["level"] or None, product=params["product"], status=params["status"] or None
    )


def _stock_status_size(user, params):
    return stock_status_size(root=params["root"], level=params["level"] or None, product=params["product"])


STOCK_STATUS = register(
    ReportSpec(
        key="stock-status",
        title=_("Stock status"),
        rows=_stock_status_rows,
        resource=StockStatusResource,
        form=StockStatusForm,
        url_name="report-stock-status",
        estimate=_stock_status_size,
    )
)


# --- expiry -----------------------------------------------------------------------------

DEFAULT_EXPIRY_MONTHS = 6
MAX_EXPIRY_MONTHS = 36


class ExpiryForm(ReportForm):
    months = forms.IntegerField(
        label=_("Expiring within (months)"),
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_MONTHS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 1, "max": MAX_EXPIRY_MONTHS, "step": 1}),
    )

    def clean_months(self) -> int:
        return self.cleaned_data["months"] or DEFAULT_EXPIRY_MONTHS


class ExpiryResource(resources.Resource):
    location = column("location", _("location"))
    location_name = column("location_name", _("location name"))
    level = column("level", _("level"))
    product = column("product", _("product"))
    batch = column("batch", _("batch number"))
    expiry = column("expiry", _("expiry date"))
    days_left = column("days_left", _("days left"))
    quantity = column("quantity", _("quantity"))
    state = column("state", _("state"))


def _expiry_rows(user, params):
    return expiry_rows(root=params["root"], product=params["product"], months=params["months"])


def _expiry_size(user, params):
    return expiry_size(root=params["root"], product=params["product"], months=params["months"])


EXPIRY = register(
    ReportSpec(
        key="expiry",
        title=_("Expiring lots"),
        rows=_expiry_rows,
        resource=ExpiryResource,
        form=ExpiryForm,
        url_name="report-expiry",
        estimate=_expiry_size,
    )
)


# --- the stock card (kartu stok) ----------------------------------------------------------------


class StockCardForm(PeriodReportForm):
    """One location's card of one product: both required."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].required = True
        self.fields["product"].required = True


class StockCardResource(resources.Resource):
    date = column("date", _("date"))
    recorded_at = column("recorded_at", _("recorded at"))
    document = column("document", _("document"))
    kind = column("kind", _("kind"))
    reason = column("reason", _("reason"))
    batch = column("batch", _("batch number"))
    expiry = column("expiry", _("expiry date"))
    quantity_in = column("quantity_in", _("in"))
    quantity_out = column("quantity_out", _("out"))
    lot_balance = column("lot_balance", _("lot balance"))
    balance = column("balance", _("balance"))
    recorded_by = column("recorded_by", _("recorded by"))


def _card_rows(user, params):
    return card_rows(params["location"], params["product"], params.get("from"), params.get("to"))


def _card_size(user, params):
    return card_entries(params["location"], params["product"], params.get("from"), params.get("to")).count()


STOCK_CARD = register(
    ReportSpec(
        key="stock-card",
        title=_("Stock card"),
        rows=_card_rows,
        resource=StockCardResource,
        form=StockCardForm,
        estimate=_card_size,
    )
)
