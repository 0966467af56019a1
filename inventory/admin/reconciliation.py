"""Reconciliation documents in the admin: discrepancies, stock counts, dispensing,
service figures and closed months, read-only and scoped to the user's subtree.

These documents change only through their services (resolving a discrepancy,
approving a count, recording dispensing or figures, closing a month), which post
to the ledger and keep the audit columns; an admin form would do neither. So the
admin lists, filters and shows them, and refuses add, change and delete to every
user, superusers included. A discrepancy is in scope when its shipment's origin or
destination is (the rule of every shipment page); the others by their location.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from inventory.admin.scoping import LocationCodeFilter, ReadOnlyAdminMixin, ScopedAdminMixin, is_unscoped
from inventory.models import Discrepancy, Dispensing, MonthClose, ServiceFigure, StockCount, StockCountLine
from inventory.selectors.scope import visible_locations


class ReadOnlyDocumentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # Every field, so the change page is a plain read-only view.
        return [f.name for f in self.model._meta.fields]


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyDocumentAdmin):
    list_display = (
        "id",
        "shipment",
        "kind",
        "product",
        "lot",
        "quantity",
        "status",
        "created_at",
        "resolution",
        "resolution_reason",
        "resolved_at",
        "resolved_by",
    )
    list_filter = ("status", "kind", "resolution", ("created_at", DateFieldListFilter))
    list_select_related = ("shipment", "product", "lot__product", "resolved_by")
    search_fields = ("^shipment__number",)
    search_help_text = _("Shipment number, or its beginning.")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if is_unscoped(request.user):
            return qs
        visible = visible_locations(request.user)
        return qs.filter(Q(shipment__origin__in=visible) | Q(shipment__destination__in=visible))


class StockCountLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StockCountLine
    fields = ("product", "lot", "system_quantity", "counted", "difference")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "lot__product")


@admin.register(StockCount)
class StockCountAdmin(ScopedAdminMixin, ReadOnlyDocumentAdmin):
    list_display = ("number", "location", "status", "blind", "counted_at", "submitted_by", "decided_at", "decided_by")
    list_filter = ("status", LocationCodeFilter, ("counted_at", DateFieldListFilter))
    list_select_related = ("location", "submitted_by", "decided_by")
    inlines = [StockCountLineInline]


@admin.register(Dispensing)
class DispensingAdmin(ScopedAdminMixin, ReadOnlyDocumentAdmin):
    list_display = ("location", "date", "period", "recorded_at", "recorded_by", "movement")
    list_filter = ("period", LocationCodeFilter, ("date", DateFieldListFilter))
    list_select_related = ("location", "recorded_by", "movement")


@admin.register(ServiceFigure)
class ServiceFigureAdmin(ScopedAdminMixin, ReadOnlyDocumentAdmin):
    list_display = (
        "location",
        "month",
        "product",
        "active_users",
        "new_users",
        "is_current",
        "is_correction",
        "recorded_at",
        "recorded_by",
    )
    list_filter = ("is_current", "is_correction", "product", LocationCodeFilter)
    list_select_related = ("location", "product", "recorded_by")


@admin.register(MonthClose)
class MonthCloseAdmin(ScopedAdminMixin, ReadOnlyDocumentAdmin):
    list_display = ("location", "month", "closed_at", "closed_by")
    list_filter = (LocationCodeFilter,)
    list_select_related = ("location", "closed_by")
