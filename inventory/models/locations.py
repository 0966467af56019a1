"""The location tree: national → province → district → clinic, plus virtual locations.

Subtree queries use a materialised path of codes (``00/72/72.71/72.71-001/``):
"everything under Kota Palu" is ``path LIKE '00/72/72.71/%'``, one range scan on a
``varchar_pattern_ops`` index however many clinics there are. The path is derived
from the parent's path and the code on save, and a move rewrites the subtree's
paths in one UPDATE.

Virtual locations stand for the world outside the warehouses (supplier, in
transit, dispensed to acceptors, loss, count adjustment). Stock is only ever moved,
so every unit that enters or leaves the real tree does so against one of them. They
sit outside the tree (no parent, their own path) and keep no balance rows.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from inventory.reference import VIRTUAL_LOCATIONS

CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-_]*$")


class Level(models.TextChoices):
    NATIONAL = "national", _("National")
    PROVINCE = "province", _("Province")
    DISTRICT = "district", _("District")
    CLINIC = "clinic", pgettext_lazy("location level", "Clinic")
    VIRTUAL = "virtual", _("Virtual")


#: the level a child of each level must have
CHILD_LEVEL = {
    Level.NATIONAL: Level.PROVINCE,
    Level.PROVINCE: Level.DISTRICT,
    Level.DISTRICT: Level.CLINIC,
}
REAL_LEVELS = (Level.NATIONAL, Level.PROVINCE, Level.DISTRICT, Level.CLINIC)


class ClinicKind(models.TextChoices):
    PUSKESMAS = "puskesmas", _("Community health centre (puskesmas)")
    KLINIK = "klinik", _("Clinic")
    RS = "rs", _("Hospital")
    TPMB = "tpmb", _("Independent midwife practice (TPMB)")


class VirtualRole(models.TextChoices):
    SUPPLIER = "supplier", _("Supplier")
    IN_TRANSIT = "in_transit", _("In transit")
    DISPENSED = "dispensed", _("Dispensed to acceptors")
    LOSS = "loss", _("Loss / write-off")
    ADJUSTMENT = "adjustment", _("Count adjustment")


#: codes of the virtual locations, created by a data migration
VIRTUAL_CODES = {role: code for role, (code, _name) in VIRTUAL_LOCATIONS.items()}


class LocationQuerySet(models.QuerySet):
    def real(self):
        return self.exclude(level=Level.VIRTUAL)

    def active(self):
        return self.filter(is_active=True)

    def subtree(self, root: Location, *, include_root: bool = True):
        """Every location under ``root`` (one indexed range scan on ``path``)."""
        qs = self.filter(path__startswith=root.path)
        return qs if include_root else qs.exclude(pk=root.pk)


class Location(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True, help_text=_("Kemendagri code, e.g. 72.71"))
    bps_code = models.CharField(_("BPS code"), max_length=16, blank=True, default="")
    name = models.CharField(_("name"), max_length=200)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # unique=True also makes Django add a varchar_pattern_ops ("_like") index, so
    # LIKE 'prefix%' is a range scan whatever the database collation is.
    path = models.CharField(max_length=255, editable=False, unique=True)
    clinic_kind = models.CharField(_("clinic kind"), max_length=16, choices=ClinicKind.choices, blank=True, default="")
    virtual_role = models.CharField(
        _("virtual role"), max_length=16, choices=VirtualRole.choices, null=True, blank=True, unique=True
    )
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    objects = LocationQuerySet.as_manager()

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["path"]
        indexes = [
            models.Index(fields=["parent", "code"], name="location_parent_code"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(level=Level.VIRTUAL, virtual_role__isnull=False, parent__isnull=True)
                | (~Q(level=Level.VIRTUAL) & Q(virtual_role__isnull=True)),
                name="location_virtual_role_iff_virtual",
            ),
            models.CheckConstraint(
                condition=Q(clinic_kind="") | Q(level=Level.CLINIC),
                name="location_clinic_kind_only_for_clinics",
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=False) | Q(level__in=[Level.NATIONAL, Level.VIRTUAL]),
                name="location_parent_required_below_national",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="location_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="location_longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def save(self, *args, **kwargs):
        new_path = self.compute_path()
        old_path = None
        if self.pk:
            old_path = Location.objects.filter(pk=self.pk).values_list("path", flat=True).first()
        with transaction.atomic():
            self.path = new_path
            super().save(*args, **kwargs)
            if old_path and old_path != new_path:
                # The code or parent changed: rewrite the descendants' paths in one statement.
                Location.objects.filter(path__startswith=old_path).exclude(pk=self.pk).update(
                    path=Concat(Value(new_path), Substr(F("path"), len(old_path) + 1))
                )

    @property
    def is_virtual(self) -> bool:
        return self.level == Level.VIRTUAL

    def clean(self) -> None:
        if not CODE_RE.match(self.code or "") and not self.is_virtual:
            raise ValidationError({"code": _("A code may hold only letters, digits, '.', '-' and '_'.")})
        if self.is_virtual:
            return
        if self.level == Level.NATIONAL:
            if self.parent_id:
                raise ValidationError({"parent": _("The national level has no parent.")})
            return
        if self.parent is None:
            raise ValidationError({"parent": _("This level needs a parent location.")})
        expected = CHILD_LEVEL.get(self.parent.level)
        if expected != self.level:
            raise ValidationError(
                {
                    "parent": _("A %(level)s cannot be placed under a %(parent)s.")
                    % {"level": self.get_level_display(), "parent": self.parent.get_level_display()}
                }
            )
        if self.clinic_kind and self.level != Level.CLINIC:
            raise ValidationError({"clinic_kind": _("Only clinics have a clinic kind.")})

    def compute_path(self) -> str:
        if self.is_virtual or self.parent is None:
            return f"{self.code}/"
        return f"{self.parent.path}{self.code}/"

    def is_within(self, root: Location) -> bool:
        return self.path.startswith(root.path)

    def ancestors(self):
        """This location's ancestors from the root down (one query)."""
        prefixes = []
        parts = self.path.rstrip("/").split("/")
        for i in range(1, len(parts)):
            prefixes.append("/".join(parts[:i]) + "/")
        return Location.objects.filter(path__in=prefixes).order_by("path")
