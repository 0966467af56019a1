"""What every inventory admin page shares: the user's scope and the permission rules.

A staff user who is not an unscoped superuser sees only their home location's
subtree, in every changelist, change view, export and foreign-key choice. The rule
lives in ``inventory.selectors.scope.visible_locations``; this module only applies
it to admin querysets. Objects out of scope are simply absent from the queryset, so
their change pages answer like a missing object (a redirect to the admin index),
never "permission denied", which would confirm that they exist.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inventory.models import LedgerEntry, Location
from inventory.selectors.scope import is_unscoped, visible_locations  # noqa: F401 - re-exported


def scope_queryset(queryset, user, location_field: str):
    """``queryset`` limited to rows whose ``location_field`` lies in the user's subtree."""
    if is_unscoped(user):
        return queryset
    return queryset.filter(**{f"{location_field}__in": visible_locations(user)})


def movements_in_scope(queryset, user):
    """Movements with at least one entry in the user's subtree (EXISTS, not a join + DISTINCT)."""
    if is_unscoped(user):
        return queryset
    entries = LedgerEntry.objects.filter(movement=OuterRef("pk"), location__in=visible_locations(user))
    return queryset.filter(Exists(entries))


class ScopedAdminMixin:
    """Limit a model admin's rows and its location choices to the user's subtree.

    ``scope_field`` is the lookup from the model to its ``Location``.
    """

    scope_field = "location"

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user, self.scope_field)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Location:
            kwargs["queryset"] = visible_locations(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ImportExportPermissionMixin:
    """import-export allows import and export to any staff user unless told otherwise:
    tie import to add + change permission and export to view permission."""

    def has_import_permission(self, request):
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def get_import_resource_kwargs(self, request, **kwargs):
        return {"user": request.user}

    def get_export_resource_kwargs(self, request, **kwargs):
        return {"user": request.user}

    def get_import_data_kwargs(self, **kwargs):
        # The whole file is one transaction: a row that fails validation while the
        # confirmed import runs (the data changed since the preview) rolls back all.
        kwargs = super().get_import_data_kwargs(**kwargs)
        kwargs["rollback_on_validation_errors"] = True
        return kwargs

    def process_result(self, result, request):
        # The confirmed import failed (and was rolled back): say so, instead of
        # import-export's "Import finished" with zero rows.
        if result.has_errors() or result.has_validation_errors():
            messages.error(
                request,
                gettext("Nothing was imported: the file no longer passes the checks. Upload it again to see why."),
            )
            opts = self.model._meta
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_import"))
        return super().process_result(result, request)


class ReadOnlyAdminMixin:
    """The ledger is append-only: nobody, not even a superuser, adds, changes or deletes
    rows here. Stock moves only through the services in ``inventory.services``."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LocationCodeFilter(admin.SimpleListFilter):
    """Filter by a location code typed in, with its whole subtree.

    A list of choices would hold 20,000 clinics; a text box scales. Codes outside
    the user's scope match nothing.
    """

    title = _("location (code, with everything under it)")
    parameter_name = "location"
    template = "admin/inventory/input_filter.html"
    #: lookup from the model to its Location
    location_field = "location"

    def lookups(self, request, model_admin):
        # A non-empty placeholder: SimpleListFilter shows itself only when it has choices.
        return (("", ""),)

    def choices(self, changelist):
        params = {k: v for k, v in changelist.get_filters_params().items() if k != self.parameter_name}
        yield {
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "query_parts": [(k, item) for k, values in params.items() for item in _as_list(values)],
            "clear_query_string": changelist.get_query_string(remove=[self.parameter_name]),
        }

    def queryset(self, request, queryset):
        code = (self.value() or "").strip()
        if not code:
            return None
        root = visible_locations(request.user).filter(code=code).first()
        if root is None and is_unscoped(request.user):
            root = Location.objects.filter(code=code).first()  # a virtual location, say
        if root is None:
            return queryset.none()
        return self.filter_subtree(queryset, root)

    def filter_subtree(self, queryset, root: Location):
        return queryset.filter(**{f"{self.location_field}__path__startswith": root.path})


class MovementLocationFilter(LocationCodeFilter):
    """Movements with an entry anywhere in the given location's subtree."""

    def filter_subtree(self, queryset, root: Location):
        entries = LedgerEntry.objects.filter(movement=OuterRef("pk"), location__path__startswith=root.path)
        return queryset.filter(Exists(entries))


def _as_list(value):
    return value if isinstance(value, list | tuple) else [value]
