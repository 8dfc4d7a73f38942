from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
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
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_unlimited(self) -> bool:
        return self.type in UNLIMITED_TYPES
