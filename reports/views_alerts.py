"""Alert pages: the inbox with its filters, one alert with its figures and the
acknowledge form, and the user's e-mail preference.

The inbox is ``reports.selectors.alerts.alerts_for``: the alerts of the user's
subtree whose kind their role receives, active ones (open or acknowledged) unless
the status filter says otherwise. Any alert the user does not receive is the same
404 as an unknown id. Opening an alert marks the user's notification of it read;
acknowledging it is ``alert_acknowledge``, whose refusal (409: someone acknowledged
it meanwhile, or it resolved itself) is shown on the page in the user's language.
Every sentence about an alert comes from ``reports.alert_text``.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from alokon.models import User
from inventory.errors import AlokonError
from inventory.models import Product
from inventory.selectors.scope import filter_location
from reports import alert_text
from reports.models import Alert, AlertStatus, Notification
from reports.selectors.alerts import STATUS_ACTIVE, STATUS_ALL, alert_for_user, alerts_for, kind_choices
from reports.services.acknowledge import NOTE_MAX_LENGTH, alert_acknowledge, notification_mark_read

PAGE_SIZE = 50

STATUS_CHOICES = [
    (STATUS_ACTIVE, gettext_lazy("Active (open or acknowledged)")),
    *AlertStatus.choices,
    (STATUS_ALL, gettext_lazy("All")),
]


class AlertFilterForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False, choices=STATUS_CHOICES)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False)
    product = forms.ChoiceField(label=gettext_lazy("Product"), required=False)
    location = forms.CharField(
        label=gettext_lazy("Location code"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"size": 10, "autocapitalize": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["kind"].choices = [("", _("All"))] + kind_choices(user)
        self.fields["product"].choices = [("", _("All"))] + [
            (code, code) for code in Product.objects.order_by("code").values_list("code", flat=True)
        ]

    def clean_location(self):
        return filter_location(self.user, self.cleaned_data["location"])

    def clean_product(self):
        code = self.cleaned_data["product"]
        return Product.objects.get(code=code) if code else None


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note (optional): what is being done about it"),
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
    )


class AlertPreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["alert_email"]
        widgets = {"alert_email": forms.RadioSelect}
        labels = {"alert_email": gettext_lazy("E-mail me about new alerts")}


@login_required
@require_GET
def alert_list(request):
    data = request.GET.copy()
    if not data.get("status"):
        data["status"] = STATUS_ACTIVE  # the working list: what is still true
    form = AlertFilterForm(data, user=request.user)
    status = 200
    if form.is_valid():
        cleaned = form.cleaned_data
        alerts = alerts_for(
            request.user,
            kind=cleaned["kind"] or None,
            status=cleaned["status"],
            location=cleaned["location"],
            product=cleaned["product"],
        )
    else:
        alerts = Alert.objects.none()
        status = 400
    page = Paginator(alerts, PAGE_SIZE).get_page(request.GET.get("page"))
    unread = set(
        Notification.objects.filter(
            user=request.user, read_at__isnull=True, alert__in=[a.pk for a in page.object_list]
        ).values_list("alert_id", flat=True)
    )
    rows = [{"alert": a, "message": alert_text.describe(a), "unread": a.pk in unread} for a in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "reports/alerts/list.html",
        {"form": form, "page": page, "rows": rows, "filter_query": query.urlencode()},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def alert_detail(request, pk):
    alert = alert_for_user(request.user, pk)
    form = AcknowledgeForm(request.POST or None)
    error, status = None, 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                alert_acknowledge(alert=alert, actor=request.user, note=form.cleaned_data["note"])
            except AlokonError as refusal:
                error, status = refusal.message, refusal.http_status
                alert = alert_for_user(request.user, pk)  # re-read: someone may have acknowledged it meanwhile
            else:
                messages.success(request, _("You acknowledged the alert."))
                return redirect("alert-detail", pk=alert.pk)
    else:
        notification_mark_read(alert=alert, user=request.user)
    return render(
        request,
        "reports/alerts/detail.html",
        {
            "alert": alert,
            "title": alert_text.title(alert),
            "message": alert_text.describe(alert),
            "facts": figure_facts(alert),
            "tables": figure_tables(alert),
            "form": form if alert.status == AlertStatus.OPEN else None,
            "error": error,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def alert_preferences(request):
    form = AlertPreferencesForm(request.POST or None, instance=request.user)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, _("Your alert e-mail preference was saved."))
            return redirect("alert-preferences")
        return render(request, "reports/alerts/preferences.html", {"form": form}, status=400)
    return render(request, "reports/alerts/preferences.html", {"form": form})


# --- figures as a table ---------------------------------------------------------------------

FACT_LABELS = {
    "soh": gettext_lazy("Stock on hand"),
    "amc": gettext_lazy("Average monthly consumption"),
    "mos": gettext_lazy("Months of stock"),
    "in_transit": gettext_lazy("In transit"),
    "min_months": gettext_lazy("Minimum (months)"),
    "max_months": gettext_lazy("Maximum (months)"),
    "emergency_months": gettext_lazy("Emergency order point (months)"),
    "suggested_order": gettext_lazy("Suggested order"),
    "horizon_days": gettext_lazy("Horizon (days)"),
    "oldest_days": gettext_lazy("Oldest (days)"),
    "rule": gettext_lazy("Rule"),
    "active_users": gettext_lazy("Active users"),
    "users_at_risk": gettext_lazy("Users at risk"),
    "stock_days": gettext_lazy("Days of stock left"),
    "resupply_days": gettext_lazy("Resupply interval (days)"),
    "next_resupply": gettext_lazy("Next resupply"),
    "share": gettext_lazy("Threshold share of need"),
    "also_falling": gettext_lazy("Dispensing also falling"),
}
RULE_LABELS = {
    "stock_gap": gettext_lazy("Stock runs out before the next resupply"),
    "falling_dispensing": gettext_lazy("Dispensing below what active users need"),
}
#: list figures: the table's title and its columns (key, heading)
TABLES = {
    "lots": (
        gettext_lazy("Lots"),
        [
            ("batch", gettext_lazy("Lot")),
            ("expiry", gettext_lazy("Expiry")),
            ("quantity", gettext_lazy("Quantity")),
            ("at_risk", gettext_lazy("At risk")),
        ],
    ),
    "shipments": (
        gettext_lazy("Shipments"),
        [
            ("number", gettext_lazy("Shipment")),
            ("origin", gettext_lazy("From")),
            ("expected_arrival", gettext_lazy("Expected arrival")),
            ("days_overdue", gettext_lazy("Days overdue")),
            ("quantity", gettext_lazy("Quantity")),
        ],
    ),
    "discrepancies": (
        gettext_lazy("Discrepancies"),
        [
            ("id", gettext_lazy("Discrepancy")),
            ("shipment", gettext_lazy("Shipment")),
            ("kind", gettext_lazy("Kind")),
            ("quantity", gettext_lazy("Quantity")),
            ("age_days", gettext_lazy("Age (days)")),
        ],
    ),
    "months": (
        gettext_lazy("Months"),
        [
            ("month", gettext_lazy("Month")),
            ("dispensed", gettext_lazy("Dispensed")),
            ("need", gettext_lazy("Need")),
        ],
    ),
    "mismatches": (gettext_lazy("Mismatches"), [("", gettext_lazy("Mismatch"))]),
}
DATE_KEYS = {"expiry", "expected_arrival", "next_resupply"}


def _show(key: str, value) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if key == "rule":
        return str(RULE_LABELS.get(value, value))
    if key == "share":
        try:
            return f"{formats.localize(round(float(value) * 100))}%"
        except (TypeError, ValueError):
            return str(value)
    if key in DATE_KEYS:
        try:
            return formats.date_format(dt.date.fromisoformat(str(value)[:10]), "SHORT_DATE_FORMAT")
        except ValueError:
            return str(value)
    if isinstance(value, int | float):
        return formats.number_format(value, decimal_pos=1 if isinstance(value, float) else None, force_grouping=True)
    return str(value)


def _link(key: str, value) -> str | None:
    try:
        if key in ("shipment", "number"):
            return reverse("shipment-detail", args=[value])
        if key == "id":
            return reverse("discrepancy-detail", args=[value])
    except Exception:  # noqa: BLE001 - a figure that makes no URL is shown without a link
        return None
    return None


def _known_first(known: dict):
    """A sort key: the keys of ``known`` in its order (JSONB does not keep the stored order), then the rest."""
    order = {key: i for i, key in enumerate(known)}
    return lambda item: (order.get(item[0], len(order)), item[0])


def figure_facts(alert: Alert) -> list[tuple[str, str]]:
    """The alert's single figures as (label, value), in a stable order."""
    figures = alert.figures or {}
    facts = []
    for key, value in sorted(figures.items(), key=_known_first(FACT_LABELS)):
        if isinstance(value, list | dict):
            continue
        facts.append((str(FACT_LABELS.get(key, key)), _show(key, value)))
    return facts


def figure_tables(alert: Alert) -> list[dict]:
    """The alert's list figures (lots, shipments, discrepancies, months, mismatches) as tables."""
    tables = []
    for key, items in sorted((alert.figures or {}).items(), key=_known_first(TABLES)):
        if not isinstance(items, list) or not items:
            continue
        title, columns = TABLES.get(key, (key, None))
        if columns is None:
            first = items[0]
            columns = [(k, k) for k in first] if isinstance(first, dict) else [("", key)]
        rows = []
        for item in items:
            if isinstance(item, dict):
                rows.append(
                    [{"value": _show(k, item.get(k)), "url": _link(k, item.get(k)) if k else None} for k, _h in columns]
                )
            else:
                rows.append([{"value": str(item), "url": None}])
        tables.append({"title": str(title), "headers": [str(h) for _k, h in columns], "rows": rows})
    return tables
