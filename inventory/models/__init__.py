"""The write side's tables: the location tree, products and lots, and the stock ledger."""

from inventory.models.ledger import EntryReason, LedgerEntry, Movement, MovementKind, StockBalance
from inventory.models.locations import ClinicKind, Level, Location, VirtualRole
from inventory.models.policies import StockPolicy
from inventory.models.products import Lot, Method, Product, Unit
from inventory.models.receipts import Discrepancy, DiscrepancyKind, DiscrepancyStatus, Receipt, ReceiptLine
from inventory.models.shipments import Shipment, ShipmentCounter, ShipmentLine, ShipmentStatus

__all__ = [
    "ClinicKind",
    "Discrepancy",
    "DiscrepancyKind",
    "DiscrepancyStatus",
    "EntryReason",
    "LedgerEntry",
    "Level",
    "Location",
    "Lot",
    "Method",
    "Movement",
    "MovementKind",
    "Product",
    "Receipt",
    "ReceiptLine",
    "Shipment",
    "ShipmentCounter",
    "ShipmentLine",
    "ShipmentStatus",
    "StockBalance",
    "StockPolicy",
    "Unit",
    "VirtualRole",
]
