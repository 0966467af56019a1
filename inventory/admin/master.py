"""Master data in the admin: locations, products, lots and stock policies.

All four are editable and have import and export (CSV, XLSX) through the resources
in ``inventory.resources``. Locations and location policies are scoped to the
user's subtree; products and lots are national reference data (a lot has no
location: who holds it is the ledger's business).

Virtual locations are left out of the location admin: they are system rows that
the posting service depends on, created by a migration, never edited by hand.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin

from inventory.admin.scoping import (
    ImportExportPermissionMixin,
    LocationCodeFilter,
    ScopedAdminMixin,
    is_unscoped,
    scope_queryset,
)
from inventory.models import Level, Location, Lot, Product, StockPolicy
from inventory.models.locations import REAL_LEVELS
from inventory.resources import LocationResource, LotResource, ProductResource, StockPolicyResource


class SubtreeFilter(LocationCodeFilter):
    """A location and everything under it."""

    def filter_subtree(self, queryset, root):
        return queryset.filter(path__startswith=root.path)


@admin.register(Location)
class LocationAdmin(ImportExportPermissionMixin, ScopedAdminMixin, ImportExportModelAdmin):
    resource_classes = [LocationResource]
    scope_field = "pk"
    list_display = ("code", "name", "level", "parent", "clinic_kind", "bps_code", "is_active")
    list_filter = (SubtreeFilter, "level", "clinic_kind", "is_active")
    list_select_related = ("parent",)
    search_fields = ("^code", "name", "^bps_code")
    autocomplete_fields = ("parent",)
    fields = (
        "code",
        "bps_code",
        "name",
        "level",
        "parent",
        "clinic_kind",
        "latitude",
        "longitude",
        "is_active",
        "path",
    )
    readonly_fields = ("path",)
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).real()

    def is_home_location(self, request, obj) -> bool:
        return obj is not None and obj.pk == getattr(request.user, "location_id", None)

    def get_readonly_fields(self, request, obj=None):
        # A scoped user's home location hangs from a parent they cannot see or
        # choose: they may rename it, not move it or change what it is.
        if self.is_home_location(request, obj) and not is_unscoped(request.user):
            return ("code", "level", "parent", "path")
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        if self.is_home_location(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "level":
            levels = REAL_LEVELS if is_unscoped(request.user) else [lv for lv in REAL_LEVELS if lv != Level.NATIONAL]
            kwargs["choices"] = [(lv.value, lv.label) for lv in levels]
        return super().formfield_for_choice_field(db_field, request, **kwargs)


@admin.register(Product)
class ProductAdmin(ImportExportPermissionMixin, ImportExportModelAdmin):
    resource_classes = [ProductResource]
    list_display = ("code", "name", "method", "unit", "cyp_factor", "gtin", "short_acting", "revisit_days", "is_active")
    list_filter = ("method", "short_acting", "is_active")
    search_fields = ("^code", "name", "^gtin")


@admin.register(Lot)
class LotAdmin(ImportExportPermissionMixin, ImportExportModelAdmin):
    resource_classes = [LotResource]
    list_display = ("product", "batch", "expiry", "created_at")
    list_filter = ("product", ("expiry", DateFieldListFilter))
    list_select_related = ("product",)
    search_fields = ("^batch", "^product__code")
    readonly_fields = ("created_at",)


@admin.register(StockPolicy)
class StockPolicyAdmin(ImportExportPermissionMixin, ScopedAdminMixin, ImportExportModelAdmin):
    """Level-wide policies belong to the national administrator; a scoped user sees
    them (their own stock is judged by them) and edits only their locations' rows."""

    resource_classes = [StockPolicyResource]
    list_display = ("target", "min_months", "max_months", "emergency_months")
    list_filter = ("level",)
    list_select_related = ("location",)
    search_fields = ("^location__code", "location__name")
    autocomplete_fields = ("location",)

    @admin.display(description=_("level or location"))
    def target(self, obj):
        return obj.location or obj.get_level_display()

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        if is_unscoped(request.user):
            return qs
        return scope_queryset(qs, request.user, "location") | qs.filter(location__isnull=True)

    def _level_row_locked(self, request, obj) -> bool:
        return obj is not None and obj.location_id is None and not is_unscoped(request.user)

    def get_fields(self, request, obj=None):
        fields = ("level", "location", "min_months", "max_months", "emergency_months")
        if not is_unscoped(request.user) and (obj is None or obj.location_id):
            # A scoped user adds policies for their own locations only.
            fields = fields[1:]
        return fields

    def has_change_permission(self, request, obj=None):
        return not self._level_row_locked(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._level_row_locked(request, obj) and super().has_delete_permission(request, obj)
