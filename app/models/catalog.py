from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
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

PRODUCT_TYPES = ("physical", "digital", "service", "subscription")
# These never run out: they need no entries and never fail for insufficient stock.
UNLIMITED_TYPES = frozenset({"digital", "service", "subscription"})


class Product(db.Model):
    """A sellable item of one store, identified by its SKU."""

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("store_id", "sku"),
        UniqueConstraint("store_id", "id"),
        CheckConstraint(
            "type IN ('physical', 'digital', 'service', 'subscription')", name="type"
        ),
        CheckConstraint("reorder_point >= 0", name="reorder_point"),
        CheckConstraint("reorder_quantity >= 0", name="reorder_quantity"),
        CheckConstraint("reorder_up_to >= 0", name="reorder_up_to"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    sku: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), index=True)
    gtin: Mapped[str | None] = mapped_column(String(14), index=True)
    type: Mapped[str] = mapped_column(String(16), default="physical")
    allow_backorder: Mapped[bool] = mapped_column(default=False)
    reorder_point: Mapped[int] = mapped_column(default=0)
    reorder_quantity: Mapped[int] = mapped_column(default=0)
    # Order up to this level instead of the reorder quantity (0: not set); above the point.
    reorder_up_to: Mapped[int] = mapped_column(default=0, server_default="0")
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_unlimited(self) -> bool:
        return self.type in UNLIMITED_TYPES


# Search (app.services.queries): a substring of the title or SKU, any case, or a whole GTIN.
# PostgreSQL: pg_trgm GIN indexes serve ILIKE '%term%'. SQLite: an FTS5 table with the
# trigram tokenizer over the same two columns, reading its text from products (external
# content) and kept in step by triggers, so every write to products updates it in the same
# transaction. On both, a case-folded SKU index serves exact codes (a scanner) and the
# prefix match for terms too short for trigrams; ix_products_gtin serves whole GTINs (a
# trigram index over digits, an alphabet of ten, would select little).
# Migration 0002 carries the same SQL; tests/test_migrations.py compares the two.
# A batch (copy-and-move) migration of products on SQLite drops these triggers with the
# old table: such a migration must create them again.
SEARCH_SQLITE = (
    "CREATE INDEX ix_products_sku_ci ON products (sku COLLATE NOCASE)",
    "CREATE VIRTUAL TABLE products_search USING fts5("
    "title, sku, content='products', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN "
    "INSERT INTO products_search (rowid, title, sku) "
    "VALUES (new.id, new.title, new.sku); END",
    "CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN "
    "INSERT INTO products_search (products_search, rowid, title, sku) "
    "VALUES ('delete', old.id, old.title, old.sku); END",
    "CREATE TRIGGER products_search_update AFTER UPDATE OF title, sku ON products BEGIN "
    "INSERT INTO products_search (products_search, rowid, title, sku) "
    "VALUES ('delete', old.id, old.title, old.sku); "
    "INSERT INTO products_search (rowid, title, sku) "
    "VALUES (new.id, new.title, new.sku); END",
)
SEARCH_POSTGRESQL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_products_sku_ci ON products (lower(sku) text_pattern_ops)",
    "CREATE INDEX ix_products_title_trgm ON products USING gin (title gin_trgm_ops)",
    "CREATE INDEX ix_products_sku_trgm ON products USING gin (sku gin_trgm_ops)",
)
# Kept out of the models' metadata (SQLite can't reflect a collated or expression index,
# nor Alembic a virtual table), so autogenerate must leave them alone.
SEARCH_INDEXES = frozenset(
    {"ix_products_sku_ci", "ix_products_title_trgm", "ix_products_sku_trgm"}
)
SEARCH_TABLE = "products_search"


def is_search_object(name: str | None) -> bool:
    """True for the search indexes and the FTS5 table with its shadow tables."""
    return bool(name) and (name in SEARCH_INDEXES or str(name).startswith(SEARCH_TABLE))


for _statement in SEARCH_SQLITE:
    event.listen(Product.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in SEARCH_POSTGRESQL:
    event.listen(
        Product.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql")
    )
event.listen(
    Product.__table__,
    "before_drop",
    DDL(f"DROP TABLE IF EXISTS {SEARCH_TABLE}").execute_if(dialect="sqlite"),
)


class BundleComponent(db.Model):
    """One component of a bundle (a kit): `quantity` units of the component product make
    one unit of the bundle product. A bundle holds no stock of its own: its availability
    at a location is the least, over its components, of available ÷ quantity, and
    reserving, shipping, releasing or returning it changes its components."""

    __tablename__ = "bundle_components"
    __table_args__ = (
        ForeignKeyConstraint(["store_id", "bundle_id"], ["products.store_id", "products.id"]),
        ForeignKeyConstraint(["store_id", "component_id"],
                             ["products.store_id", "products.id"]),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("bundle_id <> component_id", name="not_itself"),
        Index("ix_bundle_components_component", "component_id"),
    )

    bundle_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    component_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    quantity: Mapped[int]
