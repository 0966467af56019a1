"""What a scanned or typed code refers to: a shipment, or a product lot.

One entry point, ``resolve_scan``, serves the ``/scan`` page and ``POST /api/v1/scan/``.
It tries, in order:

1. our shipment URL, ``<anything>/s/<token>`` (the waybill's QR code);
2. a typed SBBK number, ``SBBK-<origin code>-<year>-<6 digits>``;
3. a GS1 product barcode (``inventory.scanning.gs1``), resolved to product and lot.

A shipment the user may not see answers exactly like one that does not exist (404,
the same message): telling them apart would let anyone probe numbers and tokens.
Everything else is a 400 with a message saying what was wrong; never a 500.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db.models import Q
from django.utils.translation import gettext as _

from inventory.errors import AlokonError
from inventory.models import Lot, Product, Shipment
from inventory.scanning.gs1 import GS1Error, NotGS1, parse_gs1, without_symbology_identifier
from inventory.selectors.shipments import shipments_for

#: longer than any QR code a phone prints for us or any GS1 symbol; refuse before parsing
MAX_CODE_LENGTH = 2000

# A token is URL-safe base64 of at least 128 bits (22 characters); the model caps it at 64.
_SHIPMENT_URL = re.compile(r"^(?:\S*/)?s/(?P<token>[A-Za-z0-9_-]{22,64})/?(?:[?#]\S*)?$")
_SBBK_NUMBER = re.compile(r"^SBBK-(?P<origin>[0-9A-Za-z][0-9A-Za-z._-]*)-(?P<year>\d{4})-(?P<sequence>\d{6})$", re.I)


class ScanNotFound(AlokonError):
    """The code is well formed but nothing the user may see matches it."""

    http_status = 404
    code = "not_found"


class UnrecognisedCode(GS1Error):
    """Neither a shipment, an SBBK number nor a GS1 barcode."""


@dataclass(frozen=True)
class ScanResult:
    type: str  # "shipment" or "lot"
    # shipments
    shipment: Shipment | None = None
    number: str | None = None
    token: str | None = None  # None for a draft
    # lots
    product: Product | None = None
    lot: Lot | None = None  # None when the batch is not yet known to the system
    batch: str | None = None
    expiry: dt.date | None = None  # the barcode's, or the known lot's when the barcode has none
    gtin: str | None = None
    serial: str | None = None


def shipment_token_from(text: str) -> str | None:
    """The token of a shipment URL (``…/s/<token>``), or None."""
    match = _SHIPMENT_URL.match(text.strip())
    return match["token"] if match else None


def shipment_number_from(text: str) -> str | None:
    """A typed SBBK number in its printed form (``SBBK-`` upper case), or None."""
    match = _SBBK_NUMBER.match(text.strip())
    if not match:
        return None
    return f"SBBK-{match['origin']}-{match['year']}-{match['sequence']}"


def resolve_scan(text: str, *, user) -> ScanResult:
    text = (text or "").strip()
    if not text or len(text) > MAX_CODE_LENGTH:
        raise _unrecognised()
    text = without_symbology_identifier(text)
    if token := shipment_token_from(text):
        return _shipment_result(Q(token=token), user)
    if number := shipment_number_from(text):
        # Location codes are digits, dots and dashes, so upper-casing the typed number
        # normally finds it; both spellings keep the lookup on the unique index.
        return _shipment_result(Q(number__in={number, number.upper()}), user)
    try:
        data = parse_gs1(text)
    except NotGS1:
        raise _unrecognised() from None
    return _lot_result(data)


def _unrecognised() -> UnrecognisedCode:
    return UnrecognisedCode(_("This code is not a shipment, an SBBK number or a GS1 product barcode."))


def _shipment_result(match: Q, user) -> ScanResult:
    shipment = shipments_for(user).filter(match).first()
    if shipment is None:
        raise ScanNotFound(_("No shipment matches this code."))
    return ScanResult(type="shipment", shipment=shipment, number=shipment.number, token=shipment.token)


def _gtin_spellings(gtin14: str) -> list[str]:
    """Every length Product.gtin may store ``gtin14`` in (8, 12, 13 or 14 digits: zero-padding removed)."""
    return [gtin14[14 - n :] for n in (14, 13, 12, 8) if set(gtin14[: 14 - n]) <= {"0"}]


def _lot_result(data) -> ScanResult:
    product = Product.objects.filter(gtin__in=_gtin_spellings(data.gtin)).first()
    if product is None:
        raise ScanNotFound(_("No product has the GTIN %(gtin)s.") % {"gtin": data.gtin})
    lot = Lot.objects.filter(product=product, batch=data.batch).first() if data.batch else None
    if lot is not None and data.expiry is not None and lot.expiry != data.expiry:
        raise GS1Error(
            _("Lot %(batch)s of %(product)s expires on %(known)s, but the barcode says %(scanned)s.")
            % {
                "batch": lot.batch,
                "product": product.code,
                "known": lot.expiry.isoformat(),
                "scanned": data.expiry.isoformat(),
            }
        )
    return ScanResult(
        type="lot",
        product=product,
        lot=lot,
        batch=data.batch,
        expiry=data.expiry or (lot.expiry if lot else None),
        gtin=data.gtin,
        serial=data.serial,
    )
