"""Alerts in the admin: the thresholds editable, the alerts and notifications read-only.

- ``AlertSettings`` is one row (pk 1, a CHECK constraint): the changelist opens it
  directly (creating it with the defaults the first time); it can be changed by
  whoever has the change permission, never added twice nor deleted.
- ``Alert`` rows are written only by the alert computation (``compute_alerts``) and
  acknowledged through the inbox or the API (``alert_acknowledge``); the admin lists
  and shows them, scoped to the user's subtree like every inventory admin page.
- ``Notification`` rows likewise, scoped by their alert's location.
- ``ExportJob`` rows (a report export run by the worker) are read-only, scoped by the
  location of the user who asked for them; the file is downloaded from the user's
  "Your exports" page, not here.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from inventory.admin.scoping import LocationCodeFilter, ReadOnlyAdminMixin, ScopedAdminMixin
from reports import alert_text
from reports.models import Alert, AlertSettings, ExportJob, Notification


@admin.register(AlertSettings)
class AlertSettingsAdmin(admin.ModelAdmin):
    fieldsets = (
        (_("Stock"), {"fields": ("expiry_horizon_days",)}),
        (_("Shipments and discrepancies"), {"fields": ("open_discrepancy_days",)}),
        (_("Dropout risk (MOBIYA)"), {"fields": ("dropout_share", "dropout_months", "resupply_days")}),
        (_("Computation"), {"fields": ("debounce_seconds",)}),
    )

    def has_add_permission(self, request):
        return False  # the one row exists (``current()`` creates it)

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # One row: go straight to it.
        row = AlertSettings.current()
        opts = self.model._meta
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]))


class ReadOnlyScopedAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Alert)
class AlertAdmin(ReadOnlyScopedAdmin):
    list_display = (
        "id",
        "kind",
        "severity",
        "status",
        "location",
        "product",
        "quantity",
        "message",
        "opened_at",
        "updated_at",
        "resolved_at",
        "acknowledged_by",
    )
    list_filter = ("status", "kind", "severity", LocationCodeFilter, ("opened_at", DateFieldListFilter))
    list_select_related = ("location", "product", "acknowledged_by")

    @admin.display(description=_("message"))
    def message(self, alert: Alert) -> str:
        return alert_text.describe(alert)


class NotificationLocationFilter(LocationCodeFilter):
    location_field = "alert__location"


@admin.register(Notification)
class NotificationAdmin(ReadOnlyScopedAdmin):
    scope_field = "alert__location"
    list_display = ("id", "alert", "user", "created_at", "read_at", "emailed_at")
    list_filter = (NotificationLocationFilter, ("created_at", DateFieldListFilter))
    list_select_related = ("alert__location", "alert__product", "user")
    search_fields = ("^user__username",)
    search_help_text = _("User name, or its beginning.")


class ExportJobLocationFilter(LocationCodeFilter):
    location_field = "user__location"


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyScopedAdmin):
    scope_field = "user__location"
    list_display = ("id", "report", "format", "status", "user", "rows", "created_at", "finished_at")
    list_filter = ("status", "report", "format", ExportJobLocationFilter, ("created_at", DateFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("^user__username",)
    search_help_text = _("User name, or its beginning.")
