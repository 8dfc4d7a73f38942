"""Webhooks: a store's endpoints, and each event's delivery to each of them.

An endpoint follows its store's outbox (app.models.events) by a cursor: the last event
sequence it has queued deliveries for. Queuing moves the cursor in the same transaction as
the deliveries it adds, so a worker that dies in between has queued nothing and the next
one queues the same events. A delivery is one event for one endpoint, tried until the
endpoint answers 2xx or about a day has passed; its id toward the receiver is the event's
own (`evt_<store>_<sequence>`), the same on every attempt, so a receiver can drop repeats.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db

# pending: to be tried (again); dead: given up after about a day of failures.
DELIVERY_STATUSES = ("pending", "succeeded", "dead")


class WebhookEndpoint(db.Model):
    """Where a store's events are sent, which ones, and the secret that signs them."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint("last_sequence >= 0", name="cursor"),
        Index("ix_webhook_endpoints_store", "store_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(200), default="")
    # The event types sent, as a JSON list; empty: every type.
    event_types: Mapped[str] = mapped_column(Text, default="[]")
    secret: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(default=True)
    # Since when every attempt has failed (None: the last one succeeded, or none was made).
    failing_since: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    last_sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(db.Model):
    """One event on its way to one endpoint, and how its last attempt went."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in DELIVERY_STATUSES) + ")",
            name="status",
        ),
        CheckConstraint("attempts >= 0", name="attempts"),
        # Each event once per endpoint: queuing twice cannot add a second delivery.
        Index("ux_webhook_deliveries_event", "endpoint_id", "sequence", unique=True),
        # What is due: pending, by when.
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        # The endpoint's log, newest first.
        Index("ix_webhook_deliveries_log", "endpoint_id", "id"),
        # An entry's earlier deliveries, which a later one waits for.
        Index("ix_webhook_deliveries_entry", "endpoint_id", "entry_id", "sequence"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"),
                                    primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id",
                                                        ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    sequence: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(40))
    # Deliveries of one entry's events go in order: a later one waits for an earlier one.
    entry_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    first_failed_at: Mapped[datetime | None]
    response_code: Mapped[int | None]
    duration_ms: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
