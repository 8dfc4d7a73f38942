"""Who hears about low and out-of-stock crossings, and how far each of them has got.

A crossing is already an event in the store's outbox (`stock.low`, `stock.out`); an alert
is that event seen from one person's side. So there is no table of alerts to keep in step:
a subscription holds two numbers of the store's event sequence, how far its mails have
covered and how far its owner has read in the bell, and the alerts are the store's
crossing events after them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db

# What a subscriber gets: each crossing in a mail within the minute, one mail a day listing
# them, or nothing (nor the bell).
ALERT_MODES = ("immediate", "digest", "off")


class AlertSubscription(db.Model):
    """One person's stock alerts for one store."""

    __tablename__ = "alert_subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "store_id"),
        CheckConstraint("mode IN ('immediate', 'digest', 'off')", name="mode"),
        CheckConstraint("mailed_through >= 0 AND read_through >= 0", name="cursors"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    mode: Mapped[str] = mapped_column(String(10))
    # The store's event sequence up to which crossings have been mailed / read.
    mailed_through: Mapped[int] = mapped_column(BigInteger, default=0)
    read_through: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
