"""The activity page of a location: who created, dispatched, received, resolved,
counted, approved and recorded what in its subtree, newest first.

Events come from ``inventory.selectors.activity.activity_for``, which reads them
from the documents themselves. The page asks for exactly the events up to the end
of the page it shows (plus one, to know whether an older page exists), so page n
costs n × 50 rows per source, never a count of the whole history; past
``MAX_PAGES`` the user narrows the period instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from inventory.selectors.activity import KINDS, activity_for
from inventory.selectors.scope import location_for_user
from inventory.views.stock import breadcrumbs
from inventory.views.stock_card import DateRangeForm

PAGE_SIZE = 50
MAX_PAGES = 40


class ActivityFilterForm(DateRangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"] = forms.ChoiceField(
            label=_("What"), required=False, choices=[("", _("Everything")), *KINDS.items()]
        )


@dataclass
class ActivityPage:
    """The few things the pager needs (no total: it would count the whole history)."""

    number: int
    object_list: list
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def _page_number(raw) -> int:
    try:
        number = int(raw)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), MAX_PAGES)


@login_required
@require_GET
def location_activity(request, code):
    location = location_for_user(request.user, code)
    form = ActivityFilterForm(request.GET or None)
    context = {"location": location, "breadcrumbs": breadcrumbs(request.user, location), "form": form}
    if form.is_bound and not form.is_valid():
        return render(request, "inventory/activity/location.html", context, status=400)

    data = form.cleaned_data if form.is_bound else {}
    kind = data.get("kind")
    number = _page_number(request.GET.get("page"))
    end = number * PAGE_SIZE
    events = activity_for(
        request.user,
        location,
        since=data.get("from"),
        until=data.get("to"),
        kinds=[kind] if kind else None,
        limit=end + 1,
    )
    page = ActivityPage(
        number=number,
        object_list=events[end - PAGE_SIZE : end],
        has_next=len(events) > end and number < MAX_PAGES,
    )
    query = request.GET.copy()
    query.pop("page", None)
    context.update(
        {
            "page": page,
            "filter_query": query.urlencode(),
            "truncated": len(events) > end and number >= MAX_PAGES,
        }
    )
    return render(request, "inventory/activity/location.html", context)
