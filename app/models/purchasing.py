"""Replenishment: suppliers, what each supplies, purchase orders and their lines.

Money is stored as whole numbers of COST_SCALE-ths of the currency's unit (1.2345 is
12345): exact on both databases (SQLite has no decimal type: a NUMERIC column there holds a
binary float, and sums of it drift), summed and multiplied in SQL as integers, one scale
for every currency (JPY's 0, USD's 2 and KWD's 3 decimals all fit), and fine enough for
the cost of a screw and for a moving average that does not drift by a cent a receipt.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db

# Money columns hold amounts × COST_SCALE (see the module's docstring).
COST_SCALE = 10_000
PURCHASE_ORDER_STATUSES = ("draft", "ordered", "partially_received", "received", "cancelled")
# Orders whose outstanding quantities are on their way: an entry's incoming is their sum.
OPEN_STATUSES = ("ordered", "partially_received")


class Supplier(db.Model):
    """Someone a store buys from; archived rather than deleted, so orders keep their name."""

    __tablename__ = "suppliers"
    __table_args__ = (
        UniqueConstraint("store_id", "name"),
        # Target of the composite foreign keys that keep items and orders in one store.
        UniqueConstraint("store_id", "id"),
        CheckConstraint("length(currency) = 3", name="currency_code"),
        CheckConstraint("lead_time_days >= 0 AND lead_time_days <= 365", name="lead_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    name: Mapped[str] = mapped_column(String(120))
    contact_name: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    # ISO 4217: the currency the supplier quotes and invoices in.
    currency: Mapped[str] = mapped_column(String(3))
    lead_time_days: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str | None] = mapped_column(Text)
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SupplierItem(db.Model):
    """A variant a supplier sells: their SKU, the unit cost in the supplier's currency, the
    pack it comes in and the least they take. At most one supplier is a variant's
    preferred one (the partial unique index)."""

    __tablename__ = "supplier_items"
    __table_args__ = (
        UniqueConstraint("supplier_id", "product_id"),
        ForeignKeyConstraint(["store_id", "supplier_id"], ["suppliers.store_id", "suppliers.id"]),
        ForeignKeyConstraint(["store_id", "product_id"], ["products.store_id", "products.id"]),
        CheckConstraint("unit_cost >= 0", name="unit_cost_nonnegative"),
        CheckConstraint("pack_size >= 1", name="pack_size_positive"),
        CheckConstraint("min_order_qty >= 0", name="min_order_nonnegative"),
        Index("ix_supplier_items_product", "product_id"),
        Index(
            "uq_supplier_items_preferred", "product_id", unique=True,
            sqlite_where=text("preferred"), postgresql_where=text("preferred"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    supplier_id: Mapped[int]
    product_id: Mapped[int]
    supplier_sku: Mapped[str | None] = mapped_column(String(64))
    unit_cost: Mapped[int] = mapped_column(BigInteger)
    pack_size: Mapped[int] = mapped_column(default=1)
    min_order_qty: Mapped[int] = mapped_column(default=0)
    preferred: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PurchaseOrder(db.Model):
    """An order to a supplier: draft → ordered → partially_received → received, or
    cancelled. Its currency is the supplier's; when that is not the store's, the
    exchange rate (store currency per unit of the order's) values what it brings in.
    `version` moves on with every change, for forms that check what they loaded."""

    __tablename__ = "purchase_orders"
    __table_args__ = (
        UniqueConstraint("store_id", "number"),
        UniqueConstraint("store_id", "sequence"),
        UniqueConstraint("store_id", "id"),
        ForeignKeyConstraint(["store_id", "supplier_id"], ["suppliers.store_id", "suppliers.id"]),
        CheckConstraint(
            "status IN ('draft', 'ordered', 'partially_received', 'received', 'cancelled')",
            name="status",
        ),
        CheckConstraint("length(currency) = 3", name="currency_code"),
        CheckConstraint("exchange_rate IS NULL OR exchange_rate > 0", name="exchange_rate"),
        # Ordered (or beyond) means someone placed it; closed means received or cancelled.
        CheckConstraint(
            "status IN ('draft', 'cancelled') OR ordered_at IS NOT NULL", name="ordered_stamp"
        ),
        CheckConstraint(
            "(status IN ('received', 'cancelled')) = (closed_at IS NOT NULL)", name="closed_stamp"
        ),
        Index("ix_purchase_orders_store_status", "store_id", "status", "id"),
        Index("ix_purchase_orders_supplier", "supplier_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    supplier_id: Mapped[int]
    # The store's running count of orders, and the number people read (PO-0001).
    sequence: Mapped[int]
    number: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    expected_on: Mapped[date | None]
    notes: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    exchange_rate: Mapped[Decimal | None] = mapped_column(Numeric(15, 9))
    # Where it is to arrive, as chosen when it was started: the location a line added on
    # its page goes to unless told otherwise (each line keeps its own). None: chosen per
    # line, as for drafts made from reorder suggestions for several locations.
    deliver_to_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str] = mapped_column(String(254))
    ordered_at: Mapped[datetime | None]
    ordered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ordered_by_name: Mapped[str | None] = mapped_column(String(254))
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_by_name: Mapped[str | None] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PurchaseOrderLine(db.Model):
    """What one order brings of one variant to one location. `over_received_qty` counts
    the units taken beyond the order with an explicit confirmation: the database refuses
    any receipt past ordered + confirmed, so an unconfirmed receipt never rides on
    another's confirmation."""

    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "product_id", "location_id"),
        ForeignKeyConstraint(
            ["store_id", "order_id"], ["purchase_orders.store_id", "purchase_orders.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(["store_id", "product_id"], ["products.store_id", "products.id"]),
        ForeignKeyConstraint(["store_id", "location_id"], ["locations.store_id", "locations.id"]),
        CheckConstraint("ordered_qty > 0", name="ordered_positive"),
        CheckConstraint("received_qty >= 0", name="received_nonnegative"),
        CheckConstraint("over_received_qty >= 0", name="over_received_nonnegative"),
        CheckConstraint(
            "received_qty <= ordered_qty + over_received_qty", name="received_within_ordered"
        ),
        CheckConstraint("unit_cost >= 0", name="unit_cost_nonnegative"),
        Index("ix_purchase_order_lines_order", "order_id", "id"),
        Index("ix_purchase_order_lines_destination", "product_id", "location_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    order_id: Mapped[int]
    product_id: Mapped[int]
    location_id: Mapped[int]
    ordered_qty: Mapped[int]
    received_qty: Mapped[int] = mapped_column(default=0)
    over_received_qty: Mapped[int] = mapped_column(default=0)
    # In the order's currency.
    unit_cost: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def outstanding_qty(self) -> int:
        return max(self.ordered_qty - self.received_qty, 0)
