"""The user model: every user belongs to one location and sees that location's subtree only."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    WAREHOUSE = "warehouse", _("Warehouse staff")
    # Kepala gudang: warehouse staff who may also approve the location's stock counts.
    HEAD = "head", _("Warehouse head")
    FIELD = "field", _("Field worker (PKB/PLKB)")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Administrator")


class AlertEmail(models.TextChoices):
    IMMEDIATE = "immediate", _("Each alert as it opens")
    DAILY = "daily", _("A daily digest")
    OFF = "off", _("No e-mail (inbox only)")


class User(AbstractUser):
    location = models.ForeignKey(
        "inventory.Location",
        verbose_name=_("home location"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text=_("The user sees and acts on this location's subtree only."),
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.WAREHOUSE)
    alert_email = models.CharField(
        _("alert e-mail"), max_length=16, choices=AlertEmail.choices, default=AlertEmail.IMMEDIATE
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def display_name(self) -> str:
        """How messages and pages name the user: full name, else username."""
        return self.get_full_name() or self.username

    @property
    def is_warehouse_staff(self) -> bool:
        """Works in a warehouse: dispatches, receives, counts (staff and head)."""
        return self.is_superuser or self.role in (Role.WAREHOUSE, Role.HEAD)

    def scope_root(self):
        """The root of the subtree this user may see, or None for no access."""
        return self.location
