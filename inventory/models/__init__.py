"""The write side's tables: the location tree, products and lots, and the stock ledger."""

from inventory.models.changes import LocationChange
from inventory.models.counts import CountStatus, StockCount, StockCountLine
from inventory.models.dispensing import Dispensing, DispensingPeriod, MonthClose, ServiceFigure
from inventory.models.ledger import EntryReason, LedgerEntry, Movement, MovementKind, StockBalance
from inventory.models.locations import ClinicKind, Level, Location, VirtualRole
from inventory.models.policies import StockPolicy
from inventory.models.products import Lot, Method, Product, Unit
from inventory.models.receipts import (
    WRITE_OFF_REASONS,
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    Receipt,
    ReceiptLine,
    Resolution,
)
from inventory.models.shipments import Shipment, ShipmentCounter, ShipmentLine, ShipmentStatus

__all__ = [
    "WRITE_OFF_REASONS",
    "ClinicKind",
    "CountStatus",
    "Discrepancy",
    "DiscrepancyKind",
    "DiscrepancyStatus",
    "Dispensing",
    "DispensingPeriod",
    "EntryReason",
    "LedgerEntry",
    "Level",
    "Location",
    "LocationChange",
    "Lot",
    "Method",
    "MonthClose",
    "Movement",
    "MovementKind",
    "Product",
    "Receipt",
    "ReceiptLine",
    "Resolution",
    "ServiceFigure",
    "Shipment",
    "ShipmentCounter",
    "ShipmentLine",
    "ShipmentStatus",
    "StockBalance",
    "StockCount",
    "StockCountLine",
    "StockPolicy",
    "Unit",
    "VirtualRole",
]
