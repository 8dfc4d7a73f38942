"""The outbox: what happened to a store's stock and records, in the order it committed.

Every stock change writes its events in the same transaction as its ledger rows
(app.services.events), so there is no change without its event and no event without its
change. Each store numbers its events 1, 2, 3 … without a gap, in commit order: the number
is taken from `event_sequences` at the very end of the transaction, under that row's lock,
so a consumer that has read up to N and asks for what comes after N never misses one that
committed later with a smaller number.

Stock events point at their ledger row instead of copying it: the payload is built from
the row when the event is read (app.services.events.payloads).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db

STOCK_EVENT_TYPES = ("stock.changed", "stock.low", "stock.out", "stock.back_in_stock")
# The crossings people are alerted to (app.services.alerts), indexed on their own.
ALERT_EVENT_TYPES = ("stock.low", "stock.out")
_ALERTS_ONLY = "type IN ('stock.low', 'stock.out')"
EVENT_TYPES = (
    *STOCK_EVENT_TYPES,
    "reservation.expired",
    "purchase_order.ordered",
    "purchase_order.received",
    "purchase_order.cancelled",
)


class Event(db.Model):
    """One event of a store, numbered by `sequence` within it."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(
            "type IN (" + ", ".join(f"'{t}'" for t in EVENT_TYPES) + ")", name="type"
        ),
        CheckConstraint("sequence > 0", name="sequence_positive"),
        Index("ux_events_store_sequence", "store_id", "sequence", unique=True),
        Index("ix_events_movement", "movement_id"),
        Index("ix_events_alerts", "store_id", "sequence",
              sqlite_where=text(_ALERTS_ONLY), postgresql_where=text(_ALERTS_ONLY)),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"),
                                    primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    sequence: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    # For stock events: the entry and the ledger row (none for a crossing made by a change
    # of threshold), with the variant and the location, which outlive the entry.
    entry_id: Mapped[int | None]
    movement_id: Mapped[int | None]
    product_id: Mapped[int | None]
    location_id: Mapped[int | None]
    # What the event carries beyond its ledger row, as JSON.
    data: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventSequence(db.Model):
    """The last number a store gave an event."""

    __tablename__ = "event_sequences"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(BigInteger, default=0)


# The database refuses to rewrite what was sent, as it does for the ledger. The migration
# carries the same SQL.
EVENTS_GUARD_SQLITE = (
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events is append-only'); END",
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events is append-only'); END",
)
EVENTS_GUARD_POSTGRESQL = (
    "CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'events is append-only'; END $$",
    "CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE "
    "ON events FOR EACH ROW EXECUTE FUNCTION events_append_only()",
)

for _statement in EVENTS_GUARD_SQLITE:
    event.listen(Event.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in EVENTS_GUARD_POSTGRESQL:
    event.listen(Event.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
event.listen(
    Event.__table__,
    "before_drop",
    DDL("DROP FUNCTION IF EXISTS events_append_only() CASCADE").execute_if(dialect="postgresql"),
)
