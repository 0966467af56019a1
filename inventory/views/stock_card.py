"""The stock card (kartu stok) of one product at one location.

Every entry in posting order, 200 to a page, optionally limited to a range of
business dates (``?from=YYYY-MM-DD&to=YYYY-MM-DD``). Each entry shows the balance
of its lot right after it (stored by the posting service) and the running balance
of the product (the "sisa" column of a paper kartu stok), computed per page from
one aggregate instead of a window over the whole card.

``?print=1`` is the paper card: every entry of the range on one page (at most
``PRINT_LIMIT``; a longer card asks for a shorter period), with the location, product
and period heading it and lines to sign. The Excel and CSV buttons export the same
entries (``card_rows``) through the report registry (``reports.resources``: report
``stock-card``), so a long card becomes a background job like any large export.

A malformed date is a 400 with the form's message, never a 500.
"""

from __future__ import annotations

from typing import NamedTuple

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Sum
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from inventory.models import LedgerEntry, Product, StockBalance
from inventory.selectors.scope import location_for_user
from inventory.selectors.stock import stock_card as stock_card_entries
from inventory.selectors.stock import stock_card_filter
from inventory.views.stock import breadcrumbs

PAGE_SIZE = 200
#: entries on one printed card
PRINT_LIMIT = 2_000


def _date_field(label):
    # ISO only: it is what <input type="date"> sends and what a shared link holds,
    # whatever the language of the page.
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class DateRangeForm(forms.Form):
    # "from" is a Python keyword, so the fields are added by name.
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from"] = _date_field(_("From"))
        self.fields["to"] = _date_field(_("To"))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date must not be after the end date."))
        return cleaned


class CardRow(NamedTuple):
    entry: LedgerEntry
    quantity_in: int
    quantity_out: int
    balance: int  # of the product at the location, right after the entry


def _with_product_balance(location, product, entries):
    """Pair each entry with the product's balance at the location right after it.

    The balance after entry ``e`` is the sum of every entry of the card up to ``e``
    in posting order, hidden by the date filter or not (a backdated entry posted
    later sits between shown ones): the sum before the page, then the quantities of
    the whole id range the page spans.
    """
    if not entries:
        return []
    card = LedgerEntry.objects.filter(location=location, product=product)
    first_id, last_id = entries[0].pk, entries[-1].pk
    running = card.filter(id__lt=first_id).aggregate(q=Sum("quantity"))["q"] or 0
    span = card.filter(id__gte=first_id, id__lte=last_id).order_by("id").values_list("id", "quantity")
    after = {}
    for entry_id, quantity in span:
        running += quantity
        after[entry_id] = running
    return [CardRow(entry, max(entry.quantity, 0), max(-entry.quantity, 0), after[entry.pk]) for entry in entries]


def card_entries(location, product, date_from=None, date_to=None):
    """The card's entries in posting order, limited to a range of business dates."""
    return stock_card_entries(location, product).filter(stock_card_filter(date_from, date_to))


def card_rows(location, product, date_from=None, date_to=None) -> list[dict]:
    """Every entry of the card in the range as a plain row (the export's rows)."""
    rows = _with_product_balance(location, product, list(card_entries(location, product, date_from, date_to)))
    return [
        {
            "date": entry.business_date,
            "recorded_at": entry.recorded_at,
            "document": entry.movement.document,
            "kind": entry.get_kind_display(),
            "reason": entry.get_reason_display() if entry.reason else "",
            "batch": entry.lot.batch,
            "expiry": entry.lot.expiry,
            "quantity_in": quantity_in,
            "quantity_out": quantity_out,
            "lot_balance": entry.balance_after,
            "balance": balance,
            "recorded_by": entry.recorded_by.get_username() if entry.recorded_by else "",
        }
        for entry, quantity_in, quantity_out, balance in rows
    ]


@login_required
def stock_card(request, code, product_code):
    location = location_for_user(request.user, code)
    product = get_object_or_404(Product, code=product_code)
    form = DateRangeForm(request.GET or None)
    on_hand = StockBalance.objects.filter(location=location, product=product).aggregate(q=Sum("quantity"))["q"]
    context = {
        "location": location,
        "product": product,
        "breadcrumbs": breadcrumbs(request.user, location),
        "form": form,
        "on_hand": on_hand or 0,
    }
    if form.is_bound and not form.is_valid():
        return render(request, "inventory/stock_card.html", context, status=400)

    date_from = form.cleaned_data.get("from") if form.is_bound else None
    date_to = form.cleaned_data.get("to") if form.is_bound else None
    entries = card_entries(location, product, date_from, date_to)
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("print", None)
    context.update({"filter_query": query.urlencode(), "date_from": date_from, "date_to": date_to})
    # The export buttons post the card's filters to the report registry's export.
    export_query = query.copy()
    export_query["location"], export_query["product"] = location.code, product.code
    context["export_query"] = export_query.urlencode()

    if request.GET.get("print"):
        # One query for the length: a card too long for paper asks for a shorter period.
        shown = list(entries[: PRINT_LIMIT + 1])
        context.update({"printing": True, "too_long": len(shown) > PRINT_LIMIT, "print_limit": PRINT_LIMIT})
        if len(shown) <= PRINT_LIMIT:
            context["rows"] = _with_product_balance(location, product, shown)
        return render(request, "inventory/stock_card.html", context)

    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    context.update({"page": page, "rows": _with_product_balance(location, product, list(page.object_list))})
    return render(request, "inventory/stock_card.html", context)
