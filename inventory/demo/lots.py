"""Demo lots: two or three batches per product, with expiries that give the pages something to show.

Expiries are set relative to the day the demo is seeded: a few lots expire within
three months (condoms, a large batch, so some is still on the shelves when it
does), most one to three years out, and one progestin-pill batch has already
expired and sits quarantined in the province warehouse awaiting destruction.

Batch numbers follow a common manufacturer pattern: a product prefix, the
manufacturing year and month (expiry minus shelf life), and a serial.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from inventory.models import Lot, Product


@dataclass(frozen=True)
class LotSpec:
    product_code: str
    prefix: str
    shelf_life_months: int
    expires_in_days: int  # from the seeding day; negative = already expired
    months_of_demand: int  # opening quantity, in months of the province's total demand
    shippable: bool = True  # False: quarantined, never leaves the province warehouse


LOT_SPECS = [
    LotSpec("PIL-KOMB", "PK", 36, 75, 5),
    LotSpec("PIL-KOMB", "PK", 36, 540, 10),
    LotSpec("PIL-KOMB", "PK", 36, 960, 10),
    LotSpec("PIL-PROG", "PP", 36, -40, 2, shippable=False),
    LotSpec("PIL-PROG", "PP", 36, 450, 12),
    LotSpec("PIL-PROG", "PP", 36, 900, 10),
    LotSpec("SUNTIK-1", "CF", 36, 400, 12),
    LotSpec("SUNTIK-1", "CF", 36, 820, 12),
    LotSpec("SUNTIK-3", "DM", 60, 65, 6),
    LotSpec("SUNTIK-3", "DM", 60, 600, 10),
    LotSpec("SUNTIK-3", "DM", 60, 1000, 10),
    LotSpec("KONDOM", "KD", 60, 80, 20),
    LotSpec("KONDOM", "KD", 60, 700, 10),
    LotSpec("IUD", "CU", 84, 500, 12),
    LotSpec("IUD", "CU", 84, 1050, 12),
    LotSpec("IMPLAN-1", "IP", 60, 380, 12),
    LotSpec("IMPLAN-1", "IP", 60, 880, 12),
    LotSpec("IMPLAN-2", "JD", 60, 620, 24),
]

# Units in one carton: opening stock arrives in whole cartons.
CARTON = {"KONDOM": 144, "IUD": 10, "IMPLAN-1": 10, "IMPLAN-2": 10}
DEFAULT_CARTON = 100


def _months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def batch_number(spec: LotSpec, expiry: dt.date, serial: int) -> str:
    made = _months_before(expiry, spec.shelf_life_months)
    return f"{spec.prefix}{made:%y%m}{serial:03d}"


def create_lots(today: dt.date) -> list[tuple[LotSpec, Lot]]:
    """Create the demo lots (or find them, for the same batch number); return them with their specs."""
    rng = random.Random("alokon-demo-lots")
    products = {p.code: p for p in Product.objects.all()}
    result = []
    for spec in LOT_SPECS:
        expiry = today + dt.timedelta(days=spec.expires_in_days)
        batch = batch_number(spec, expiry, rng.randint(11, 299))
        lot, _ = Lot.objects.get_or_create(
            product=products[spec.product_code], batch=batch, defaults={"expiry": expiry}
        )
        result.append((spec, lot))
    return result


def cartons(product_code: str, quantity: float) -> int:
    """``quantity`` rounded up to whole cartons."""
    size = CARTON.get(product_code, DEFAULT_CARTON)
    return max(1, -(-int(quantity) // size)) * size
