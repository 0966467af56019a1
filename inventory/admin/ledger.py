"""The ledger in the admin: movements, entries and balances, read-only for everyone.

The ledger is append-only and only ``inventory.services`` writes it, so these
admins refuse add, change and delete to every user, superusers included (the
database triggers would refuse an edit anyway; the admin should not offer one).
They list, filter, search and export, scoped to the user's subtree.

At 10 million entries a changelist must stay one indexed query: no full result
count, no date hierarchy (it scans for distinct dates), document search by exact
number or prefix rather than ``ILIKE '%…%'``, and the location filter takes a
typed code (a subtree range scan) instead of listing 20,000 clinics.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.db.models import Q
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin

from inventory.admin.opening import opening_import_view
from inventory.admin.scoping import (
    ImportExportPermissionMixin,
    LocationCodeFilter,
    MovementLocationFilter,
    ReadOnlyAdminMixin,
    ScopedAdminMixin,
    is_unscoped,
    movements_in_scope,
)
from inventory.models import LedgerEntry, Level, Movement, StockBalance
from inventory.resources import LedgerEntryResource, MovementResource, StockBalanceResource
from inventory.selectors.scope import visible_locations

OPENING_IMPORT_PERMISSION = "inventory.add_movement"


class LedgerAdmin(ReadOnlyAdminMixin, ImportExportPermissionMixin, ExportMixin, admin.ModelAdmin):
    """Read-only, exportable, and aware of the opening-balance import."""

    import_export_change_list_template = "admin/inventory/ledger_change_list.html"
    show_full_result_count = False
    #: the lookup of the document number, for the search box
    document_field = "movement__document"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        exact = Q(**{self.document_field: term}) | Q(**{f"{self.document_field}__startswith": term})
        return queryset.filter(exact), False

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if request.user.has_perm(OPENING_IMPORT_PERMISSION):
            extra_context["opening_import_url"] = reverse(f"{self.admin_site.name}:inventory_opening_import")
        return super().changelist_view(request, extra_context)


class EntryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LedgerEntry
    fields = ("location", "product", "lot", "quantity", "balance_after", "business_date", "recorded_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("location", "product", "lot__product", "recorded_by")
        if is_unscoped(request.user):
            return qs
        # The other side of a scoped user's movements is usually virtual (supplier,
        # in transit, dispensed); a real location outside their subtree stays hidden.
        return qs.filter(Q(location__in=visible_locations(request.user)) | Q(location__level=Level.VIRTUAL))


@admin.register(Movement)
class MovementAdmin(LedgerAdmin):
    resource_classes = [MovementResource]
    list_display = ("document", "kind", "business_date", "recorded_at", "recorded_by", "reverses")
    list_filter = ("kind", ("business_date", DateFieldListFilter), MovementLocationFilter)
    list_select_related = ("recorded_by", "reverses")
    search_fields = ("document",)
    search_help_text = _("Document number, or its beginning.")
    document_field = "document"
    inlines = [EntryInline]

    def get_queryset(self, request):
        return movements_in_scope(super().get_queryset(request), request.user)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ScopedAdminMixin, LedgerAdmin):
    resource_classes = [LedgerEntryResource]
    list_display = (
        "id",
        "business_date",
        "document",
        "kind",
        "location",
        "product",
        "lot",
        "quantity",
        "balance_after",
        "recorded_by",
    )
    list_filter = ("kind", ("business_date", DateFieldListFilter), LocationCodeFilter, "product")
    list_select_related = ("movement", "location", "product", "lot__product", "recorded_by")
    search_fields = ("movement__document",)
    search_help_text = _("Document number, or its beginning.")

    @admin.display(description=_("document"), ordering="movement__document")
    def document(self, obj):
        return obj.movement.document


@admin.register(StockBalance)
class StockBalanceAdmin(ScopedAdminMixin, LedgerAdmin):
    resource_classes = [StockBalanceResource]
    list_display = ("location", "product", "lot", "expiry", "quantity", "updated_at")
    list_filter = (LocationCodeFilter, "product", "location__level")
    list_select_related = ("location", "product", "lot__product")
    search_fields = ("lot__batch",)
    search_help_text = _("Batch number, or its beginning.")
    document_field = "lot__batch"

    @admin.display(description=_("expiry date"), ordering="lot__expiry")
    def expiry(self, obj):
        return obj.lot.expiry

    def get_urls(self):
        view = self.admin_site.admin_view(opening_import_view(self))
        return [path("opening-import/", view, name="inventory_opening_import"), *super().get_urls()]
