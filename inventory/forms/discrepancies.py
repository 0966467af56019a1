"""Forms of the discrepancy pages: the list filter and the resolve form.

The resolve form shows only the resolutions the user may choose for this record,
but accepts any resolution of the record's kind: whether this user may record it
now (or whether someone resolved it meanwhile) is the service's to say, with a
message that explains it, rather than a bare "not a valid choice".
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from inventory.api.discrepancy_serializers import WRITE_OFF_REASON_CHOICES
from inventory.models import Discrepancy, DiscrepancyKind, DiscrepancyStatus, Resolution
from inventory.selectors.discrepancies import route_choices
from inventory.services.discrepancies import RESOLUTIONS
from inventory.services.shipments import MAX_LINE_QUANTITY

AGE_CHOICES = [
    ("", _("Any age")),
    ("3", _("3 days or more")),
    ("7", _("7 days or more")),
    ("30", _("30 days or more")),
    ("90", _("90 days or more")),
]


class DiscrepancyFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All"))] + list(DiscrepancyStatus.choices)
    )
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All"))] + list(DiscrepancyKind.choices))
    route = forms.ChoiceField(label=_("Route"), required=False, choices=[("", _("All"))] + route_choices())
    age = forms.TypedChoiceField(label=_("Age"), required=False, choices=AGE_CHOICES, coerce=int, empty_value=None)
    location = forms.CharField(
        label=_("Location code"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"size": 10, "autocapitalize": "off", "spellcheck": "false"}),
    )


class ResolutionField(forms.ChoiceField):
    """Shows ``choices`` (what the user may choose) and accepts any of ``accepted`` (the kind's)."""

    accepted: tuple[str, ...] = ()

    def valid_value(self, value) -> bool:
        return str(value) in self.accepted


class ResolveForm(forms.Form):
    resolution = ResolutionField(label=_("Resolution"), widget=forms.RadioSelect)
    quantity = forms.IntegerField(
        label=_("Quantity"),
        min_value=1,
        max_value=MAX_LINE_QUANTITY,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 1, "step": 1}),
    )
    reason = forms.ChoiceField(
        label=_("Reason (write-off)"), required=False, choices=[("", "—")] + WRITE_OFF_REASON_CHOICES
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2, "cols": 40})
    )

    def __init__(self, *args, discrepancy: Discrepancy, offered: list[str], **kwargs):
        kwargs.setdefault("initial", {"quantity": discrepancy.quantity})
        if len(offered) == 1:
            kwargs["initial"] = {**kwargs["initial"], "resolution": offered[0]}
        super().__init__(*args, **kwargs)
        self.fields["resolution"].choices = [(r, Resolution(r).label) for r in offered]
        self.fields["resolution"].accepted = tuple(RESOLUTIONS[discrepancy.kind])
        # A hint for the browser; above it, the service's message says how many the record holds.
        self.fields["quantity"].widget.attrs["max"] = discrepancy.quantity
        if DiscrepancyKind(discrepancy.kind) not in (DiscrepancyKind.SHORT, DiscrepancyKind.OVERDUE):
            del self.fields["reason"]
