"""Service-figure pages: a clinic's monthly grid of methods × (active, new users), and the district's month close.

``/locations/<clinic>/service-figures/<YYYY-MM>/`` shows the month's current figures,
whether the district has closed it, and the corrections made since. Who may enter
figures (the clinic's staff, district/province/manager users above it) gets the
inputs; after the close, saving a change is a correction and needs a note.

``/locations/<district>/months/`` lists the district's recent months, how many of its
clinics reported, and which are closed; district warehouse staff and managers above
close a month with one button.

Locations come from ``location_for_user`` (outside the subtree: 404); refusals from
the services are shown on the page, in the user's language, with their status.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from inventory.errors import AlokonError
from inventory.models import Level, MonthClose, Product, ServiceFigure
from inventory.selectors.scope import location_for_user
from inventory.services.service_figures import (
    MAX_USERS,
    add_months,
    can_close_month,
    can_enter_figures,
    district_of,
    figures_history,
    month_close,
    service_figures_set,
)
from inventory.views.stock import breadcrumbs

MONTHS_SHOWN = 12


def parse_month(text: str) -> dt.date:
    try:
        year, month = (int(part) for part in text.split("-"))
        return dt.date(year, month, 1)
    except ValueError:
        raise Http404(_("%(value)s is not a month (YYYY-MM).") % {"value": text}) from None


def _parse_grid(post, products) -> tuple[dict, dict[str, str]]:
    """``active_<code>`` and ``new_<code>`` inputs → {Product: (active, new)}; errors by product code."""
    figures, errors = {}, {}
    for product in products:
        active = post.get(f"active_{product.code}", "").strip()
        new = post.get(f"new_{product.code}", "").strip()
        if not active and not new:
            continue
        try:
            values = (int(active or "0"), int(new or "0"))
        except ValueError:
            errors[product.code] = _("Enter whole numbers.")
            continue
        if min(values) < 0 or max(values) > MAX_USERS:
            errors[product.code] = _("Enter a number between 0 and %(max)d.") % {"max": MAX_USERS}
        elif values[1] > values[0]:
            errors[product.code] = _("New users are also active users, so they cannot exceed them.")
        else:
            figures[product] = values
    return figures, errors


@login_required
@require_http_methods(["GET", "POST"])
def service_figures(request, code, month):
    location = location_for_user(request.user, code)
    if location.level != Level.CLINIC:
        raise Http404(
            _("Service figures are reported by clinics; %(location)s is not a clinic.") % {"location": location.name}
        )
    first = parse_month(month)
    allowed = can_enter_figures(request.user, location)
    products = list(Product.objects.filter(is_active=True).order_by("code"))
    district = district_of(location)
    close = MonthClose.objects.filter(location=district, month=first).select_related("closed_by").first()
    error, grid_errors, note, status = None, {}, "", 200
    if request.method == "POST":
        if not allowed:
            raise PermissionDenied(
                _("You may not enter the service figures of %(location)s.") % {"location": location.name}
            )
        note = request.POST.get("note", "").strip()[:2000]
        figures, grid_errors = _parse_grid(request.POST, products)
        if grid_errors:
            error, status = _("Some figures are not valid; see the marked rows."), 400
        else:
            try:
                result = service_figures_set(
                    location=location, month=first, figures=figures, actor=request.user, note=note
                )
            except AlokonError as exc:
                error, status = exc.message, exc.http_status
            else:
                changed = len(result.created) + len(result.updated)
                messages.success(request, _("%(count)d figures saved.") % {"count": changed})
                return redirect("service-figures", code=location.code, month=f"{first:%Y-%m}")
    history = list(figures_history(location, first))
    current = {row.product_id: row for row in history if row.is_current}
    rows = []
    for product in products:
        row = current.get(product.pk)
        posted = request.method == "POST"
        rows.append(
            {
                "product": product,
                "figure": row,
                "active": request.POST.get(f"active_{product.code}", "")
                if posted
                else (row.active_users if row else ""),
                "new": request.POST.get(f"new_{product.code}", "") if posted else (row.new_users if row else ""),
                "error": grid_errors.get(product.code),
            }
        )
    return render(
        request,
        "inventory/dispensing/service_figures.html",
        {
            "location": location,
            "breadcrumbs": breadcrumbs(request.user, location),
            "month": first,
            "previous": add_months(first, -1),
            "next": add_months(first, 1) if add_months(first, 1) <= timezone.localdate() else None,
            "close": close,
            "rows": rows,
            "corrections": [row for row in history if row.is_correction],
            "can_edit": allowed,
            "error": error,
            "note": note,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def month_close_view(request, code):
    district = location_for_user(request.user, code)
    if district.level != Level.DISTRICT:
        raise Http404(
            _("Months are closed by districts; %(location)s is not a district.") % {"location": district.name}
        )
    allowed = can_close_month(request.user, district)
    error, status = None, 200
    if request.method == "POST":
        if not allowed:
            raise PermissionDenied(_("You may not close months for %(location)s.") % {"location": district.name})
        try:
            close = month_close(district=district, month=parse_month(request.POST.get("month", "")), actor=request.user)
        except AlokonError as exc:
            error, status = exc.message, exc.http_status
        else:
            messages.success(request, _("%(month)s is closed.") % {"month": f"{close.month:%Y-%m}"})
            return redirect("month-close", code=district.code)
    this_month = timezone.localdate().replace(day=1)
    months = [add_months(this_month, -n) for n in range(1, MONTHS_SHOWN + 1)]
    closes = {
        c.month: c for c in MonthClose.objects.filter(location=district, month__in=months).select_related("closed_by")
    }
    reported = dict(
        ServiceFigure.objects.filter(location__parent=district, month__in=months, is_current=True)
        .values("month")
        .annotate(clinics=Count("location", distinct=True))
        .values_list("month", "clinics")
    )
    clinics = district.children.real().filter(level=Level.CLINIC, is_active=True).count()
    return render(
        request,
        "inventory/dispensing/months.html",
        {
            "location": district,
            "breadcrumbs": breadcrumbs(request.user, district),
            "rows": [
                {"month": m, "close": closes.get(m), "reported": reported.get(m, 0), "clinics": clinics} for m in months
            ],
            "can_close": allowed,
            "error": error,
        },
        status=status,
    )
