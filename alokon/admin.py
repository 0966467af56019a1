"""The user admin: Django's, plus each user's home location and role, scoped like the rest.

A staff user who is not an unscoped superuser sees and edits only the users whose
home location lies in their own subtree, and may give a user only a location in
that subtree. They never see superusers and cannot grant privileges: the
superuser flag, groups and permissions are read-only to them, since whoever can
set those on an account they control can make themselves a superuser.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources
from import_export.admin import ExportMixin

from alokon.models import User
from inventory.admin.scoping import ImportExportPermissionMixin, LocationCodeFilter, ScopedAdminMixin, is_unscoped

PRIVILEGE_FIELDS = ("is_superuser", "groups", "user_permissions")


class UserResource(resources.ModelResource):
    """Export only, and never a password hash."""

    location = fields.Field(attribute="location__code", column_name="location")

    def __init__(self, user=None, **kwargs):
        super().__init__(**kwargs)

    class Meta:
        model = User
        fields = (
            "username",
            "first_name",
            "last_name",
            "email",
            "location",
            "role",
            "is_active",
            "is_staff",
            "last_login",
        )
        export_order = fields


@admin.register(User)
class UserAdmin(ImportExportPermissionMixin, ScopedAdminMixin, ExportMixin, DjangoUserAdmin):
    resource_classes = [UserResource]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Location and role"), {"fields": ("location", "role")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Location and role"), {"fields": ("location", "role")}),
    )
    list_display = ("username", "first_name", "last_name", "location", "role", "is_staff", "is_active")
    list_filter = (LocationCodeFilter, "role", "is_staff", "is_superuser", "is_active")
    list_select_related = ("location",)
    search_fields = ("username", "first_name", "last_name", "email")
    autocomplete_fields = ("location",)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if not is_unscoped(request.user) and not request.user.is_superuser:
            qs = qs.filter(is_superuser=False)
        return qs

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += PRIVILEGE_FIELDS
        return readonly

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if not is_unscoped(request.user) and "location" in form.base_fields:
            # A scoped user's users must stay inside their subtree: no "no location".
            form.base_fields["location"].required = True
        return form
