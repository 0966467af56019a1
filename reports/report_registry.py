"""The registry of exportable reports: key → ``ReportSpec``.

Every report page and its exports read the same rows through the same function, so
what the page shows is what the file holds, and the scope is decided in one place.

How to register a report (one call at the top level of a module named
``<app>/resources*.py``, e.g. ``reports/resources_trends.py``: the registry imports
every such module of the project's apps the first time it is asked for a report,
in the web process and in the Celery worker alike)::

    from django.utils.translation import gettext_lazy as _
    from import_export import resources

    from reports.report_registry import PeriodReportForm, ReportSpec, column, register

    class ConsumptionForm(PeriodReportForm):       # location + product + from/to
        ...                                          # add fields as needed

    def consumption_rows(user, params: dict) -> list[dict]:
        root = params["root"]                        # set by ReportForm: the location, already in scope
        ...                                          # set-based SQL / ORM, one dict per row

    class ConsumptionResource(resources.Resource):   # NOT a ModelResource: it reads the row dicts
        month = column("month", _("month"))         # the columns, in this order
        product = column("product", _("product"))
        units = column("units", _("units"))

    register(ReportSpec(
        key="consumption",                           # URL-safe, unique
        title=_("Consumption"),
        rows=consumption_rows,
        resource=ConsumptionResource,
        form=ConsumptionForm,
        url_name="report-consumption",               # the report page (for the "your exports" list)
        estimate=None,                               # optional: (user, params) -> rough row count, cheap
    ))

The contract:

- ``form(data, user=user)``: a ``ReportForm`` subclass. ``data`` is the page's query
  string (a ``QueryDict``); a bad value is a form error (the page answers 400 with it,
  an export refuses with it). Its ``cleaned_data`` is the ``params`` the other functions
  get; ``ReportForm`` adds ``params["root"]``: the chosen location, or the user's home
  location, or None for an unscoped superuser (everything).
- ``rows(user, params)``: every row (a list or an iterable of dicts or objects), already
  limited to what ``user`` may see. Values stay Python values (int, Decimal, date, str,
  None): the XLSX keeps numbers as numbers and dates as dates.
- ``resource``: an import-export ``Resource`` whose fields read the rows. ``column(key,
  label)`` is a field that reads ``row[key]`` (``a__b``: nested keys or attributes) and
  keeps the value as it is; a plain ``fields.Field`` would turn numbers into text.
  Translate labels with ``gettext_lazy``: a file is written in the asker's language.
- ``estimate(user, params)``: optional, cheap upper bound of the row count. Without it
  the export computes the rows to count them. Above
  ``reports.services.exports.sync_row_limit()`` rows, the export runs as a Celery job.

Pages: ``{% include "reports/_report_filters.html" %}`` renders the form;
``{% include "reports/_export_links.html" with export_key="consumption" %}`` renders
the Excel/CSV buttons (they post to ``report-export`` with the page's query string).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import fields, widgets

from inventory.models import Location, Product
from inventory.selectors.scope import filter_location, is_unscoped
from inventory.views.stock_card import DateRangeForm

#: the apps whose ``resources*.py`` modules the registry imports
PROJECT_APPS = ("inventory", "reports")
MODULE_PREFIX = "resources"


@dataclass(frozen=True)
class ReportSpec:
    key: str
    title: Any  # a lazy translation
    rows: Callable[[Any, dict], Iterable]
    resource: type
    form: type[ReportForm]
    url_name: str | None = None
    estimate: Callable[[Any, dict], int] | None = None

    def filename(self, params: dict, extension: str) -> str:
        """``<key>_<location code or "all">[_<product code>]_<date>.<extension>``."""
        root, product = params.get("root"), params.get("product")
        parts = [self.key, root.code if root else "all", *([getattr(product, "code", product)] if product else [])]
        return f"{'_'.join(parts)}_{timezone.localdate().isoformat()}.{extension}"


_REGISTRY: dict[str, ReportSpec] = {}
_discovered = False


def register(spec: ReportSpec) -> ReportSpec:
    """Add a report; registering the same key twice replaces it (a module imported again)."""
    _REGISTRY[spec.key] = spec
    return spec


def _discover() -> None:
    """Import every ``<app>/resources*.py`` module: their ``register()`` calls fill the registry."""
    global _discovered
    if _discovered:
        return
    for label in PROJECT_APPS:
        config = apps.get_app_config(label)
        for info in pkgutil.iter_modules([config.path]):
            if info.name.startswith(MODULE_PREFIX):
                importlib.import_module(f"{config.name}.{info.name}")
    _discovered = True


def get_report(key: str) -> ReportSpec | None:
    _discover()
    return _REGISTRY.get(key)


def all_reports() -> list[ReportSpec]:
    _discover()
    return list(_REGISTRY.values())


# --- resources ---------------------------------------------------------------------------


class ValueWidget(widgets.Widget):
    """Exports the row's value as it is: numbers stay numbers, dates dates, None an empty cell."""

    def render(self, value, obj=None, **kwargs):
        return value


def column(key: str, label) -> fields.Field:
    """A resource column reading ``row[key]`` (``a__b`` for nested keys or attributes) unchanged."""
    return fields.Field(attribute=key, column_name=label, widget=ValueWidget(), readonly=True)


# --- the params forms -------------------------------------------------------------------


def scope_root(user, location: Location | None = None) -> Location | None:
    """The root of what a report shows: ``location`` (already checked to be visible), else the
    user's home location, else None (an unscoped superuser: everything). A user with neither a
    location nor the superuser's whole view sees no report."""
    if location is not None:
        return location
    if user.location_id is None:
        if is_unscoped(user):
            return None
        raise PermissionDenied(_("Your account has no location: ask an administrator to set one."))
    return user.location


class ReportForm(forms.Form):
    """The filters every report has: a location (its subtree; the user's scope when empty) and a
    product. ``ReportForm(data, user=user)``; ``cleaned_data["root"]`` is the scope root."""

    location = forms.CharField(
        label=gettext_lazy("Location code"),
        required=False,
        max_length=32,
        help_text=gettext_lazy("Leave empty for everything you can see."),
        widget=forms.TextInput(attrs={"size": 10, "autocapitalize": "off", "spellcheck": "false"}),
    )
    product = forms.ChoiceField(label=gettext_lazy("Product"), required=False)

    def __init__(self, data=None, *args, user, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.user = user
        self.fields["product"].choices = [("", _("All"))] + [
            (code, f"{code} · {name}")
            for code, name in Product.objects.filter(is_active=True).order_by("code").values_list("code", "name")
        ]

    def clean_location(self) -> Location | None:
        return filter_location(self.user, self.cleaned_data["location"])

    def clean_product(self) -> Product | None:
        code = self.cleaned_data["product"]
        return Product.objects.get(code=code) if code else None

    def clean(self):
        cleaned = super().clean()
        if "location" in cleaned:
            cleaned["root"] = scope_root(self.user, cleaned["location"])
        return cleaned


class PeriodReportForm(DateRangeForm, ReportForm):
    """``ReportForm`` with a period: ``from`` and ``to`` (ISO dates, both optional, inclusive; the
    stock card's form, so every page reads dates alike)."""
