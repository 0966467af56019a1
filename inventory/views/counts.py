"""Stock count pages: a location's counts, a new count, the count sheet, and its printouts.

The sheet, ``/counts/<id>/``, is one plain HTML form that works without
JavaScript on a cheap phone:

- one row per lot, with a box for the counted quantity; the system's current
  balance is shown beside it unless the count is blind;
- a scan box (a handheld scanner types the GS1 code and presses Enter) and a lot
  picker add a lot that is on the shelf but not on the sheet. Enter presses the
  form's first button, "Save and add", which saves what was typed and adds the
  scanned or picked lot; it never submits the count;
- "Submit count" takes the count (``count_submit``); a manager over the location
  or its head then approves (posting the differences) or rejects it.

Everything that may or may not happen is decided by ``inventory.services.counts``;
its refusals are shown on the page with their status (400, 403, 409) and change
nothing. A successful POST redirects, so reloading never repeats it.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from inventory.errors import AlokonError
from inventory.forms.shipments import LotChoiceField, quantity_field
from inventory.models import CountStatus, Lot, StockBalance, StockCount
from inventory.scanning.resolve import resolve_scan
from inventory.selectors.counts import counts_for, open_count
from inventory.selectors.scope import location_for_user
from inventory.services.counts import (
    NOTE_MAX_LENGTH,
    CountLineSpec,
    can_count,
    can_decide,
    count_approve,
    count_reject,
    count_set_lines,
    count_start,
    count_submit,
)

PAGE_SIZE = 50


def count_for_user(user, pk: int) -> StockCount:
    count = (
        counts_for(user)
        .select_related("location", "created_by", "submitted_by", "decided_by", "movement")
        .filter(pk=pk)
        .first()
    )
    if count is None:
        raise Http404(_("Count %(number)s was not found.") % {"number": f"OPN-{pk:06d}"})
    return count


def _lines(count: StockCount) -> list:
    return list(count.lines.select_related("product", "lot").order_by("product__code", "lot__expiry", "lot__batch"))


# --- the list and a new count ----------------------------------------------------------------


@login_required
@require_GET
def count_list(request, code):
    location = location_for_user(request.user, code)
    counts = (
        location.stock_counts.select_related("created_by", "submitted_by", "decided_by")
        .annotate(line_count=Count("lines"))
        .order_by("-created_at", "-id")
    )
    page = Paginator(counts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "inventory/counts/list.html",
        {
            "location": location,
            "page": page,
            "can_count": can_count(request.user, location),
            "open_count": open_count(location),
        },
    )


class NewCountForm(forms.Form):
    blind = forms.TypedChoiceField(
        label=gettext_lazy("How will you count?"),
        coerce=lambda value: value == "1",
        choices=[
            ("0", gettext_lazy("With the system's quantities on the sheet")),
            ("1", gettext_lazy("Blind: without the system's quantities (recommended for a second person)")),
        ],
        initial="0",
        widget=forms.RadioSelect,
    )


@login_required
def count_new(request, code):
    location = location_for_user(request.user, code)
    if not can_count(request.user, location):
        raise PermissionDenied(_("Only warehouse staff of %(location)s count its stock.") % {"location": location.name})
    existing = open_count(location)
    if existing is not None:
        messages.info(
            request, _("Count %(number)s of this location is still open; continue it.") % {"number": existing.number}
        )
        return redirect("count-detail", pk=existing.pk)
    form = NewCountForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                count = count_start(location=location, actor=request.user, blind=form.cleaned_data["blind"])
            except AlokonError as error:
                form.add_error(None, error.message)
                status = error.http_status
            else:
                return redirect("count-detail", pk=count.pk)
    return render(request, "inventory/counts/new.html", {"location": location, "form": form}, status=status)


# --- the sheet -------------------------------------------------------------------------------


def _field(lot_id: int) -> str:
    return f"counted-{lot_id}"


class SheetForm(forms.Form):
    """The counted quantity of every lot on the sheet, and a lot to add (scanned or picked)."""

    scanned = forms.CharField(label=gettext_lazy("Scan lot"), required=False, max_length=2000)
    add_lot = LotChoiceField(label=gettext_lazy("or pick a lot"), queryset=Lot.objects.none(), required=False)
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=NOTE_MAX_LENGTH)

    def __init__(self, *args, lines, location, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[_field(line.lot_id)] = quantity_field(required=False, min_value=0, label=_("Counted"))
            self.initial[_field(line.lot_id)] = line.counted
        # Lots worth picking: unexpired ones of active products, and whatever the location holds.
        on_sheet = [line.lot_id for line in lines]
        held = StockBalance.objects.filter(location=location).values("lot_id")
        self.fields["add_lot"].queryset = (
            Lot.objects.filter(Q(expiry__gt=timezone.localdate(), product__is_active=True) | Q(pk__in=held))
            .exclude(pk__in=on_sheet)
            .select_related("product")
            .order_by("product__code", "expiry", "batch")
        )

    def clean(self):
        cleaned = super().clean()
        self.added = None
        code = (cleaned.get("scanned") or "").strip()
        if code:
            self.added = self._scanned_lot(code)
        elif cleaned.get("add_lot") is not None:
            self.added = cleaned["add_lot"]
        return cleaned

    def _scanned_lot(self, code: str) -> Lot | None:
        try:
            result = resolve_scan(code, user=self.user)
        except AlokonError as error:
            self.add_error("scanned", error.message)
            return None
        if result.type != "lot":
            self.add_error("scanned", _("This is not a product barcode."))
            return None
        if result.lot is None:
            self.add_error(
                "scanned",
                _("%(product)s has no lot %(batch)s yet.")
                % {"product": result.product.code, "batch": result.batch or "?"},
            )
            return None
        return result.lot

    def specs(self, *, remove: int | None = None) -> list[CountLineSpec]:
        specs = [
            CountLineSpec(product=line.product, lot=line.lot, counted=self.cleaned_data.get(_field(line.lot_id)))
            for line in self.lines
            if line.lot_id != remove
        ]
        if self.added is not None and all(line.lot_id != self.added.pk for line in self.lines):
            specs.append(CountLineSpec(product=self.added.product, lot=self.added, counted=None))
        return specs


def _sheet_form(request, count, lines, data=None) -> SheetForm:
    form = SheetForm(data, lines=lines, location=count.location)
    form.user = request.user
    return form


def _render(request, count, *, form=None, error=None, status=200):
    lines = _lines(count)
    editable = count.status == CountStatus.DRAFT and can_count(request.user, count.location)
    if editable and form is None:
        form = _sheet_form(request, count, lines)
    balances = {}
    if count.status == CountStatus.DRAFT and not count.blind:
        balances = dict(
            StockBalance.objects.filter(location=count.location, lot__in=[line.lot_id for line in lines]).values_list(
                "lot_id", "quantity"
            )
        )
    rows = [
        {
            "line": line,
            "field": form[_field(line.lot_id)] if editable and _field(line.lot_id) in form.fields else None,
            "balance": balances.get(line.lot_id, 0),
        }
        for line in lines
    ]
    may_decide = (
        count.status == CountStatus.SUBMITTED
        and can_decide(request.user, count.location)
        and count.submitted_by_id != request.user.pk
    )
    return render(
        request,
        "inventory/counts/detail.html",
        {
            "count": count,
            "rows": rows,
            "form": form,
            "editable": editable,
            "show_system": count.status != CountStatus.DRAFT or not count.blind,
            "may_decide": may_decide,
            "awaits_other": count.status == CountStatus.SUBMITTED and count.submitted_by_id == request.user.pk,
            "totals": _totals(lines) if count.status != CountStatus.DRAFT else None,
            "error": error,
        },
        status=status,
    )


def _totals(lines) -> dict:
    differences = [line.difference or 0 for line in lines]
    return {
        "lines_differing": sum(1 for d in differences if d),
        "surplus": sum(d for d in differences if d > 0),
        "shortage": -sum(d for d in differences if d < 0),
    }


@login_required
def count_detail(request, pk):
    count = count_for_user(request.user, pk)
    if request.method != "POST":
        return _render(request, count)
    action = request.POST.get("action", "apply")
    try:
        if action in ("approve", "reject"):
            note = request.POST.get("decision_note", "")[:NOTE_MAX_LENGTH]
            if action == "approve":
                count_approve(count=count, actor=request.user, note=note)
                messages.success(request, _("Count %(number)s was approved.") % {"number": count.number})
            else:
                count_reject(count=count, actor=request.user, note=note)
                messages.success(request, _("Count %(number)s was rejected.") % {"number": count.number})
            return redirect("count-detail", pk=count.pk)
        return _sheet_post(request, count, action)
    except AlokonError as error:
        # Re-read: someone else may have submitted or decided it meanwhile.
        return _render(request, count_for_user(request.user, pk), error=error.message, status=error.http_status)


def _sheet_post(request, count, action):
    if not can_count(request.user, count.location):
        raise PermissionDenied(
            _("Only warehouse staff of %(location)s count its stock.") % {"location": count.location.name}
        )
    if count.status != CountStatus.DRAFT:
        return _render(
            request,
            count,
            error=_("Count %(number)s was already submitted; it can no longer be changed.") % {"number": count.number},
            status=409,
        )
    form = _sheet_form(request, count, _lines(count), request.POST)
    if not form.is_valid():
        return _render(request, count, form=form, status=400)
    remove = request.POST.get("remove", "")
    specs = form.specs(remove=int(remove) if remove.isdigit() else None)
    count_set_lines(count=count, lines=specs, actor=request.user, note=form.cleaned_data["note"])
    if action == "submit":
        count_submit(count=count, actor=request.user)
        messages.success(
            request,
            _("Count %(number)s was submitted; a manager or the warehouse head approves it.")
            % {"number": count.number},
        )
        return redirect("count-detail", pk=count.pk)
    if form.added is not None:
        messages.info(
            request,
            _("Lot %(batch)s of %(product)s is on the sheet.")
            % {"batch": form.added.batch, "product": form.added.product.code},
        )
    return redirect(f"{request.path}#scan")


# --- printouts -------------------------------------------------------------------------------


@login_required
@require_GET
def count_print(request, pk):
    """A4: the blank counting sheet (a draft, or ``?sheet=1``) or the count result with its differences."""
    count = count_for_user(request.user, pk)
    sheet = count.status == CountStatus.DRAFT or request.GET.get("sheet") == "1"
    lines = _lines(count)
    show_system = not count.blind
    balances = {}
    if sheet and show_system and count.status == CountStatus.DRAFT:
        balances = dict(
            StockBalance.objects.filter(location=count.location, lot__in=[line.lot_id for line in lines]).values_list(
                "lot_id", "quantity"
            )
        )
    rows = [
        {
            "line": line,
            "system": balances.get(line.lot_id, 0) if count.status == CountStatus.DRAFT else line.system_quantity,
        }
        for line in lines
    ]
    return render(
        request,
        "inventory/counts/print.html",
        {
            "count": count,
            "rows": rows,
            "sheet": sheet,
            "show_system": show_system or not sheet,
            "blank_rows": range(5) if sheet else range(0),
            "totals": None if sheet else _totals(lines),
            "printed_at": timezone.now(),
        },
    )
