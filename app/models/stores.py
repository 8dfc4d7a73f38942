from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.clock import utcnow
from app.extensions import db


class Store(db.Model):
    """A tenant: everything below belongs to exactly one store."""

    __tablename__ = "stores"
    __table_args__ = (CheckConstraint("length(currency) = 3", name="currency_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    # ISO 4217: the currency the store values its stock in (average costs, stock value).
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Location(db.Model):
    """A storage place inside a store; its code is UPPERCASE and unique per store."""

    __tablename__ = "locations"
    __table_args__ = (
        UniqueConstraint("store_id", "code"),
        # Target of the composite foreign keys that keep entries inside one store.
        UniqueConstraint("store_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120), default="")
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @validates("code")
    def _normalize_code(self, _key: str, value: str) -> str:
        return normalize_location_code(value)


def normalize_location_code(value: str) -> str:
    """`warehouse_a ` → `WAREHOUSE_A`; full-width `ＷＨ` → `WH` (NFKC, as every identifier)."""
    return unicodedata.normalize("NFKC", value).strip().upper()
