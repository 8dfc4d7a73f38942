"""Typed SQLAlchemy models; every constraint the data must keep lives here."""

from app.models.alerts import ALERT_MODES, AlertSubscription
from app.models.audit import OBJECT_TYPES, AuditEvent
from app.models.catalog import PRODUCT_TYPES, UNLIMITED_TYPES, BundleComponent, Product
from app.models.channels import ChannelLocation, SalesChannel
from app.models.events import (
    ALERT_EVENT_TYPES,
    EVENT_TYPES,
    STOCK_EVENT_TYPES,
    Event,
    EventSequence,
)
from app.models.inventory import IdempotencyRecord, InventoryEntry, Reservation, StockMovement
from app.models.items import ITEM_STATUSES, MAX_OPTIONS, Item, ItemVariant
from app.models.purchasing import (
    COST_SCALE,
    OPEN_STATUSES,
    PURCHASE_ORDER_STATUSES,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
    SupplierItem,
)
from app.models.stores import Location, Store
from app.models.tallies import StockTally
from app.models.tokens import ApiToken
from app.models.users import ROLES, SCAN_OPENS, Membership, User
from app.models.webhooks import DELIVERY_STATUSES, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ALERT_EVENT_TYPES",
    "ALERT_MODES",
    "AlertSubscription",
    "COST_SCALE",
    "DELIVERY_STATUSES",
    "EVENT_TYPES",
    "OBJECT_TYPES",
    "OPEN_STATUSES",
    "PURCHASE_ORDER_STATUSES",
    "PRODUCT_TYPES",
    "ROLES",
    "SCAN_OPENS",
    "STOCK_EVENT_TYPES",
    "UNLIMITED_TYPES",
    "ApiToken",
    "AuditEvent",
    "BundleComponent",
    "ChannelLocation",
    "Event",
    "EventSequence",
    "ITEM_STATUSES",
    "MAX_OPTIONS",
    "IdempotencyRecord",
    "Item",
    "ItemVariant",
    "InventoryEntry",
    "Location",
    "Membership",
    "Product",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "Reservation",
    "SalesChannel",
    "StockMovement",
    "StockTally",
    "Store",
    "Supplier",
    "SupplierItem",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
