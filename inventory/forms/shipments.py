"""Forms of the shipment pages: a new draft SBBK, the list filter, the scan box, a receipt.

The forms only turn text into objects and say what is wrong with each field, in
the user's language; the rules that decide what may move (routes, stock, states)
live in the services, whose errors the views show beside the form. Codes, not
database ids, travel in the shipment form (a destination, a product); a lot is
picked from the lots the origin holds, so its id is the option value.
"""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.forms import formset_factory
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.models import Location, Lot, Product, ShipmentStatus, StockBalance
from inventory.services.shipments import MAX_LINE_QUANTITY, LineSpec

#: blank line rows on the new-shipment page: enough for the 8 products, no JavaScript needed
LINE_ROWS = 8
#: blank rows for unexpected items on the receiving page
EXTRA_RECEIPT_ROWS = 3


def destinations_for(location: Location):
    """Where ``location`` may ship to: its children, its parent and its siblings (active, real)."""
    route = Q(parent=location)
    if location.parent_id is not None:
        route |= Q(pk=location.parent_id) | Q(parent_id=location.parent_id)
    return Location.objects.real().active().filter(route).exclude(pk=location.pk).order_by("level", "code")


def quantity_field(*, required: bool, min_value: int = 1, label=None) -> forms.IntegerField:
    # IntegerField refuses "1.5" and "1e3" with "Enter a whole number."; the bounds
    # catch a negative number and a typing slip of a few extra zeros.
    return forms.IntegerField(
        label=label or _("Quantity"),
        required=required,
        min_value=min_value,
        max_value=MAX_LINE_QUANTITY,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": min_value, "step": 1}),
    )


class LocationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Location) -> str:
        return f"{obj.code} · {obj.name}"


class LotChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Lot) -> str:
        return f"{obj.product.code} · {obj.batch} · {obj.expiry.isoformat()}"


class ProductChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Product) -> str:
        return f"{obj.code} · {obj.name}"


# --- a new shipment ---------------------------------------------------------------


class ShipmentForm(forms.Form):
    destination = LocationChoiceField(label=_("Destination"), queryset=Location.objects.none(), to_field_name="code")
    note = forms.CharField(label=_("Note"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, origin: Location, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["destination"].queryset = destinations_for(origin)


class ShipmentLineForm(forms.Form):
    """A line of products: product, quantity, optional lot. Other documents with the same
    lines (dispensing) subclass it with their own ``spec_class``."""

    spec_class = LineSpec
    product = ProductChoiceField(
        label=_("Product"), queryset=Product.objects.filter(is_active=True), to_field_name="code", required=False
    )
    quantity = quantity_field(required=False)
    lot = LotChoiceField(label=_("Lot (optional)"), queryset=Lot.objects.none(), required=False)

    def __init__(self, *args, lots=None, **kwargs):
        super().__init__(*args, **kwargs)
        if lots is not None:
            self.fields["lot"].queryset = lots

    def clean(self):
        cleaned = super().clean()
        product, quantity, lot = cleaned.get("product"), cleaned.get("quantity"), cleaned.get("lot")
        if self.errors:
            return cleaned
        if product is None and quantity is None and lot is None:
            return cleaned  # an unused row
        if product is None:
            self.add_error("product", _("Choose a product for this line."))
        if quantity is None:
            self.add_error("quantity", _("Enter the quantity for this line."))
        if product is not None and lot is not None and lot.product_id != product.pk:
            self.add_error(
                "lot", _("Lot %(batch)s is not a lot of %(product)s.") % {"batch": lot.batch, "product": product.code}
            )
        return cleaned

    def line_spec(self) -> LineSpec | None:
        data = self.cleaned_data
        if not data.get("product"):
            return None
        return self.spec_class(product=data["product"], quantity=data["quantity"], lot=data.get("lot"))


class LineFormSet(forms.BaseFormSet):
    """The rows of ``ShipmentLineForm`` (or a subclass): at least one filled in."""

    empty_message = _("A shipment needs at least one line.")

    def clean(self):
        if any(self.errors):
            return
        if not self.line_specs():
            raise forms.ValidationError(self.empty_message)

    def line_specs(self) -> list[LineSpec]:
        return [spec for form in self.forms if (spec := form.line_spec()) is not None]


ShipmentLineFormSet = formset_factory(
    ShipmentLineForm, formset=LineFormSet, extra=LINE_ROWS, max_num=50, validate_max=True, absolute_max=50
)


def origin_lots(origin: Location):
    """Lots the origin holds that have not expired: the only ones worth choosing."""
    held = StockBalance.objects.filter(location=origin, quantity__gt=0).values("lot_id")
    return Lot.objects.filter(pk__in=held, expiry__gt=timezone.localdate()).select_related("product")


def share_choices(forms_: list[forms.Form], name: str) -> None:
    """Give every row's ``name`` select the options of the first row, read once.

    Without this each row's select runs its own query when it renders (8 rows, 8
    queries); validation still checks the submitted value against the queryset.
    """
    if not forms_:
        return
    field = forms_[0].fields[name]
    options = [("", field.empty_label)] if field.empty_label is not None else []
    options += [(field.prepare_value(obj), field.label_from_instance(obj)) for obj in field.queryset]
    for form in forms_:
        form.fields[name].choices = options


def line_formset(origin: Location, data=None) -> LineFormSet:
    formset = ShipmentLineFormSet(data, prefix="lines", form_kwargs={"lots": origin_lots(origin)})
    share_choices(formset.forms, "lot")
    share_choices(formset.forms, "product")
    return formset


# --- the list filter --------------------------------------------------------------


class ShipmentFilterForm(forms.Form):
    DIRECTIONS = [("", _("All")), ("outgoing", _("Outgoing")), ("incoming", _("Incoming"))]

    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All")), *ShipmentStatus.choices])
    direction = forms.ChoiceField(label=_("Direction"), required=False, choices=DIRECTIONS)


# --- the scan box -----------------------------------------------------------------


class ScanForm(forms.Form):
    code = forms.CharField(
        label=_("Code or SBBK number"),
        max_length=2000,
        strip=True,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}
        ),
    )


