"""Typed domain errors. Messages are written for a warehouse clerk and translated.

Views and the API turn any ``AlokonError`` into a 4xx with its message; nothing is
written when one is raised (the use case's transaction rolls back).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class AlokonError(Exception):
    """Base of every error a user can cause and fix."""

    http_status = 400
    code = "invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidMovement(AlokonError):
    code = "invalid_movement"


class ScopeError(AlokonError):
    http_status = 404
    code = "not_found"


@dataclass(frozen=True)
class Shortage:
    location_code: str
    location_name: str
    product_code: str
    batch: str
    available: int
    requested: int

    def describe(self) -> str:
        return _(
            "%(location)s (%(code)s), %(product)s lot %(batch)s: %(available)d available, %(requested)d requested"
        ) % {
            "location": self.location_name,
            "code": self.location_code,
            "product": self.product_code,
            "batch": self.batch,
            "available": self.available,
            "requested": self.requested,
        }


class InsufficientStock(AlokonError):
    """A movement would take a real location below zero; nothing was written."""

    http_status = 409
    code = "insufficient_stock"

    def __init__(self, shortages: list[Shortage]):
        self.shortages = shortages
        head = ngettext(
            "Not enough stock for %(count)d line:",
            "Not enough stock for %(count)d lines:",
            len(shortages),
        ) % {"count": len(shortages)}
        super().__init__(head + " " + "; ".join(s.describe() for s in shortages))


class ShipmentStateError(AlokonError):
    """The shipment is not in a state that allows this (dispatching twice, receiving a draft…)."""

    http_status = 409
    code = "conflict"


class InvalidShipment(AlokonError):
    code = "invalid_shipment"


@dataclass(frozen=True)
class LineShortage:
    product_code: str
    requested: int
    available: int

    def describe(self) -> str:
        return _("%(product)s: %(requested)d requested, %(available)d available (not expired)") % {
            "product": self.product_code,
            "requested": self.requested,
            "available": self.available,
        }


class ShipmentShortage(AlokonError):
    """Not enough usable stock at the origin for one or more lines; nothing was posted."""

    http_status = 409
    code = "insufficient_stock"

    def __init__(self, shortages: list[LineShortage]):
        self.shortages = shortages
        head = ngettext(
            "Not enough stock to dispatch %(count)d line:",
            "Not enough stock to dispatch %(count)d lines:",
            len(shortages),
        ) % {"count": len(shortages)}
        super().__init__(head + " " + "; ".join(s.describe() for s in shortages))


class InvalidReceipt(AlokonError):
    code = "invalid_receipt"


class ReceiptConflict(AlokonError):
    """The client UUID was already used for a different receipt."""

    http_status = 409
    code = "conflict"


class NotAllowed(AlokonError):
    """The user can see the document but their role or location may not do this."""

    http_status = 403
    code = "forbidden"


class InvalidDocument(AlokonError):
    """A reconciliation document (resolution, count, dispensing, figures) is not valid."""

    code = "invalid"


class DocumentConflict(AlokonError):
    """Not possible in the document's state: already resolved, approved, closed…"""

    http_status = 409
    code = "conflict"
