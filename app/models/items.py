from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db

ITEM_STATUSES = ("active", "draft", "archived")
# An item has at most this many options (Color, Size, Grind).
MAX_OPTIONS = 3


class Item(db.Model):
    """What a merchant sells, as they think of it: "Parka", with its options (Color, Size).

    Stock is kept per variant: each variant is a product (app.models.catalog), the unit with
    its own SKU, GTIN, reorder point and entries per location. An item without options has
    exactly one variant. Option names are stored in position order; an unused one is NULL.
    """

    __tablename__ = "items"
    __table_args__ = (
        # Target of the composite foreign key that keeps a variant inside its item's store.
        UniqueConstraint("store_id", "id"),
        CheckConstraint("status IN ('active', 'draft', 'archived')", name="status"),
        # Options are filled from the first: no second option without a first.
        CheckConstraint(
            "(option2 IS NULL OR option1 IS NOT NULL) AND (option3 IS NULL OR option2 IS NOT NULL)",
            name="options_in_order",
        ),
        Index("ix_items_store_title", "store_id", "title"),
        # The overview grouped by item across several stores walks items in title order.
        Index("ix_items_title_id", "title", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    option1: Mapped[str | None] = mapped_column(String(40))
    option2: Mapped[str | None] = mapped_column(String(40))
    option3: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def option_names(self) -> list[str]:
        return [name for name in (self.option1, self.option2, self.option3) if name]


class ItemVariant(db.Model):
    """Which item a product belongs to, and its option values: the product is the variant.

    One row per product, in the product's own store. Values of unused options are '' (not
    NULL), so the database itself refuses two variants of an item with the same values.
    """

    __tablename__ = "item_variants"
    __table_args__ = (
        ForeignKeyConstraint(["store_id", "product_id"], ["products.store_id", "products.id"]),
        ForeignKeyConstraint(["store_id", "item_id"], ["items.store_id", "items.id"]),
        UniqueConstraint("item_id", "value1", "value2", "value3"),
        Index("ix_item_variants_item", "item_id", "position"),
    )

    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    item_id: Mapped[int]
    value1: Mapped[str] = mapped_column(String(60), default="")
    value2: Mapped[str] = mapped_column(String(60), default="")
    value3: Mapped[str] = mapped_column(String(60), default="")
    position: Mapped[int] = mapped_column(default=0)

    @property
    def values(self) -> list[str]:
        return [value for value in (self.value1, self.value2, self.value3) if value]
