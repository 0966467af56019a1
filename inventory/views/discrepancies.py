"""Discrepancy pages: the list with its filters, and the detail page with the shipment,
its history and the resolve form.

Visible to whoever sees the shipment (origin or destination in their subtree); any
other id is the same 404. The form offers only the resolutions this user may choose
for this record; the service decides, and its refusal (400, 403, 409: someone
resolved it meanwhile) is shown on the page in the user's language, with nothing
saved. A resolution redirects back to the detail page with a message.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from inventory.errors import AlokonError
from inventory.forms.discrepancies import DiscrepancyFilterForm, ResolveForm
from inventory.models import DiscrepancyStatus, EntryReason
from inventory.selectors.discrepancies import (
    discrepancies_for,
    discrepancy_for_user,
    filter_discrepancies,
    list_queryset,
    shipment_history,
)
from inventory.selectors.scope import not_found_message, visible_locations
from inventory.services.discrepancies import discrepancy_resolve, resolutions_for

PAGE_SIZE = 50


@login_required
@require_GET
def discrepancy_list(request):
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = DiscrepancyStatus.OPEN  # the working list: what still needs someone
    form = DiscrepancyFilterForm(data)
    discrepancies = discrepancies_for(request.user)
    status = 200
    if form.is_valid():
        cleaned = form.cleaned_data
        location = None
        if cleaned["location"]:
            location = visible_locations(request.user).filter(code=cleaned["location"]).first()
            if location is None:
                form.add_error("location", not_found_message(cleaned["location"]))
        if form.is_valid():
            discrepancies = filter_discrepancies(
                discrepancies,
                status=cleaned["status"],
                kind=cleaned["kind"],
                location=location,
                route=cleaned["route"],
                min_age_days=cleaned["age"],
            )
    if not form.is_valid():
        discrepancies = discrepancies.none()
        status = 400
    page = Paginator(list_queryset(discrepancies), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "inventory/discrepancies/list.html",
        {"form": form, "page": page, "filter_query": query.urlencode()},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def discrepancy_detail(request, pk):
    discrepancy = discrepancy_for_user(request.user, pk)
    offered = resolutions_for(request.user, discrepancy)
    form = ResolveForm(request.POST or None, discrepancy=discrepancy, offered=offered)
    error, status = None, 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                result = discrepancy_resolve(
                    discrepancy=discrepancy,
                    resolution=form.cleaned_data["resolution"],
                    actor=request.user,
                    quantity=form.cleaned_data["quantity"],
                    reason=form.cleaned_data.get("reason", ""),
                    note=form.cleaned_data["note"],
                )
            except AlokonError as refusal:
                error, status = refusal.message, refusal.http_status
                # Re-read: someone may have resolved it meanwhile.
                discrepancy = discrepancy_for_user(request.user, pk)
                offered = resolutions_for(request.user, discrepancy)
                form = ResolveForm(request.POST, discrepancy=discrepancy, offered=offered)
            else:
                resolved = result.discrepancy
                messages.success(
                    request,
                    _("Discrepancy %(id)s was resolved: %(resolution)s, %(quantity)d units.")
                    % {
                        "id": resolved.pk,
                        "resolution": resolved.get_resolution_display(),
                        "quantity": resolved.quantity,
                    },
                )
                if result.remainder is not None:
                    messages.info(
                        request,
                        _("The other %(quantity)d units stay open as discrepancy %(id)s.")
                        % {"quantity": result.remainder.quantity, "id": result.remainder.pk},
                    )
                if resolved.return_shipment_id:
                    messages.info(
                        request,
                        _("Return shipment %(number)s was dispatched.") % {"number": resolved.return_shipment.number},
                    )
                return redirect("discrepancy-detail", pk=resolved.pk)
    shipment = discrepancy.shipment
    return render(
        request,
        "inventory/discrepancies/detail.html",
        {
            "discrepancy": discrepancy,
            "shipment": shipment,
            "form": form if offered else None,
            "error": error,
            "reason": EntryReason(discrepancy.resolution_reason).label if discrepancy.resolution_reason else "",
            "history": shipment_history(shipment),
            "others": shipment.discrepancies.exclude(pk=discrepancy.pk)
            .select_related("product", "lot", "return_shipment")
            .order_by("id"),
        },
        status=status,
    )
