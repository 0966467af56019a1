"""Products (the BKKBN contraceptive methods) and lots: stock is always held by lot."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Unit(models.TextChoices):
    CYCLE = "cycle", _("cycle")
    VIAL = "vial", _("vial")
    PIECE = "piece", _("piece")
    SET = "set", _("set")


class Method(models.TextChoices):
    PILL = "pill", _("Pill")
    INJECTABLE = "injectable", _("Injectable")
    CONDOM = "condom", _("Condom")
    IUD = "iud", _("IUD")
    IMPLANT = "implant", _("Implant")


class Product(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    unit = models.CharField(_("unit"), max_length=16, choices=Unit.choices)
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    # CYP = quantity × cyp_factor. USAID publishes some factors as "units per CYP"
    # (15 cycles = 1 CYP) and some as "CYP per unit" (IUD 4.6); both fit in 6 decimals.
    cyp_factor = models.DecimalField(
        _("CYP factor"),
        max_digits=12,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Couple-years of protection per unit"),
    )
    gtin = models.CharField(
        _("GTIN"),
        max_length=14,
        null=True,
        blank=True,
        unique=True,
        validators=[RegexValidator(r"^\d{8}$|^\d{12,14}$", _("A GTIN has 8, 12, 13 or 14 digits."))],
    )
    short_acting = models.BooleanField(_("short-acting"), default=False)
    revisit_days = models.PositiveIntegerField(_("revisit interval (days)"), default=30)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(cyp_factor__gte=0), name="product_cyp_factor_nonnegative"),
            models.CheckConstraint(condition=Q(revisit_days__gt=0), name="product_revisit_days_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Lot(models.Model):
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="lots")
    batch = models.CharField(_("batch number"), max_length=64)
    expiry = models.DateField(_("expiry date"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        ordering = ["product__code", "expiry", "batch"]
        constraints = [
            models.UniqueConstraint(fields=["product", "batch"], name="lot_unique_batch_per_product"),
            # Target of the ledger's composite foreign key (lot, product): an entry's
            # product can never disagree with its lot's product.
            models.UniqueConstraint(fields=["id", "product"], name="lot_id_product"),
            models.CheckConstraint(condition=~Q(batch=""), name="lot_batch_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.product.code} {self.batch} ({self.expiry:%Y-%m-%d})"
