from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.clock import utcnow
from app.extensions import db
from app.models.stores import normalize_location_code


class SalesChannel(db.Model):
    """Where a store sells (web shop, retail counter, marketplace), selling from an ordered
    list of its locations: availability on the channel sums them, and an order reserved
    on the channel takes each line from the first that can cover it (or, where the channel
    allows splitting, from several in that order). Its code is UPPERCASE, unique per store.
    """

    __tablename__ = "sales_channels"
    __table_args__ = (
        UniqueConstraint("store_id", "code"),
        # Target of the composite foreign key that keeps a channel's locations in its store.
        UniqueConstraint("store_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120), default="")
    allow_split: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @validates("code")
    def _normalize_code(self, _key: str, value: str) -> str:
        return normalize_location_code(value)


class ChannelLocation(db.Model):
    """One location a channel sells from, at its place in the channel's order (0 first)."""

    __tablename__ = "channel_locations"
    __table_args__ = (
        ForeignKeyConstraint(["store_id", "channel_id"],
                             ["sales_channels.store_id", "sales_channels.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["store_id", "location_id"], ["locations.store_id", "locations.id"]),
        UniqueConstraint("channel_id", "position"),
    )

    channel_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    location_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    position: Mapped[int]
