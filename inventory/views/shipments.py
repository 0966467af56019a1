"""Shipment pages: the list, a new draft, the detail page with its Dispatch button,
the printable waybill (SBBK) and the QR images.

A shipment is visible to a user when its origin or its destination is in their
subtree (``shipments_for``); anything else, and any number that does not exist,
is the same 404. Only the origin's own warehouse staff create and dispatch.

The services decide what may happen; a refusal (``AlokonError``) is shown on the
page that asked, in the user's language, with its HTTP status (400 for bad
input, 409 for a conflict such as dispatching twice or a shortage), and nothing
is saved. A successful POST redirects (post/redirect/get), so reloading the
result page never repeats the action.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from inventory.errors import AlokonError
from inventory.forms.shipments import ShipmentFilterForm, ShipmentForm, line_formset
from inventory.models import Shipment, ShipmentStatus
from inventory.qr import qr_png, qr_svg, shipment_url
from inventory.selectors.discrepancies import shipment_history
from inventory.selectors.shipments import shipments_for
from inventory.services.shipments import shipment_create, shipment_dispatch
from inventory.views.receive import can_receive

PAGE_SIZE = 50
#: a shipment's token never changes, so its QR image may stay in the browser's cache
QR_MAX_AGE = 7 * 24 * 3600


def shipment_for_user(user, number: str) -> Shipment:
    shipment = (
        shipments_for(user)
        .select_related("origin", "destination", "created_by", "dispatched_by")
        .filter(number=number)
        .first()
    )
    if shipment is None:
        raise Http404(_("Shipment %(number)s was not found.") % {"number": number})
    return shipment


def can_ship(user) -> bool:
    """Warehouse staff with a home location (a superuser acts for their own location, if any)."""
    return user.location_id is not None and user.is_warehouse_staff


def can_dispatch(user, shipment: Shipment) -> bool:
    return shipment.status == ShipmentStatus.DRAFT and can_ship(user) and user.location_id == shipment.origin_id


@login_required
@require_GET
def shipment_list(request):
    form = ShipmentFilterForm(request.GET or None)
    shipments = shipments_for(request.user).select_related("origin", "destination").annotate(line_count=Count("lines"))
    if form.is_valid():
        status, direction = form.cleaned_data["status"], form.cleaned_data["direction"]
        if status:
            shipments = shipments.filter(status=status)
        # Direction is relative to the user's own warehouse; a manager's wider view is the unfiltered list.
        home_id = request.user.location_id
        if home_id is not None and direction == "outgoing":
            shipments = shipments.filter(origin_id=home_id)
        elif home_id is not None and direction == "incoming":
            shipments = shipments.filter(destination_id=home_id)
    page = Paginator(shipments.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "inventory/shipments/list.html",
        {"form": form, "page": page, "filter_query": query.urlencode(), "can_ship": can_ship(request.user)},
        status=200 if not form.is_bound or form.is_valid() else 400,
    )


@login_required
def shipment_new(request):
    user = request.user
    if not can_ship(user):
        raise PermissionDenied(_("Only warehouse staff create shipments."))
    origin = user.location
    form = ShipmentForm(request.POST or None, origin=origin)
    lines = line_formset(origin, request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid() and lines.is_valid():
            try:
                shipment = shipment_create(
                    origin=origin,
                    destination=form.cleaned_data["destination"],
                    lines=lines.line_specs(),
                    actor=user,
                    note=form.cleaned_data["note"],
                )
            except AlokonError as error:
                form.add_error(None, error.message)
                status = error.http_status
            else:
                messages.success(request, _("Draft %(number)s was created.") % {"number": shipment.number})
                return redirect("shipment-detail", number=shipment.number)
    return render(
        request, "inventory/shipments/new.html", {"form": form, "lines": lines, "origin": origin}, status=status
    )


def _detail(request, shipment, *, error=None, status=200):
    lines = shipment.lines.select_related("product", "lot").order_by("id")
    return render(
        request,
        "inventory/shipments/detail.html",
        {
            "shipment": shipment,
            "lines": lines,
            "error": error,
            "can_dispatch": can_dispatch(request.user, shipment),
            "receive_url": _receive_path(request.user, shipment),
            "receipts": shipment.receipts.select_related("received_by").order_by("received_at"),
            "discrepancies": shipment.discrepancies.select_related(
                "product", "lot", "resolved_by", "return_shipment"
            ).order_by("id"),
            "history": shipment_history(shipment) if shipment.dispatched_at else [],
        },
        status=status,
    )


def _receive_path(user, shipment):
    if shipment.token and can_receive(user, shipment):
        return shipment.token
    return None


@login_required
@require_GET
def shipment_detail(request, number):
    return _detail(request, shipment_for_user(request.user, number))


@login_required
@require_POST
def shipment_dispatch_view(request, number):
    shipment = shipment_for_user(request.user, number)
    if shipment.status == ShipmentStatus.DRAFT and not can_dispatch(request.user, shipment):
        raise PermissionDenied(_("Only staff of the origin can dispatch this shipment."))
    try:
        result = shipment_dispatch(shipment=shipment, actor=request.user)
    except AlokonError as error:
        # Re-read: the shipment may have been dispatched by someone else meanwhile.
        shipment = shipment_for_user(request.user, number)
        return _detail(request, shipment, error=error.message, status=error.http_status)
    messages.success(request, _("Shipment %(number)s was dispatched.") % {"number": shipment.number})
    for warning in result.warnings:
        messages.warning(request, warning)
    return redirect("shipment-detail", number=shipment.number)


def _dispatched(user, number) -> Shipment:
    shipment = shipment_for_user(user, number)
    if shipment.status == ShipmentStatus.DRAFT or not shipment.token:
        raise Http404(_("Shipment %(number)s has not been dispatched yet.") % {"number": number})
    return shipment


@login_required
@require_GET
def shipment_waybill(request, number):
    shipment = _dispatched(request.user, number)
    lines = list(shipment.lines.select_related("product", "lot").order_by("product__code", "lot__expiry", "id"))
    url = shipment_url(shipment.token)
    context = {"shipment": shipment, "lines": lines, "qr": qr_svg(url), "qr_url": url}
    if request.GET.get("format") == "label":
        context["width"] = 58 if request.GET.get("width") == "58" else 80
        context["total"] = sum(line.quantity for line in lines)
        return render(request, "inventory/shipments/label.html", context)
    return render(request, "inventory/shipments/waybill.html", context)


@login_required
@require_GET
@cache_control(private=True, max_age=QR_MAX_AGE)
def shipment_qr_svg(request, number):
    shipment = _dispatched(request.user, number)
    return HttpResponse(qr_svg(shipment_url(shipment.token)), content_type="image/svg+xml")


@login_required
@require_GET
@cache_control(private=True, max_age=QR_MAX_AGE)
def shipment_qr_png(request, number):
    shipment = _dispatched(request.user, number)
    return HttpResponse(qr_png(shipment_url(shipment.token)), content_type="image/png")