# --- a receipt ----------------------------------------------------------------------


class ReceiptLineForm(forms.Form):
    """One shipped line: what came in good condition, what came damaged, and which lot."""

    received = quantity_field(required=True, min_value=0, label=_("Good"))
    damaged = quantity_field(required=True, min_value=0, label=_("Damaged"))
    lot = LotChoiceField(label=_("Lot found"), queryset=Lot.objects.none())
    scanned = forms.CharField(label=_("Scan lot"), required=False, max_length=2000)

    def __init__(self, *args, product: Product, lots, **kwargs):
        super().__init__(*args, **kwargs)
        self.product = product
        self.fields["lot"].queryset = lots


class ExtraLineForm(forms.Form):
    """An item that was not on the waybill: a product and lot typed or picked, or a scanned GS1 code."""

    product = ProductChoiceField(
        label=_("Product"), queryset=Product.objects.filter(is_active=True), to_field_name="code", required=False
    )
    batch = forms.CharField(label=_("Lot"), required=False, max_length=64)
    received = quantity_field(required=False, label=_("Quantity"))
    scanned = forms.CharField(label=_("Scan lot"), required=False, max_length=2000)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        product, batch, received = cleaned.get("product"), cleaned.get("batch"), cleaned.get("received")
        scanned = cleaned.get("scanned")
        if product is None and not batch and received is None and not scanned:
            return cleaned  # an unused row
        if received is None:
            self.add_error("received", _("Enter the quantity for this line."))
        if scanned:
            return cleaned  # the view resolves the code into product and lot
        if product is None:
            self.add_error("product", _("Choose a product for this line."))
            return cleaned
        if not batch:
            self.add_error("batch", _("Enter the lot (batch number) of this item."))
            return cleaned
        lot = Lot.objects.filter(product=product, batch=batch).first()
        if lot is None:
            self.add_error("batch", _("%(product)s has no lot %(batch)s.") % {"product": product.code, "batch": batch})
        cleaned["lot"] = lot
        return cleaned
