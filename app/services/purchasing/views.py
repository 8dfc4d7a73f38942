"""Suppliers and purchase orders as screens, the API and the CLI read them: plain frozen
rows, amounts as Decimals in their currency's units (never the stored integers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import (
    OPEN_STATUSES,
    PURCHASE_ORDER_STATUSES,
    Location,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Store,
    Supplier,
    SupplierItem,
)
from app.permissions import READ, Actor
from app.services.errors import NotFound, ValidationError
from app.services.money import amount
from app.services.stores import require_store
from app.services.validation import is_id

suppliers = Supplier.__table__
supplier_items = SupplierItem.__table__
orders = PurchaseOrder.__table__
lines = PurchaseOrderLine.__table__
products = Product.__table__
locations = Location.__table__
stores = Store.__table__

STATUS_LABELS = {
    "draft": "Draft",
    "ordered": "Ordered",
    "partially_received": "Partly received",
    "received": "Received",
    "cancelled": "Cancelled",
}


@dataclass(frozen=True)
class SupplierView:
    id: int
    store_id: int
    name: str
    contact_name: str | None
    email: str | None
    phone: str | None
    currency: str
    lead_time_days: int
    notes: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


@dataclass(frozen=True)
class SupplierItemView:
    id: int
    store_id: int
    supplier_id: int
    supplier_name: str
    supplier_archived: bool
    lead_time_days: int
    product_id: int
    sku: str
    title: str
    supplier_sku: str | None
    currency: str
    unit_cost: Decimal
    pack_size: int
    min_order_qty: int
    preferred: bool


@dataclass(frozen=True)
class PurchaseOrderLineView:
    id: int
    product_id: int
    sku: str
    title: str
    location_id: int
    location_code: str
    ordered_qty: int
    received_qty: int
    over_received_qty: int
    unit_cost: Decimal

    @property
    def outstanding_qty(self) -> int:
        return max(self.ordered_qty - self.received_qty, 0)

    @property
    def line_total(self) -> Decimal:
        return self.unit_cost * self.ordered_qty


@dataclass(frozen=True)
class PurchaseOrderView:
    id: int
    store_id: int
    number: str
    supplier_id: int
    supplier_name: str
    status: str
    expected_on: date | None
    notes: str | None
    currency: str
    # Store currency per unit of the order's; None when the order is in the store's.
    exchange_rate: Decimal | None
    version: int
    created_at: datetime
    created_by_name: str
    ordered_at: datetime | None
    ordered_by_name: str | None
    closed_at: datetime | None
    closed_by_name: str | None
    updated_at: datetime
    lines: tuple[PurchaseOrderLineView, ...] = ()
    # True when an idempotent repeat returned the first request's order.
    replayed: bool = False

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    @property
    def is_open(self) -> bool:
        """Ordered and not all there yet: what it brings counts as incoming."""
        return self.status in OPEN_STATUSES

    @property
    def total(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal(0))

    @property
    def outstanding_qty(self) -> int:
        return sum(line.outstanding_qty for line in self.lines) if self.is_open else 0


@dataclass(frozen=True)
class PurchaseOrderSummary:
    """One order in a list: no lines, their counts."""

    id: int
    store_id: int
    number: str
    supplier_id: int
    supplier_name: str
    status: str
    expected_on: date | None
    currency: str
    created_at: datetime
    line_count: int
    ordered_qty: int
    received_qty: int
    total: Decimal

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


# --------------------------------------------------------------------------- suppliers


def supplier_view(row: Any) -> SupplierView:
    return SupplierView(
        id=row.id, store_id=row.store_id, name=row.name, contact_name=row.contact_name,
        email=row.email, phone=row.phone, currency=row.currency,
        lead_time_days=row.lead_time_days, notes=row.notes, archived_at=row.archived_at,
        created_at=row.created_at, updated_at=row.updated_at,
    )


def _readable(actor: Actor, store_id: int) -> bool:
    return actor.is_member(store_id) and actor.can(READ, store_id)


def get_supplier(actor: Actor, supplier_id: int) -> SupplierView:
    """Raises NotFound for a supplier the actor cannot read (a foreign store's too)."""
    row = db.session.execute(
        select(suppliers).where(suppliers.c.id == supplier_id)
    ).one_or_none() if is_id(supplier_id) else None
    if row is None or not _readable(actor, row.store_id):
        raise NotFound("Supplier not found.", {"supplier_id": "No such supplier."})
    return supplier_view(row)


def list_suppliers(actor: Actor, store_id: int, *, include_archived: bool = False
                   ) -> list[SupplierView]:
    """A store's suppliers by name; archived ones only when asked."""
    require_store(actor, READ, store_id)
    query = select(suppliers).where(suppliers.c.store_id == store_id)
    if not include_archived:
        query = query.where(suppliers.c.archived_at.is_(None))
    return [supplier_view(r) for r in db.session.execute(
        query.order_by(func.lower(suppliers.c.name), suppliers.c.id))]


def _items_query() -> Select[Any]:
    return (
        select(
            supplier_items.c.id, supplier_items.c.store_id, supplier_items.c.supplier_id,
            suppliers.c.name.label("supplier_name"),
            suppliers.c.archived_at.label("supplier_archived_at"),
            suppliers.c.lead_time_days, suppliers.c.currency,
            supplier_items.c.product_id, products.c.sku, products.c.title,
            supplier_items.c.supplier_sku, supplier_items.c.unit_cost,
            supplier_items.c.pack_size, supplier_items.c.min_order_qty,
            supplier_items.c.preferred,
        )
        .join(suppliers, suppliers.c.id == supplier_items.c.supplier_id)
        .join(products, products.c.id == supplier_items.c.product_id)
    )


def item_view(row: Any) -> SupplierItemView:
    return SupplierItemView(
        id=row.id, store_id=row.store_id, supplier_id=row.supplier_id,
        supplier_name=row.supplier_name,
        supplier_archived=row.supplier_archived_at is not None,
        lead_time_days=row.lead_time_days, product_id=row.product_id, sku=row.sku,
        title=row.title, supplier_sku=row.supplier_sku, currency=row.currency,
        unit_cost=amount(row.unit_cost),  # type: ignore[arg-type]
        pack_size=row.pack_size, min_order_qty=row.min_order_qty,
        preferred=bool(row.preferred),
    )


def get_supplier_item(actor: Actor, supplier_item_id: int) -> SupplierItemView:
    """Raises NotFound for an item the actor cannot read."""
    row = db.session.execute(
        _items_query().where(supplier_items.c.id == supplier_item_id)
    ).one_or_none() if is_id(supplier_item_id) else None
    if row is None or not _readable(actor, row.store_id):
        raise NotFound("Supplier item not found.", {"supplier_item_id": "No such item."})
    return item_view(row)


def list_supplier_items(actor: Actor, supplier_id: int) -> list[SupplierItemView]:
    """What a supplier sells, by SKU."""
    supplier = get_supplier(actor, supplier_id)
    return [item_view(r) for r in db.session.execute(
        _items_query().where(supplier_items.c.supplier_id == supplier.id)
        .order_by(products.c.sku))]


def product_suppliers(actor: Actor, product_id: int) -> list[SupplierItemView]:
    """Who sells a product: the preferred supplier first, then by cost; archived suppliers
    are left out."""
    store_id = db.session.scalar(
        select(products.c.store_id).where(products.c.id == product_id)
    ) if is_id(product_id) else None
    if store_id is None or not _readable(actor, store_id):
        raise NotFound("Product not found.", {"product_id": "No such product."})
    return [item_view(r) for r in db.session.execute(
        _items_query().where(supplier_items.c.product_id == product_id,
                             suppliers.c.archived_at.is_(None))
        .order_by(supplier_items.c.preferred.desc(), supplier_items.c.unit_cost,
                  suppliers.c.name))]


# --------------------------------------------------------------------------- orders


def order_view(row: Any, order_lines: Sequence[PurchaseOrderLineView], *,
               replayed: bool = False) -> PurchaseOrderView:
    return PurchaseOrderView(
        id=row.id, store_id=row.store_id, number=row.number, supplier_id=row.supplier_id,
        supplier_name=row.supplier_name, status=row.status, expected_on=row.expected_on,
        notes=row.notes, currency=row.currency, exchange_rate=row.exchange_rate,
        version=row.version, created_at=row.created_at, created_by_name=row.created_by_name,
        ordered_at=row.ordered_at, ordered_by_name=row.ordered_by_name,
        closed_at=row.closed_at, closed_by_name=row.closed_by_name,
        updated_at=row.updated_at, lines=tuple(order_lines), replayed=replayed,
    )


_ORDER = select(orders, suppliers.c.name.label("supplier_name")).join(
    suppliers, suppliers.c.id == orders.c.supplier_id)
_LINES = (
    select(lines.c.id, lines.c.order_id, lines.c.product_id, products.c.sku, products.c.title,
           lines.c.location_id, locations.c.code.label("location_code"), lines.c.ordered_qty,
           lines.c.received_qty, lines.c.over_received_qty, lines.c.unit_cost)
    .join(products, products.c.id == lines.c.product_id)
    .join(locations, locations.c.id == lines.c.location_id)
)


def line_view(row: Any) -> PurchaseOrderLineView:
    return PurchaseOrderLineView(
        id=row.id, product_id=row.product_id, sku=row.sku, title=row.title,
        location_id=row.location_id, location_code=row.location_code,
        ordered_qty=row.ordered_qty, received_qty=row.received_qty,
        over_received_qty=row.over_received_qty,
        unit_cost=amount(row.unit_cost),  # type: ignore[arg-type]
    )


def read_order(session: Any, order_id: int, *, replayed: bool = False) -> PurchaseOrderView:
    """An order and its lines (by SKU, then location) as the session sees them."""
    row = session.execute(_ORDER.where(orders.c.id == order_id)).one()
    found = session.execute(
        _LINES.where(lines.c.order_id == order_id)
        .order_by(products.c.sku, locations.c.code, lines.c.id)
    ).all()
    return order_view(row, [line_view(r) for r in found], replayed=replayed)


def get_purchase_order(actor: Actor, order_id: int) -> PurchaseOrderView:
    """An order with its lines. Raises NotFound for one the actor cannot read."""
    store_id = db.session.scalar(
        select(orders.c.store_id).where(orders.c.id == order_id)
    ) if is_id(order_id) else None
    if store_id is None or not _readable(actor, store_id):
        raise NotFound("Purchase order not found.", {"order_id": "No such purchase order."})
    return read_order(db.session, order_id)


def find_purchase_order(actor: Actor, store_id: int, number: str) -> PurchaseOrderView:
    """A store's order by its number, any case ("po-0007"), as a scanner reads it.
    Raises NotFound naming `number`."""
    require_store(actor, READ, store_id)
    text = number.strip().upper() if isinstance(number, str) else ""
    order_id = db.session.scalar(
        select(orders.c.id).where(orders.c.store_id == store_id, orders.c.number == text)
    ) if text else None
    if order_id is None:
        raise NotFound(f"No purchase order {text or number} in this store.",
                       {"number": "No such purchase order in this store."})
    return read_order(db.session, order_id)


def list_purchase_orders(
    actor: Actor,
    store_id: int,
    *,
    status: str | None = None,
    supplier_id: int | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> list[PurchaseOrderSummary]:
    """A store's orders, newest first; with `before_id`, those older than that order (the
    next page after it). `status` is one of the statuses, or "open" for ordered and partly
    received ones. Raises ValidationError naming `status`."""
    require_store(actor, READ, store_id)
    problems = {}
    if status is not None and status != "open" and status not in PURCHASE_ORDER_STATUSES:
        problems["status"] = "Choose a status from the list."
    if supplier_id is not None and not is_id(supplier_id):
        problems["supplier_id"] = "Choose a supplier from the list."
    if problems:
        raise ValidationError(problems)
    totals = (
        select(
            lines.c.order_id,
            func.count().label("line_count"),
            func.sum(lines.c.ordered_qty).label("ordered_qty"),
            func.sum(lines.c.received_qty).label("received_qty"),
            func.sum(lines.c.ordered_qty * lines.c.unit_cost).label("total"),
        )
        .group_by(lines.c.order_id)
        .subquery()
    )
    query = (
        select(orders.c.id, orders.c.store_id, orders.c.number, orders.c.supplier_id,
               suppliers.c.name.label("supplier_name"), orders.c.status, orders.c.expected_on,
               orders.c.currency, orders.c.created_at, totals.c.line_count,
               totals.c.ordered_qty, totals.c.received_qty, totals.c.total)
        .join(suppliers, suppliers.c.id == orders.c.supplier_id)
        .outerjoin(totals, totals.c.order_id == orders.c.id)
        .where(orders.c.store_id == store_id)
    )
    if status == "open":
        query = query.where(orders.c.status.in_(OPEN_STATUSES))
    elif status is not None:
        query = query.where(orders.c.status == status)
    if supplier_id is not None:
        query = query.where(orders.c.supplier_id == supplier_id)
    if before_id is not None:
        query = query.where(orders.c.id < before_id)
    rows = db.session.execute(query.order_by(orders.c.id.desc()).limit(max(1, min(limit, 1000))))
    return [
        PurchaseOrderSummary(
            id=r.id, store_id=r.store_id, number=r.number, supplier_id=r.supplier_id,
            supplier_name=r.supplier_name, status=r.status, expected_on=r.expected_on,
            currency=r.currency, created_at=r.created_at, line_count=int(r.line_count or 0),
            ordered_qty=int(r.ordered_qty or 0), received_qty=int(r.received_qty or 0),
            total=amount(int(r.total or 0)),  # type: ignore[arg-type]
        )
        for r in rows
    ]


__all__ = [
    "STATUS_LABELS",
    "PurchaseOrderLineView",
    "PurchaseOrderSummary",
    "PurchaseOrderView",
    "SupplierItemView",
    "SupplierView",
    "find_purchase_order",
    "get_purchase_order",
    "get_supplier",
    "get_supplier_item",
    "list_purchase_orders",
    "list_suppliers",
    "list_supplier_items",
    "product_suppliers",
    "read_order",
]
