"""Dispensing pages: a clinic's dispensing form and history, and a location's expired stock.

``/locations/<code>/dispensing/`` shows the clinic's records; its own warehouse
staff also get the form (a day, or a month's total; product, optional lot and
quantity rows). A hidden ``client_uuid`` made when the form is first shown is kept
on every re-display, so a double tap or a retried POST records once.

``/locations/<code>/expired/`` lists the lots held there that have expired, with one
button that disposes of all of them (location → loss, reason expired).

Locations come from ``location_for_user`` (outside the subtree: 404); the services
decide, and their refusals are shown on the page in the user's language with the
error's status. Success redirects (post/redirect/get).
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.forms import formset_factory
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inventory.errors import AlokonError
from inventory.forms.shipments import LineFormSet, ShipmentLineForm
from inventory.models import Dispensing, DispensingPeriod, LedgerEntry, Level, Lot
from inventory.selectors.scope import location_for_user
from inventory.services.dispensing import DispensingLineSpec, dispensing_record
from inventory.services.disposal import can_dispose, dispose_expired, expired_balances
from inventory.views.stock import breadcrumbs

LINE_ROWS = 8
HISTORY_SIZE = 50


class DispensingForm(forms.Form):
    date = forms.DateField(
        label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    period = forms.ChoiceField(label=gettext_lazy("Period"), choices=DispensingPeriod.choices)
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    client_uuid = forms.UUIDField(widget=forms.HiddenInput)


class DispensingLineForm(ShipmentLineForm):
    """A shipment's line form; a lot picked without its product names the product."""

    spec_class = DispensingLineSpec

    def clean(self):
        lot = self.cleaned_data.get("lot")
        if not self.errors and self.cleaned_data.get("product") is None and lot is not None:
            self.cleaned_data["product"] = lot.product
        return super().clean()


class _Lines(LineFormSet):
    empty_message = gettext_lazy("A dispensing record needs at least one line.")


DispensingLineFormSet = formset_factory(DispensingLineForm, formset=_Lines, extra=LINE_ROWS, max_num=LINE_ROWS)


def _usable_lots(location):
    """Lots the clinic holds that are still good today (for the lot menus)."""
    today = timezone.localdate()
    return (
        Lot.objects.filter(balances__location=location, balances__quantity__gt=0, expiry__gt=today)
        .select_related("product")
        .order_by("product__code", "expiry", "batch")
    )


def can_record(user, location) -> bool:
    return location.level == Level.CLINIC and (
        user.is_superuser or (user.location_id == location.pk and user.is_warehouse_staff)
    )


def _history(location):
    entries = LedgerEntry.objects.filter(quantity__lt=0).select_related("lot__product").order_by("id")
    return (
        Dispensing.objects.filter(location=location)
        .select_related("recorded_by", "movement")
        .prefetch_related(Prefetch("movement__entries", queryset=entries))
        .order_by("-date", "-id")[:HISTORY_SIZE]
    )


@login_required
def dispensing(request, code):
    location = location_for_user(request.user, code)
    if location.level != Level.CLINIC:
        raise Http404(
            _("Dispensing is recorded by clinics; %(location)s is not a clinic.") % {"location": location.name}
        )
    allowed = can_record(request.user, location)
    if request.method == "POST" and not allowed:
        raise PermissionDenied(
            _("Only the staff of %(location)s can record its dispensing.") % {"location": location.name}
        )
    lots = _usable_lots(location)
    initial = {"date": timezone.localdate(), "period": DispensingPeriod.DAY, "client_uuid": uuid.uuid4()}
    data = request.POST if request.method == "POST" else None
    form = DispensingForm(data, initial=initial)
    lines = DispensingLineFormSet(data, form_kwargs={"lots": lots})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid() and lines.is_valid():
            try:
                result = dispensing_record(
                    location=location,
                    date=form.cleaned_data["date"],
                    period=form.cleaned_data["period"],
                    lines=lines.line_specs(),
                    actor=request.user,
                    client_uuid=form.cleaned_data["client_uuid"],
                    note=form.cleaned_data["note"],
                )
            except AlokonError as error:
                form.add_error(None, error.message)
                status = error.http_status
            else:
                messages.success(
                    request,
                    _("Dispensing %(document)s was recorded.") % {"document": result.dispensing.movement.document},
                )
                return redirect("dispensing", code=location.code)
    return render(
        request,
        "inventory/dispensing/dispensing.html",
        {
            "location": location,
            "breadcrumbs": breadcrumbs(request.user, location),
            "form": form,
            "lines": lines,
            "can_record": allowed,
            "history": _history(location),
        },
        status=status,
    )


@login_required
def expired_disposal(request, code):
    location = location_for_user(request.user, code)
    allowed = can_dispose(request.user, location)
    error, status = None, 200
    if request.method == "POST":
        if not allowed:
            raise PermissionDenied(
                _("Only the warehouse staff of %(location)s can dispose of its stock.") % {"location": location.name}
            )
        try:
            movement = dispose_expired(location=location, actor=request.user)
        except AlokonError as exc:
            error, status = exc.message, exc.http_status
        else:
            messages.success(
                request, _("Expired stock was disposed of (%(document)s).") % {"document": movement.document}
            )
            return redirect("expired-disposal", code=location.code)
    return render(
        request,
        "inventory/dispensing/expired.html",
        {
            "location": location,
            "breadcrumbs": breadcrumbs(request.user, location),
            "balances": expired_balances(location),
            "can_dispose": allowed,
            "error": error,
        },
        status=status,
    )
