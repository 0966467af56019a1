"""Reference data every installation starts with: the BKKBN products, the virtual
locations and the default max-min policy per level. Used by the data migration and
by ``seed_demo`` (which only makes sure they exist)."""

from __future__ import annotations

from decimal import Decimal

# code, name, unit, method, CYP per unit, short-acting, revisit interval (days).
# CYP factors are USAID's: 15 cycles, 12 cycles, 13 vials, 4 vials, 120 pieces = 1 CYP;
# IUD 4.6 and implants 2.5 CYP per unit.
PRODUCTS = [
    ("PIL-KOMB", "Pil KB kombinasi", "cycle", "pill", Decimal(1) / 15, True, 28),
    ("PIL-PROG", "Pil KB progestin", "cycle", "pill", Decimal(1) / 12, True, 28),
    ("SUNTIK-1", "Suntik KB 1 bulan", "vial", "injectable", Decimal(1) / 13, True, 30),
    ("SUNTIK-3", "Suntik KB 3 bulan", "vial", "injectable", Decimal(1) / 4, True, 84),
    ("KONDOM", "Kondom", "piece", "condom", Decimal(1) / 120, True, 30),
    ("IUD", "IUD CuT380A", "piece", "iud", Decimal("4.6"), False, 365),
    ("IMPLAN-1", "Implan 1 batang", "set", "implant", Decimal("2.5"), False, 365),
    ("IMPLAN-2", "Implan 2 batang", "set", "implant", Decimal("2.5"), False, 365),
]

# level: (min months, max months, emergency order point in months)
DEFAULT_POLICIES = {
    "national": (Decimal(6), Decimal(12), Decimal(3)),
    "province": (Decimal(3), Decimal(6), Decimal("1.5")),
    "district": (Decimal(2), Decimal(4), Decimal(1)),
    "clinic": (Decimal(1), Decimal(3), Decimal("0.5")),
}

# role: (code, name)
VIRTUAL_LOCATIONS = {
    "supplier": ("~SUPPLIER", "Pemasok"),
    "in_transit": ("~TRANSIT", "Dalam perjalanan"),
    "dispensed": ("~DISPENSED", "Diberikan kepada akseptor"),
    "loss": ("~LOSS", "Hilang / penghapusan"),
    "adjustment": ("~ADJUSTMENT", "Penyesuaian hasil opname"),
}


def ensure_reference_data(Product, Location, StockPolicy) -> None:
    """Create what is missing; never overwrite what an administrator changed."""
    q6 = Decimal("0.000001")
    for code, name, unit, method, cyp, short, revisit in PRODUCTS:
        Product.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "unit": unit,
                "method": method,
                "cyp_factor": cyp.quantize(q6),
                "short_acting": short,
                "revisit_days": revisit,
            },
        )
    for role, (code, name) in VIRTUAL_LOCATIONS.items():
        Location.objects.get_or_create(
            virtual_role=role, defaults={"code": code, "name": name, "level": "virtual", "path": f"{code}/"}
        )
    for level, (mn, mx, eop) in DEFAULT_POLICIES.items():
        StockPolicy.objects.get_or_create(
            level=level, location=None, defaults={"min_months": mn, "max_months": mx, "emergency_months": eop}
        )
