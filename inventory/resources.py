"""django-import-export resources: how master data and the ledger look in CSV and XLSX.

Rows are identified by codes, never by database ids, so a file exported from one
installation imports into another: a location by its ``code`` (its ``parent`` as the
parent's code), a lot by (product code, batch), a stock policy by its level or its
location's code.

Imports run as one transaction with a dry run first (the admin's preview): every
row is validated with the model's own ``clean()``, an unknown code is a row error,
and a file with any bad row writes nothing. Locations are saved one row at a time
(no bulk mode) because ``Location.save()`` derives the materialised path from the
parent, which may be a row earlier in the same file.

Every resource takes the importing or exporting ``user``: codes outside the user's
subtree read as unknown, exactly like a code that does not exist.

The ledger resources (movements, entries, balances) are export-only.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from inventory.models import LedgerEntry, Level, Location, Lot, Movement, Product, StockBalance, StockPolicy
from inventory.selectors.scope import is_unscoped, visible_locations

DATE_FORMAT = "%Y-%m-%d"


def _text(value) -> str:
    return "" if value is None else str(value).strip()


class CodeWidget(widgets.ForeignKeyWidget):
    """A foreign key written as the related row's code; an unknown code is a row error."""

    def __init__(self, model, field="code", **kwargs):
        super().__init__(model, field, **kwargs)
        self.queryset = None  # set per import by the resource (the user's scope)

    def get_queryset(self, value, row, *args, **kwargs):
        return self.queryset if self.queryset is not None else self.model.objects.all()

    def clean(self, value, row=None, **kwargs):
        value = _text(value)
        if not value:
            return None
        try:
            return self.get_queryset(value, row).get(**{self.field: value})
        except self.model.DoesNotExist:
            raise ValueError(
                _("Unknown %(model)s code “%(code)s”.") % {"model": self.model._meta.verbose_name, "code": value}
            ) from None

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else getattr(value, self.field)


class OptionalTextWidget(widgets.CharWidget):
    """Text where an empty cell means NULL (a unique GTIN, a policy's level), not ""."""

    def clean(self, value, row=None, **kwargs):
        return _text(value) or None


class ScopedResource(resources.ModelResource):
    """A model resource that knows who imports or exports, and reports bad codes as row errors."""

    def __init__(self, user=None, **kwargs):
        super().__init__(**kwargs)
        self.user = user
        for field in self.fields.values():
            if isinstance(field.widget, CodeWidget) and field.widget.model is Location:
                field.widget.queryset = self.locations_in_scope()

    @property
    def unscoped(self) -> bool:
        return self.user is None or is_unscoped(self.user)

    def locations_in_scope(self):
        # Real locations only: virtual ones belong to the system, never to a file.
        return Location.objects.real() if self.unscoped else visible_locations(self.user)

    def get_instance(self, instance_loader, row):
        # An unknown code in an id column means "a new row"; the field itself then
        # reports the unknown code as a validation error of that row.
        try:
            return super().get_instance(instance_loader, row)
        except ValueError:
            return None


class LocationResource(ScopedResource):
    code = fields.Field(attribute="code", column_name="code", widget=widgets.CharWidget())
    parent = fields.Field(attribute="parent", column_name="parent", widget=CodeWidget(Location))

    class Meta:
        model = Location
        import_id_fields = ("code",)
        fields = (
            "code",
            "name",
            "level",
            "parent",
            "bps_code",
            "clinic_kind",
            "latitude",
            "longitude",
            "is_active",
        )
        export_order = fields
        clean_model_instances = True
        use_transactions = True
        skip_unchanged = True
        report_skipped = True

    def get_queryset(self):
        return self.locations_in_scope().select_related("parent")

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        # A scoped user's own home location has its parent above their scope: an
        # unchanged parent is kept as it is rather than looked up (and refused).
        if (
            field.attribute == "parent"
            and instance.pk
            and instance.parent_id
            and _text(row.get(field.column_name)) == instance.parent.code
        ):
            return
        super().import_field(field, instance, row, is_m2m, **kwargs)

    def import_instance(self, instance, row, **kwargs):
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as e:
            errors = e.update_error_dict(errors)
        if instance.level == Level.VIRTUAL:
            errors.setdefault("level", []).append(
                ValidationError(_("Virtual locations are part of the system and cannot be imported."))
            )
        elif "parent" not in errors and instance.parent_id is None and not self.unscoped:
            errors.setdefault("parent", []).append(ValidationError(_("Choose a parent location inside your area.")))
        if errors:
            raise ValidationError(errors)


