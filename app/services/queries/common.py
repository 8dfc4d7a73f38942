"""What every read shares: the tables, the SPEC's status rules in SQL, the actor's readable
stores, and the entry row every screen shows (EntryView). The helpers the package's modules
share live here too; callers outside the package import from app.services.queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    and_,
    case,
    false,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql import visitors

from app.extensions import db
from app.models import InventoryEntry, ItemVariant, Location, Product, Reservation, Store
from app.permissions import READ, Actor

entries = InventoryEntry.__table__
products = Product.__table__
locations = Location.__table__
stores = Store.__table__
variants = ItemVariant.__table__
reservations = Reservation.__table__


STATUSES = ("in_stock", "low_stock", "out_of_stock", "on_backorder")
STATUS_LABELS = {
    "in_stock": "In stock",
    "low_stock": "Low stock",
    "out_of_stock": "Out of stock",
    "on_backorder": "On backorder",
}


available = entries.c.quantity - entries.c.reserved_quantity
is_physical = products.c.type == "physical"


def status_condition(status: str) -> ColumnElement[bool]:
    """A WHERE clause selecting entries in `status`; plain predicates, so indexes apply."""
    if status == "out_of_stock":
        return and_(is_physical, available <= 0, products.c.allow_backorder == false())
    if status == "on_backorder":
        return and_(is_physical, available <= 0, products.c.allow_backorder == true())
    if status == "low_stock":
        return and_(
            is_physical,
            available > 0,
            entries.c.low_stock_threshold > 0,
            available <= entries.c.low_stock_threshold,
        )
    if status == "in_stock":
        return or_(
            not_(is_physical),
            and_(
                available > 0,
                or_(
                    entries.c.low_stock_threshold == 0,
                    available > entries.c.low_stock_threshold,
                ),
            ),
        )
    raise ValueError(status)


def status_expression() -> ColumnElement[str]:
    """The entry's status as a SQL expression (the SPEC's rules, in order)."""
    return case(
        (not_(is_physical), literal("in_stock")),
        (
            available <= 0,
            case((products.c.allow_backorder == true(), "on_backorder"), else_="out_of_stock"),
        ),
        (
            and_(entries.c.low_stock_threshold > 0, available <= entries.c.low_stock_threshold),
            "low_stock",
        ),
        else_="in_stock",
    )


def readable_scope(actor: Actor, column: Any = entries.c.store_id) -> ColumnElement[bool]:
    stores_ids = actor.stores_with(READ)
    if stores_ids is None:
        return true()
    return column.in_(sorted(stores_ids))


@dataclass(frozen=True)
class EntryView:
    id: int
    store_id: int
    store_name: str
    product_id: int
    sku: str
    title: str
    gtin: str | None
    product_type: str
    location_id: int
    location_code: str
    quantity: int
    reserved_quantity: int
    available_quantity: int
    incoming_quantity: int
    low_stock_threshold: int
    status: str
    version: int
    last_counted_at: datetime | None
    last_movement_at: datetime | None
    updated_at: datetime

    @property
    def unlimited(self) -> bool:
        return self.product_type != "physical"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def entry_select(product: Any = products) -> Select[Any]:
    """Entries as EntryView's columns; `product` is products or a subquery of it (the
    search's ordered matches) to read the product's columns from."""
    status = status_expression()
    if product is not products:
        status = reading_products_from(product, status)
    return (
        select(
            entries.c.id,
            entries.c.store_id,
            stores.c.name.label("store_name"),
            entries.c.product_id,
            product.c.sku,
            product.c.title,
            product.c.gtin,
            product.c.type.label("product_type"),
            entries.c.location_id,
            locations.c.code.label("location_code"),
            entries.c.quantity,
            entries.c.reserved_quantity,
            available.label("available_quantity"),
            entries.c.incoming_quantity,
            entries.c.low_stock_threshold,
            status.label("status"),
            entries.c.version,
            entries.c.last_counted_at,
            entries.c.last_movement_at,
            entries.c.updated_at,
        )
        .select_from(entries)
        .join(product, product.c.id == entries.c.product_id)
        .join(locations, locations.c.id == entries.c.location_id)
        .join(stores, stores.c.id == entries.c.store_id)
    )


def product_status(product_type: str, allow_backorder: bool, available_total: int,
                   threshold_total: int) -> str:
    """The SPEC's status rules applied to a product's totals over its entries."""
    if product_type != "physical":
        return "in_stock"
    if available_total <= 0:
        return "on_backorder" if allow_backorder else "out_of_stock"
    if threshold_total > 0 and available_total <= threshold_total:
        return "low_stock"
    return "in_stock"


@dataclass(frozen=True)
class ReservationView:
    id: int
    order_ref: str
    line_ref: str | None
    quantity: int
    open_quantity: int
    status: str
    expires_at: datetime | None
    created_at: datetime
    closed_at: datetime | None
    bundle_id: int | None = None  # a component's hold for a line of this bundle
    # Where the hold is, as an order's reservations name it.
    product_id: int | None = None
    location_id: int | None = None
    location_code: str | None = None


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def reading_products_from(source: Any, element: Any) -> Any:
    """`element` with every column of products read from `source`, a subquery of
    products, instead."""
    def swap(found: Any, **_kw: Any) -> Any:
        if found is products:
            return source
        if isinstance(found, Column) and found.table is products:
            return source.c[found.key]
        return None
    return visitors.replacement_traverse(element, {}, swap)
