from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db

MOVEMENT_TYPES = (
    "received",
    "adjustment",
    "set",
    "count",
    "transfer_out",
    "transfer_in",
    "reserved",
    "released",
    "fulfilled",
    "returned",
    "deleted",
)
RESERVATION_STATUSES = ("active", "released", "fulfilled", "expired")


class InventoryEntry(db.Model):
    """Stock of one product at one location. available = quantity - reserved, never stored."""

    __tablename__ = "inventory_entries"
    __table_args__ = (
        UniqueConstraint("product_id", "location_id"),
        # The product and the location must belong to the entry's own store.
        ForeignKeyConstraint(["store_id", "product_id"], ["products.store_id", "products.id"]),
        ForeignKeyConstraint(["store_id", "location_id"], ["locations.store_id", "locations.id"]),
        CheckConstraint("quantity >= 0", name="quantity_nonnegative"),
        CheckConstraint("reserved_quantity >= 0", name="reserved_nonnegative"),
        CheckConstraint("reserved_quantity <= quantity", name="reserved_within_quantity"),
        CheckConstraint("incoming_quantity >= 0", name="incoming_nonnegative"),
        CheckConstraint("low_stock_threshold >= 0", name="threshold_nonnegative"),
        CheckConstraint("average_cost >= 0", name="average_cost_nonnegative"),
        Index("ix_inventory_entries_store_location", "store_id", "location_id"),
        Index("ix_inventory_entries_location", "location_id"),
        Index("ix_inventory_entries_store_quantity", "store_id", "quantity"),
        Index("ix_inventory_entries_store_last_movement", "store_id", "last_movement_at"),
        # Ids are never reused, so a deleted entry's ledger can't merge with a new one's.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    product_id: Mapped[int]
    location_id: Mapped[int]
    quantity: Mapped[int] = mapped_column(default=0)
    reserved_quantity: Mapped[int] = mapped_column(default=0)
    # What open purchase orders bring here and have not delivered yet; never typed, kept by
    # the stock engine in the same transaction as ordering, receiving and cancelling.
    incoming_quantity: Mapped[int] = mapped_column(default=0)
    low_stock_threshold: Mapped[int] = mapped_column(default=0)
    # The moving average cost of a unit here, in the store's currency × COST_SCALE
    # (app.models.purchasing); NULL until a receipt says what units cost.
    average_cost: Mapped[int | None] = mapped_column(BigInteger)
    last_counted_at: Mapped[datetime | None]
    last_movement_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def available_quantity(self) -> int:
        return self.quantity - self.reserved_quantity


class Reservation(db.Model):
    """A hold of units of one entry for an order line."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "open_quantity >= 0 AND open_quantity <= quantity", name="open_within_quantity"
        ),
        CheckConstraint(
            "status IN ('active', 'released', 'fulfilled', 'expired')", name="status"
        ),
        CheckConstraint("(status = 'active') = (open_quantity > 0)", name="open_iff_active"),
        Index("ix_reservations_entry_status", "entry_id", "status"),
        Index("ix_reservations_status_expires", "status", "expires_at"),
        Index("ix_reservations_store_order", "store_id", "order_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("inventory_entries.id", ondelete="SET NULL")
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    order_ref: Mapped[str] = mapped_column(String(100))
    line_ref: Mapped[str | None] = mapped_column(String(100))
    # quantity is what was reserved; open_quantity is what is still held.
    quantity: Mapped[int]
    open_quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="active")
    expires_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    # A hold on a component for a bundle line: the bundle, and how many bundles the line
    # holds (this hold's quantity ÷ bundle_units is the component's quantity per bundle).
    bundle_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    bundle_units: Mapped[int | None]


class StockMovement(db.Model):
    """One row of the append-only ledger. It keeps store, product and location so it
    outlives its entry; entry_id is deliberately not a foreign key."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        ForeignKeyConstraint(["store_id", "product_id"], ["products.store_id", "products.id"]),
        ForeignKeyConstraint(["store_id", "location_id"], ["locations.store_id", "locations.id"]),
        CheckConstraint(
            "type IN ('received', 'adjustment', 'set', 'count', 'transfer_out', "
            "'transfer_in', 'reserved', 'released', 'fulfilled', 'returned', 'deleted')",
            name="type",
        ),
        CheckConstraint("quantity_after >= 0", name="quantity_after_nonnegative"),
        CheckConstraint(
            "reserved_after >= 0 AND reserved_after <= quantity_after", name="reserved_after"
        ),
        CheckConstraint("length(actor_name) > 0", name="actor_named"),
        CheckConstraint("unit_cost >= 0", name="unit_cost_nonnegative"),
        Index("ix_stock_movements_entry", "entry_id", "id"),
        Index("ix_stock_movements_store_created", "store_id", "created_at"),
        Index("ix_stock_movements_product", "product_id", "id"),
        Index("ix_stock_movements_location", "location_id", "id"),
        Index("ix_stock_movements_actor", "actor_id", "id"),
        Index("ix_stock_movements_batch", "batch_ref"),
        Index("ix_stock_movements_purchase_order_line", "purchase_order_line_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    entry_id: Mapped[int]
    product_id: Mapped[int]
    location_id: Mapped[int]
    type: Mapped[str] = mapped_column(String(16))
    quantity_delta: Mapped[int]
    reserved_delta: Mapped[int]
    quantity_after: Mapped[int]
    reserved_after: Mapped[int]
    reason: Mapped[str | None] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(100))
    reservation_id: Mapped[int | None]
    batch_ref: Mapped[str | None] = mapped_column(String(64))
    # The cost of a unit this row moved, in the store's currency × COST_SCALE: a receipt's
    # own cost, else the entry's average in effect (NULL while unknown).
    unit_cost: Mapped[int | None] = mapped_column(BigInteger)
    # The purchase order line a `received` row delivered against.
    purchase_order_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("purchase_order_lines.id")
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(db.Model):
    """The first result of a mutation sent with an idempotency key, replayed on repeats."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("actor_key", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_key: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(40))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The database itself refuses to rewrite history. The migration carries the same SQL.
LEDGER_GUARD_SQLITE = (
    "CREATE TRIGGER stock_movements_no_update BEFORE UPDATE ON stock_movements "
    "BEGIN SELECT RAISE(ABORT, 'stock_movements is append-only'); END",
    "CREATE TRIGGER stock_movements_no_delete BEFORE DELETE ON stock_movements "
    "BEGIN SELECT RAISE(ABORT, 'stock_movements is append-only'); END",
)
LEDGER_GUARD_POSTGRESQL = (
    "CREATE FUNCTION stock_movements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'stock_movements is append-only'; END $$",
    "CREATE TRIGGER stock_movements_no_update_delete BEFORE UPDATE OR DELETE "
    "ON stock_movements FOR EACH ROW EXECUTE FUNCTION stock_movements_append_only()",
)

for _statement in LEDGER_GUARD_SQLITE:
    event.listen(
        StockMovement.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite")
    )
for _statement in LEDGER_GUARD_POSTGRESQL:
    event.listen(
        StockMovement.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql")
    )
event.listen(
    StockMovement.__table__,
    "before_drop",
    DDL("DROP FUNCTION IF EXISTS stock_movements_append_only() CASCADE").execute_if(
        dialect="postgresql"
    ),
)