class ProductResource(ScopedResource):
    gtin = fields.Field(attribute="gtin", column_name="gtin", widget=OptionalTextWidget())

    class Meta:
        model = Product
        import_id_fields = ("code",)
        fields = ("code", "name", "unit", "method", "cyp_factor", "gtin", "short_acting", "revisit_days", "is_active")
        export_order = fields
        clean_model_instances = True
        use_transactions = True
        skip_unchanged = True


class LotResource(ScopedResource):
    product = fields.Field(attribute="product", column_name="product", widget=CodeWidget(Product))
    expiry = fields.Field(attribute="expiry", column_name="expiry", widget=widgets.DateWidget(DATE_FORMAT))

    class Meta:
        model = Lot
        import_id_fields = ("product", "batch")
        fields = ("product", "batch", "expiry")
        export_order = fields
        clean_model_instances = True
        use_transactions = True
        skip_unchanged = True

    def get_queryset(self):
        return Lot.objects.select_related("product")


class StockPolicyResource(ScopedResource):
    """One row per level (``location`` empty) or per location (``level`` empty)."""

    level = fields.Field(attribute="level", column_name="level", widget=OptionalTextWidget())
    location = fields.Field(attribute="location", column_name="location", widget=CodeWidget(Location))

    class Meta:
        model = StockPolicy
        # Not a real key (either column identifies the row): see get_instance().
        import_id_fields = ("level", "location")
        fields = ("level", "location", "min_months", "max_months", "emergency_months")
        export_order = fields
        clean_model_instances = True
        use_transactions = True
        skip_unchanged = True

    def get_queryset(self):
        qs = StockPolicy.objects.select_related("location")
        if self.unscoped:
            return qs
        return qs.filter(location__in=visible_locations(self.user)) | qs.filter(location__isnull=True)

    def get_instance(self, instance_loader, row):
        code, level = _text(row.get("location")), _text(row.get("level"))
        qs = self.get_queryset()
        if code:
            return qs.filter(location__code=code, location__in=self.locations_in_scope()).first()
        if level:
            return qs.filter(level=level, location__isnull=True).first()
        return None

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if instance.location_id is None and not self.unscoped:
            raise ValidationError({"level": _("Only a national administrator can change the policy of a whole level.")})


# --- the ledger: export only ---------------------------------------------------------


class ExportResource(ScopedResource):
    """Read-only resources: importing into the ledger is never allowed."""

    def import_data(self, *args, **kwargs):  # pragma: no cover - no admin offers it
        raise PermissionError("The ledger is append-only; post movements through inventory.services.")


class MovementResource(ExportResource):
    recorded_by = fields.Field(attribute="recorded_by__username", column_name="recorded_by")

    class Meta:
        model = Movement
        fields = ("id", "kind", "document", "business_date", "recorded_at", "recorded_by", "note", "reverses")
        export_order = fields

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("recorded_by")


class LedgerEntryResource(ExportResource):
    movement = fields.Field(attribute="movement_id", column_name="movement")
    document = fields.Field(attribute="movement__document", column_name="document")
    location = fields.Field(attribute="location__code", column_name="location")
    product = fields.Field(attribute="product__code", column_name="product")
    batch = fields.Field(attribute="lot__batch", column_name="batch")
    expiry = fields.Field(attribute="lot__expiry", column_name="expiry", widget=widgets.DateWidget(DATE_FORMAT))
    recorded_by = fields.Field(attribute="recorded_by__username", column_name="recorded_by")

    class Meta:
        model = LedgerEntry
        fields = (
            "id",
            "movement",
            "document",
            "kind",
            "business_date",
            "location",
            "product",
            "batch",
            "expiry",
            "quantity",
            "balance_after",
            "recorded_at",
            "recorded_by",
        )
        export_order = fields

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("movement", "location", "product", "lot", "recorded_by")


class StockBalanceResource(ExportResource):
    location = fields.Field(attribute="location__code", column_name="location")
    location_name = fields.Field(attribute="location__name", column_name="location_name")
    product = fields.Field(attribute="product__code", column_name="product")
    batch = fields.Field(attribute="lot__batch", column_name="batch")
    expiry = fields.Field(attribute="lot__expiry", column_name="expiry", widget=widgets.DateWidget(DATE_FORMAT))

    class Meta:
        model = StockBalance
        fields = ("location", "location_name", "product", "batch", "expiry", "quantity", "updated_at")
        export_order = fields

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("location", "product", "lot")
